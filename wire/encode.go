package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// MaxMessageLength is the default bound on a message's length prefix. A Piece
// message of one BlockSize block needs only BlockSize+9 bytes, but bitfields
// of large torrents and extension messages are bigger; like libtorrent we
// allow up to 1 MiB and drop anything longer.
const MaxMessageLength = 1 << 20

// Payload sizes (after the length prefix, including the type byte) of the
// fixed-size messages.
const (
	lenNoPayload = 1  // choke, unchoke, interested, not-interested, have-all, have-none
	lenIndex     = 5  // have, suggest, allowed-fast
	lenBlockSpec = 13 // request, cancel, reject
	lenPort      = 3  // port
	lenPieceHead = 9  // piece, before the block
	lenExtHead   = 2  // extended, before the payload
)

// AppendBinary appends the framed encoding of m (length prefix, type byte,
// payload) to b. Only the fields that belong to m.Type are encoded; Length is
// ignored for Piece. It fails for unknown types, for a Piece block larger
// than BlockSize and for a message longer than MaxMessageLength.
func (m Message) AppendBinary(b []byte) ([]byte, error) {
	if m.KeepAlive {
		return binary.BigEndian.AppendUint32(b, 0), nil
	}
	n, err := m.payloadLen()
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = append(b, byte(m.Type))
	switch m.Type {
	case Have, Suggest, AllowedFast:
		b = binary.BigEndian.AppendUint32(b, m.Index)
	case Request, Cancel, Reject:
		b = binary.BigEndian.AppendUint32(b, m.Index)
		b = binary.BigEndian.AppendUint32(b, m.Begin)
		b = binary.BigEndian.AppendUint32(b, m.Length)
	case Piece:
		b = binary.BigEndian.AppendUint32(b, m.Index)
		b = binary.BigEndian.AppendUint32(b, m.Begin)
		b = append(b, m.Block...)
	case Bitfield:
		b = append(b, m.Bitfield...)
	case Port:
		b = binary.BigEndian.AppendUint16(b, m.Port)
	case Extended:
		b = append(b, m.ExtendedID)
		b = append(b, m.ExtendedPayload...)
	}
	return b, nil
}

// Marshal returns the framed encoding of m; see AppendBinary.
func (m Message) Marshal() ([]byte, error) {
	return m.AppendBinary(nil)
}

// WriteMessage encodes m and writes it to w in one Write call.
func WriteMessage(w io.Writer, m Message) error {
	b, err := m.AppendBinary(nil)
	if err != nil {
		return fmt.Errorf("write %v message: %w", m.Type, err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write %v message: %w", m.Type, err)
	}
	return nil
}

// payloadLen is the length prefix m encodes to, after checking m's size.
func (m Message) payloadLen() (int, error) {
	var n int
	switch m.Type {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		n = lenNoPayload
	case Have, Suggest, AllowedFast:
		n = lenIndex
	case Request, Cancel, Reject:
		n = lenBlockSpec
	case Port:
		n = lenPort
	case Piece:
		if len(m.Block) > BlockSize {
			return 0, fmt.Errorf("%w: piece block of %d bytes exceeds %d", ErrMalformed, len(m.Block), BlockSize)
		}
		n = lenPieceHead + len(m.Block)
	case Bitfield:
		n = 1 + len(m.Bitfield)
	case Extended:
		n = lenExtHead + len(m.ExtendedPayload)
	default:
		return 0, &UnknownMessageError{Type: m.Type}
	}
	if n > MaxMessageLength {
		return 0, fmt.Errorf("%w: %v message of %d bytes exceeds %d", ErrMessageTooLarge, m.Type, n, MaxMessageLength)
	}
	return n, nil
}
