package wire

import (
	"bytes"
	"fmt"
	"io"
)

// Protocol is the protocol string of the BEP 3 handshake, sent after its
// one-byte length (19).
const Protocol = "BitTorrent protocol"

// HandshakeLen is the size of a BEP 3 handshake: 1 + 19 bytes of protocol
// string, 8 reserved bytes, a 20-byte info hash and a 20-byte peer id.
const HandshakeLen = 68

// handshakeStartLen is the part of the handshake before the peer id.
const handshakeStartLen = HandshakeLen - 20

// Reserved-byte feature bits.
const (
	reservedExtended = 0x10 // BEP 10, reserved[5]
	reservedFast     = 0x04 // BEP 6, reserved[7]
	reservedDHT      = 0x01 // BEP 5, reserved[7]
)

// Handshake is the first thing each side of a peer connection sends (BEP 3).
type Handshake struct {
	// Reserved holds feature bits; see the Supports methods.
	Reserved [8]byte
	// InfoHash names the torrent the connection is for.
	InfoHash [20]byte
	// PeerID identifies the sending client.
	PeerID [20]byte
}

// DefaultReserved returns reserved bytes announcing the fast extension
// (BEP 6) and the extension protocol (BEP 10), which Shoal speaks.
func DefaultReserved() [8]byte {
	var r [8]byte
	r[5] |= reservedExtended
	r[7] |= reservedFast
	return r
}

// SupportsFast reports whether the sender speaks the fast extension (BEP 6).
func (h Handshake) SupportsFast() bool { return h.Reserved[7]&reservedFast != 0 }

// SupportsExtended reports whether the sender speaks the extension protocol
// (BEP 10).
func (h Handshake) SupportsExtended() bool { return h.Reserved[5]&reservedExtended != 0 }

// SupportsDHT reports whether the sender runs a DHT node (BEP 5) and will
// accept Port messages.
func (h Handshake) SupportsDHT() bool { return h.Reserved[7]&reservedDHT != 0 }

// AppendBinary appends the 68-byte encoding of h to b.
func (h Handshake) AppendBinary(b []byte) []byte {
	b = append(b, byte(len(Protocol)))
	b = append(b, Protocol...)
	b = append(b, h.Reserved[:]...)
	b = append(b, h.InfoHash[:]...)
	return append(b, h.PeerID[:]...)
}

// Marshal returns the 68-byte encoding of h.
func (h Handshake) Marshal() []byte {
	return h.AppendBinary(make([]byte, 0, HandshakeLen))
}

// ParseHandshake decodes a handshake from exactly HandshakeLen bytes.
func ParseHandshake(b []byte) (Handshake, error) {
	if len(b) != HandshakeLen {
		return Handshake{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadHandshake, len(b), HandshakeLen)
	}
	reserved, infoHash, err := parseHandshakeStart(b[:handshakeStartLen])
	if err != nil {
		return Handshake{}, err
	}
	h := Handshake{Reserved: reserved, InfoHash: infoHash}
	copy(h.PeerID[:], b[handshakeStartLen:])
	return h, nil
}

// ReadHandshake reads and decodes a whole handshake from r.
func ReadHandshake(r io.Reader) (Handshake, error) {
	var buf [HandshakeLen]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return Handshake{}, fmt.Errorf("read handshake: %w", err)
	}
	return ParseHandshake(buf[:])
}

// ReadHandshakeStart reads the first 48 bytes of a handshake (everything but
// the peer id) and checks the protocol string. A listener uses it to learn
// which torrent the caller wants before sending its own handshake; it then
// reads the rest with ReadPeerID.
func ReadHandshakeStart(r io.Reader) (reserved [8]byte, infoHash [20]byte, err error) {
	var buf [handshakeStartLen]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return reserved, infoHash, fmt.Errorf("read handshake: %w", err)
	}
	return parseHandshakeStart(buf[:])
}

// ReadPeerID reads the 20-byte peer id that ends a handshake, after
// ReadHandshakeStart.
func ReadPeerID(r io.Reader) ([20]byte, error) {
	var id [20]byte
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return id, fmt.Errorf("read handshake peer id: %w", err)
	}
	return id, nil
}

// parseHandshakeStart decodes the 48 bytes before the peer id.
func parseHandshakeStart(b []byte) (reserved [8]byte, infoHash [20]byte, err error) {
	if b[0] != byte(len(Protocol)) || !bytes.Equal(b[1:1+len(Protocol)], []byte(Protocol)) {
		return reserved, infoHash, fmt.Errorf("%w: protocol string %q", ErrBadHandshake, b[:1+len(Protocol)])
	}
	copy(reserved[:], b[20:28])
	copy(infoHash[:], b[28:48])
	return reserved, infoHash, nil
}
