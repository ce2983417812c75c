// Package storage keeps the pieces of one torrent on disk.
//
// A torrent's content is one flat byte stream cut into fixed-size pieces
// (BEP 3); on disk that stream is laid out across one or more files in
// order. A Storage maps torrent-global offsets, pieces and blocks onto those
// files, reads and writes them with positioned I/O (pread/pwrite) so that
// many goroutines can move disjoint blocks at once, and re-hashes pieces with
// SHA-1 to check them, including a parallel whole-torrent Check used to
// resume a download.
//
// The package is deliberately dumb. It does not remember which pieces are
// verified, choose what to download, or parse .torrent files: the swarm core
// tracks piece state and the runtime fills in a Layout from the metainfo.
// Paths in a Layout are expected to be validated already; Open checks them
// again and refuses any that would leave the download directory.
package storage
