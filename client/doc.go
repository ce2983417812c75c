// Package client is Shoal's network runtime: the thin shell around the pure
// swarm core.
//
// A Client owns one TCP listener, the global rate limits and a set of
// torrents. Each Torrent runs one loop goroutine that is the only code
// touching its swarm.Swarm: connection goroutines feed it events (messages,
// connects, disconnects), and it carries out the actions the core returns
// (send a message, read a block from storage and send it, write a received
// block, hash a piece, disconnect or ban a peer). Every connection has one
// reader and one writer goroutine. Bytes move between sockets and storage
// without passing through the core.
//
// It also finds peers without a tracker: a DHT node shared by the torrents
// (package dht, BEP 5), peer exchange over ut_pex (BEP 11), and magnet
// links whose info dictionary it fetches from peers with ut_metadata and
// verifies against the info hash (BEP 9, Client.AddMagnet); it serves the
// info dictionary to others in turn. Private torrents (BEP 27) use neither
// the DHT nor PEX.
//
// The package does not decide anything about pieces, requests or choking;
// that is package swarm. It does decide which addresses to dial, enforces
// resource bounds (peers per torrent, half-open dials, message sizes) and
// applies upload and download limits with golang.org/x/time/rate.
package client
