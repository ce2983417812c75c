// Package metainfo reads, writes and creates BitTorrent metainfo (.torrent)
// files and magnet links: the static description of one torrent's content.
//
// It covers BEP 3 (the metainfo file and its info dictionary), BEP 12
// (announce-list tiers), BEP 27 (the private flag) and the magnet URI
// format of BEP 9. It computes v1 info hashes (SHA-1 of the bencoded info
// dictionary, kept byte-exact as received), the piece layout (piece
// count, sizes and hashes) and the mapping of the torrent's byte stream
// onto files with safe relative paths. Everything read from a file or the
// network is treated as untrusted: input sizes, nesting depth and string
// lengths are bounded and file paths that could escape the download
// directory are refused with ErrUnsafePath.
//
// It is not a storage layer (package storage reads and writes pieces), it
// does not speak to trackers or peers, and it does not support BitTorrent
// v2 (BEP 52) hashes: hybrid torrents are read through their v1 fields and
// v2-only torrents are refused.
package metainfo
