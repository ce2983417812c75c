// Package wire encodes and decodes the BitTorrent peer wire protocol: the
// BEP 3 handshake and length-prefixed messages, the BEP 6 fast extension
// (including allowed-fast set generation), the BEP 10 extension protocol
// handshake, and BEP 3 bitfields.
//
// Everything here is a value with an Append/Parse pair and no I/O, plus a
// thin Reader and WriteMessage for framing messages on a stream. The package
// does not dial, listen, time out, rate-limit or decide anything: it never
// judges whether a message is welcome at this point of a conversation (that
// is the swarm core's job), only whether its bytes are well formed and within
// the size bounds every parser here enforces before allocating.
package wire
