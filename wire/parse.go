package wire

import (
	"encoding/binary"
	"fmt"
)

// ParseMessage decodes one message from payload, the bytes after the 4-byte
// length prefix. An empty payload is a keep-alive; a payload longer than
// MaxMessageLength is refused with ErrMessageTooLarge. The size of every
// fixed-size message is checked exactly, and a Piece block may not exceed
// BlockSize (ErrMalformed). An unknown type gives an *UnknownMessageError
// (matching ErrUnknownMessage) that a caller may choose to ignore.
//
// The Block, Bitfield and ExtendedPayload of the result alias payload; they
// are not copied.
func ParseMessage(payload []byte) (Message, error) {
	if len(payload) == 0 {
		return Message{KeepAlive: true}, nil
	}
	if len(payload) > MaxMessageLength {
		return Message{}, fmt.Errorf("%w: %d bytes exceeds %d", ErrMessageTooLarge, len(payload), MaxMessageLength)
	}
	m := Message{Type: MessageType(payload[0])}
	body := payload[1:]
	switch m.Type {
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		if err := wantLen(m.Type, payload, lenNoPayload); err != nil {
			return Message{}, err
		}
	case Have, Suggest, AllowedFast:
		if err := wantLen(m.Type, payload, lenIndex); err != nil {
			return Message{}, err
		}
		m.Index = binary.BigEndian.Uint32(body)
	case Request, Cancel, Reject:
		if err := wantLen(m.Type, payload, lenBlockSpec); err != nil {
			return Message{}, err
		}
		m.Index = binary.BigEndian.Uint32(body)
		m.Begin = binary.BigEndian.Uint32(body[4:])
		m.Length = binary.BigEndian.Uint32(body[8:])
	case Piece:
		if len(payload) < lenPieceHead {
			return Message{}, fmt.Errorf("%w: piece message of %d bytes, want at least %d", ErrMalformed, len(payload), lenPieceHead)
		}
		m.Index = binary.BigEndian.Uint32(body)
		m.Begin = binary.BigEndian.Uint32(body[4:])
		m.Block = body[8:]
		if len(m.Block) > BlockSize {
			return Message{}, fmt.Errorf("%w: piece block of %d bytes exceeds %d", ErrMalformed, len(m.Block), BlockSize)
		}
		m.Length = uint32(len(m.Block))
	case Bitfield:
		m.Bitfield = body
	case Port:
		if err := wantLen(m.Type, payload, lenPort); err != nil {
			return Message{}, err
		}
		m.Port = binary.BigEndian.Uint16(body)
	case Extended:
		if len(payload) < lenExtHead {
			return Message{}, fmt.Errorf("%w: extended message without an extended id", ErrMalformed)
		}
		m.ExtendedID = body[0]
		m.ExtendedPayload = body[1:]
	default:
		return Message{}, &UnknownMessageError{Type: m.Type}
	}
	return m, nil
}

// wantLen checks the exact payload size of a fixed-size message.
func wantLen(t MessageType, payload []byte, n int) error {
	if len(payload) != n {
		return fmt.Errorf("%w: %v message of %d bytes, want %d", ErrMalformed, t, len(payload), n)
	}
	return nil
}
