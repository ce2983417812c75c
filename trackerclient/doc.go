// Package trackerclient is the client side of the BitTorrent tracker
// protocols: what a peer uses to announce itself to a tracker and learn
// of other peers, and to scrape a tracker's counts. [Announce] and
// [Scrape] speak http and https URLs (BEP 3, compact peers per BEP 23,
// IPv6 peers per BEP 7, scrape per BEP 48) and udp URLs (BEP 15, with the
// URL's path and query sent as BEP 41 URL data, so private trackers' keys
// reach them). Replies are size-bounded and parsed strictly; a tracker's
// refusal is a [FailureError].
//
// The BEP 15 packet formats are values here, both directions, so the
// tracker server in package tracker reads exactly what this client
// writes.
//
// This package is not the tracker server: it holds no swarms and links
// none of the server's stores, Redis or Prometheus, so a program that only
// announces stays small. It does not resolve host names found in peer
// lists.
package trackerclient
