// Package dht is a Kademlia distributed hash table node compatible with the
// mainline BitTorrent DHT (BEP 5). It finds peers for an info hash without a
// tracker and stores the peers other nodes announce to it.
//
// The package is split into a pure core and a thin shell. The core types
// (ID, RoutingTable, TokenManager, PeerStore, Lookup and the KRPC codec
// ParseMessage/Msg.Marshal) take the current time as a parameter, draw
// randomness from an injected source, and never touch sockets, so tests drive
// them message by message. The shell, Node, owns one Transport (a UDP socket
// in production, an in-memory network in tests), a Clock, and the goroutines
// that read packets, time out queries and refresh stale buckets.
//
// Everything a remote node can make us hold is bounded: outstanding queries,
// routing table entries, stored peers, lookup candidates, packet size and the
// query rate of each source address. Read-only nodes (BEP 43) are answered but
// never added to the routing table.
//
// This package is not a BitTorrent client: it only speaks KRPC over UDP. It
// does not implement IPv6 (BEP 32), node ID restrictions (BEP 42), or stored
// arbitrary data (BEP 44); IPv6 contacts are ignored.
package dht
