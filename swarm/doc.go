// Package swarm is the pure scheduling core of one torrent: it decides which
// blocks to request from which peer, whom to unchoke, which requests to serve,
// when a piece is complete and whom to blame when a piece fails its hash.
//
// The core is a value that is stepped by events and answers with actions, in
// the style of etcd's raft package. Events are method calls that carry the
// current time explicitly: AddPeer, RemovePeer, Receive (a decoded wire
// message), BlockWritten, PieceVerified, BlockSent and Tick. Each event may
// queue actions (send a message, read a block from disk and send it, write a
// received block, hash a piece, disconnect or ban a peer, report completion),
// which the caller drains with Actions after every event and performs in order.
//
// The package is not a network client: it opens no sockets, starts no
// goroutines, reads no clock and touches no disk. Block payloads never flow
// through it; it only names blocks by BlockSpec and the runtime moves the
// bytes. Randomness comes from a private source seeded by Config.Seed, so the
// same configuration and the same events always give the same actions. That
// is what lets the scripted tests in testdata/, the runtime in package client
// and the simulator drive the very same logic.
//
// A Swarm is not safe for concurrent use: one owner (the per-torrent loop of
// the runtime, or a simulator) steps it.
package swarm
