// Package sim is a discrete-event simulator of one Shoal distribution: an
// origin and N receivers with modelled upload and download links and a
// fixed one-way latency, each running the two pure machines of the real
// client: the scheduling core of package swarm and the peer manager of
// package peers (whom to dial and when, bounds of 80 connections and 16
// dials in flight, duplicates, bans, eviction, announce timing), fed by a
// tracker handout from the same tracker.Policy the tracker uses.
//
// The simulator models the network, not the logic: every decision (which
// block to request from whom, whom to unchoke, initial seeding, endgame,
// which peer to dial, which connection to keep) is taken by swarm.Swarm and
// peers.Manager from real wire messages and handshakes, driven through
// Ready and Advance exactly as package client drives them, so a simulated
// host and a real one differ only in the transport. What is modelled: each host's upload link sends whole blocks one
// at a time, round-robin over its connections with queued blocks; a block
// then takes the latency to reach the receiver, whose download link is a
// FIFO server at its download rate (so the receiver caps the sum of its
// inflows); control messages cost no bandwidth and take the latency, but
// wait behind the blocks queued before them on the same connection, as on
// a TCP stream. Disks and hashing are instant. Connections take two round
// trips to open (TCP and the BitTorrent handshake).
//
// To make N = 10,000 affordable the simulator may coarsen blocks: it then
// runs the core on a torrent whose bytes and link rates are divided by a
// power of two k, so that every time (piece transfer times, latencies,
// ticks, timeouts) is the same as in the real torrent but each modelled
// 16 KiB block stands for k real ones. See Config.BlocksPerPiece.
//
// The package is not a network emulator and reads no clock: for a given
// Config (including Seed) a run is deterministic. It does not measure its
// own wall time or memory; the caller does.
package sim
