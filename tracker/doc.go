// Package tracker is Shoal's BitTorrent tracker: an HTTP announce server
// that keeps swarms of peers and hands them out, and the HTTP client that
// peers use to announce to any tracker.
//
// The server speaks the HTTP announce of BEP 3 with compact peer lists
// (BEP 23) and IPv6 peers in "peers6" (BEP 7). It is built from small
// parts that can be swapped: a [Store] keeps the peers of each swarm and
// drops those that stop re-announcing ([MemoryStore] is the default), and a
// [Policy] decides which peers to hand out ([DefaultPolicy] serves seeders
// first to peers that have nothing yet, and a random sample otherwise). The
// clock and the random source are injected so tests and simulations replay
// exactly.
//
// The client, [Announce], sends one announce over HTTP(S) and decodes the
// reply in either the compact or the dictionary peer form.
//
// This package is not, yet: a UDP tracker (BEP 15), a scrape endpoint, a
// replicated store, or a metrics exporter; the seams above are where those
// will plug in. It does not resolve host names found in peer lists, and it
// does not authenticate announces.
package tracker
