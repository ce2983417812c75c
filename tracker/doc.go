// Package tracker is Shoal's BitTorrent tracker server: it keeps the
// swarms of a fleet and tells each peer whom to talk to. The client that
// peers use to announce to any tracker is package trackerclient, which
// this package builds on for the protocol's types and BEP 15 packets.
//
// The [Server] speaks announce over HTTP (BEP 3, compact peers per BEP 23,
// the dictionary form for compact=0, IPv6 peers in "peers6" per BEP 7) and
// over UDP (BEP 15, with BEP 41 URL data), and scrape over both (BEP 48,
// BEP 15). It is built from small parts that can be swapped or tested
// alone: a [Store] keeps the peers of each swarm, forgets those that stop
// announcing and draws random samples of them in time proportional to the
// sample, not the swarm ([MemoryStore] in process, [RedisStore] shared by
// several trackers); a [Policy] picks the peers handed out from such a
// sample ([DefaultPolicy], a [SamplingPolicy] bounded by a
// [HandoutBudget]); [Keys] make it private
// with per-tenant announce keys; a [SourceLimiter] bounds each source
// address's request rate; [ConnIDs] issue stateless, unforgeable BEP 15
// connection IDs. Clocks and random sources are injected, so tests replay
// exactly. It exports Prometheus metrics at /metrics.
//
// The server also keeps release channels (see package channel): publish
// keys, a [ChannelStore] ([MemoryChannelStore], [RedisChannelStore]),
// long polls for the next release, host reports, and the fleet page at /.
//
// This package is not a DHT or PEX (peers found that way never pass
// through here), and it does not resolve host names found in peer lists.
package tracker
