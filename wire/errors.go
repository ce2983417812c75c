package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on. Errors returned by this package wrap
// one of these (test with errors.Is) and add context.
var (
	// ErrBadHandshake reports a handshake whose protocol string is not
	// "\x13BitTorrent protocol" or whose length is not 68 bytes.
	ErrBadHandshake = errors.New("wire: bad handshake")

	// ErrMessageTooLarge reports a length prefix (or payload) above the
	// allowed maximum; it is returned before anything is allocated for it.
	ErrMessageTooLarge = errors.New("wire: message too large")

	// ErrMalformed reports a message of a known type whose payload has the
	// wrong size or an out-of-range field (for example a Piece block larger
	// than BlockSize).
	ErrMalformed = errors.New("wire: malformed message")

	// ErrUnknownMessage reports a message type this package does not know.
	// The concrete error is an *UnknownMessageError carrying the id. A Reader
	// has consumed the whole message when it returns this error, so the
	// caller may ignore it and keep reading.
	ErrUnknownMessage = errors.New("wire: unknown message type")

	// ErrBadBitfield reports a bitfield of the wrong length for the torrent
	// or with spare bits set (BEP 3).
	ErrBadBitfield = errors.New("wire: bad bitfield")

	// ErrBadExtendedHandshake reports an extended handshake (BEP 10) that is
	// not a bencoded dictionary or is too large.
	ErrBadExtendedHandshake = errors.New("wire: bad extended handshake")
)

// UnknownMessageError is the error for a message id this package does not
// know. It matches ErrUnknownMessage with errors.Is.
type UnknownMessageError struct {
	// Type is the unknown message id as received.
	Type MessageType
}

// Error describes the unknown id.
func (e *UnknownMessageError) Error() string {
	return fmt.Sprintf("wire: unknown message type %d", uint8(e.Type))
}

// Is makes errors.Is(err, ErrUnknownMessage) true.
func (e *UnknownMessageError) Is(target error) bool {
	return target == ErrUnknownMessage
}
