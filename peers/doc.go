// Package peers is the pure peer manager of one torrent: which addresses
// to dial and when, which connections to keep, whom to ban, when to ask
// trackers, the DHT and peers (PEX, BEP 11) for more addresses, and whom to
// ask for a magnet's info dictionary (BEP 9). It sits beside package swarm:
// swarm schedules pieces over the connections this package admits.
//
// Like swarm it is a value stepped by events that answers with actions, in
// the style of etcd's raft package. Events are method calls carrying the
// current time: candidates learnt from a tracker, the DHT, PEX or the user
// (AddCandidates, AnnounceDone, PEXReceived), dial results (DialFailed),
// handshakes (Connected, Extended), closes (Closed), bans (Ban, BanKeys),
// the core's per-connection usefulness (Facts), the results of announces
// and lookups, and Tick. Actions tell the runtime to dial an address,
// accept or close a connection, record a ban, announce to a tracker, look
// up or announce on the DHT, send a PEX message or ask a peer for the
// metadata. The runtime takes them in batches with Ready, performs them,
// calls Advance, and reports what came of them only as later events.
//
// The rules it owns, each covered by a script in testdata/:
//   - Candidate choice: due candidates are dialled in classes, peers the
//     user named and peers that once moved data first, then tracker and DHT
//     peers, then peers learnt only by PEX; within a class fewest failures
//     first, then in the order learnt (a tracker hands a newcomer seeders
//     first), except that PEX-only peers, whose lists come sorted by
//     address, go in a random order drawn from a seeded source, so the
//     peers one source told do not all dial the same addresses first.
//   - Redial: after a failed dial 1 s, doubling to a minute; after a close
//     1 s if the connection lasted, else as after a failure (a peer that
//     accepts and drops us at once backs off); a complete torrent does not
//     retry addresses that failed.
//   - Bounds: at most MaxPeers connections (dials in flight included) and
//     MaxHalfOpen dials in flight; at most MaxCandidates remembered
//     addresses.
//   - Duplicates: of two connections with the same peer id, both ends keep
//     the one opened by the peer with the lower id; of two opened the same
//     way, the newer (the side that opened both gave up the older).
//   - Self-connections: a handshake with our own peer id is closed without
//     a ban, and its address is never dialled again.
//   - Bans: by peer id, dialled and listen address, and IP off loopback and
//     private networks; a banned address is never dialled and a banned
//     peer's handshake is refused. Bans last for good or until a time.
//   - Eviction: a newcomer at MaxPeers takes the slot of the least useful
//     connection idle for at least EvictIdle (no pieces we need first, then
//     never unchoked us, then not interested in ours, then idle longest), so
//     idle peers cannot lock an origin out of peers that need pieces.
//   - Far peers (with Config.Zone): a connection whose BEP 10 handshake
//     names another zone is far. While downloading, at most MaxFar (4)
//     far connections that are not seeds are kept: one more closes the
//     least useful far one (no pieces we need first, then never unchoked
//     us, then not interested in ours, then the newest), and addresses
//     known to be far are not dialled while the far slots are full. A
//     seed keeps every connection; without a zone nothing is far.
//   - PEX crowding: addresses learnt only from PEX hold at most a quarter of
//     the candidate table and 100 per source, are dialled last, hold at most
//     half of the dials in flight, and dials to the addresses one source
//     taught us are rate-limited (a token bucket per source).
//   - Announce timing: "started" at once; then every interval, or every min
//     interval while starved (fewer than StarvedPeers connections and not
//     complete, or fetching metadata); "completed" at once on completion;
//     after a failure retries back off from 2 s to 15 s while starved (a
//     getter whose tracker is down keeps trying until its caller gives up)
//     and to a minute otherwise.
//   - DHT timing: lookups every 5 s while starved, every 2 minutes
//     otherwise, every 2 s while fetching metadata (1 s until a peer is
//     found); announces at start and every 5 s early on, then at doubling
//     intervals up to 15 minutes.
//   - PEX timing: to each peer that speaks ut_pex, at most one message per
//     PEXInterval (the first at once) with at most 50 added and 50 dropped;
//     incoming PEX faster than every PEXInterval/2 is ignored.
//   - Metadata: during a magnet's metadata phase every connected peer that
//     offers ut_metadata is asked, at most 8 at a time; a peer whose copy
//     fails is closed and asked again later, at most 5 times.
//
// The package is not a network client: it opens no sockets, starts no
// goroutines and reads no clock. A Manager is not safe for concurrent use:
// one owner (the runtime's per-torrent loop, or the simulator) steps it.
package peers
