// Package wire encodes and decodes the BitTorrent peer wire protocol: the
// BEP 3 handshake, length-prefixed messages and bitfields, the BEP 6 fast
// extension (including allowed-fast set generation), the BEP 10 extension
// protocol handshake, the BEP 9 ut_metadata messages (metadata exchange for
// magnet links), the BEP 11 ut_pex messages (peer exchange), and the
// compact peer encodings of BEP 23 (IPv4) and BEP 7 (IPv6) that trackers,
// PEX and the DHT share.
//
// Everything here is a value with an Append/Parse (or Marshal/Parse) pair
// and no I/O, plus a thin Reader and WriteMessage for framing messages on a
// stream. The package does not dial, listen, time out, rate-limit or decide
// anything: it never judges whether a message is welcome at this point of a
// conversation (that is the swarm core's and the peer manager's job), only
// whether its bytes are well formed and within the size bounds every parser
// here enforces before allocating.
package wire
