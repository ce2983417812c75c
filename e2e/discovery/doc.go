// Package discovery holds the end-to-end tests of decentralized peer
// discovery: swarms of real shoal processes on loopback that find each
// other through the DHT (BEP 5), peer exchange (BEP 11) and magnet links
// with metadata exchange (BEP 9), with no tracker or with one that dies,
// and interop with libtorrent's DHT. It has no non-test code.
package discovery
