package wire

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/anacrolix/torrent/bencode"
)

// MetadataPieceSize is the size of every metadata piece but the last
// (BEP 9): the info dictionary is exchanged in 16 KiB pieces.
const MetadataPieceSize = 16 * 1024

// MaxMetadataSize bounds the info dictionary size this package accepts in a
// ut_metadata data message (and callers should accept in a BEP 10
// "metadata_size"). 16 MiB covers info dictionaries of torrents far larger
// than any Shoal distributes, at 1024 pieces.
const MaxMetadataSize = 16 << 20

// maxMetadataDictLen bounds the bencoded dictionary that starts every
// ut_metadata message. The three keys need under 60 bytes; the slack is for
// unknown keys some clients add.
const maxMetadataDictLen = 1024

// maxMetadataDepth bounds nesting in the dictionary: the known keys need one
// level, the rest tolerates small unknown values.
const maxMetadataDepth = 4

// ErrBadMetadataMessage reports a ut_metadata message (BEP 9) that is not a
// bencoded dictionary (plus data), lacks a required key, or has a value out
// of range.
var ErrBadMetadataMessage = errors.New("wire: bad ut_metadata message")

// MetadataMsgType is the "msg_type" of a ut_metadata message (BEP 9).
type MetadataMsgType int

// The ut_metadata message types of BEP 9.
const (
	// MetadataRequest asks for one piece of the info dictionary.
	MetadataRequest MetadataMsgType = 0
	// MetadataData carries one piece of the info dictionary.
	MetadataData MetadataMsgType = 1
	// MetadataReject refuses a request for a piece.
	MetadataReject MetadataMsgType = 2
)

// String names the message type.
func (t MetadataMsgType) String() string {
	switch t {
	case MetadataRequest:
		return "request"
	case MetadataData:
		return "data"
	case MetadataReject:
		return "reject"
	}
	return fmt.Sprintf("MetadataMsgType(%d)", int(t))
}

// MetadataMessage is the payload of a ut_metadata extended message (BEP 9):
// a bencoded dictionary, followed for a data message by the piece bytes.
type MetadataMessage struct {
	// Type is the message type ("msg_type").
	Type MetadataMsgType
	// Piece is the zero-based index of the metadata piece ("piece").
	Piece int
	// TotalSize is the size of the whole info dictionary ("total_size");
	// only for MetadataData, zero otherwise.
	TotalSize int
	// Data is the piece itself, the bytes after the dictionary; only for
	// MetadataData. It is exactly MetadataPieceSize bytes long except in the
	// last piece, which holds the remainder.
	Data []byte
}

// MetadataPieces returns how many pieces an info dictionary of totalSize
// bytes is split into (BEP 9), 0 if totalSize is not positive.
func MetadataPieces(totalSize int) int {
	if totalSize <= 0 {
		return 0
	}
	return (totalSize + MetadataPieceSize - 1) / MetadataPieceSize
}

// metadataPieceLen returns the length piece must have in an info dictionary
// of totalSize bytes; piece must be below MetadataPieces(totalSize).
func metadataPieceLen(piece, totalSize int) int {
	if piece == MetadataPieces(totalSize)-1 {
		return totalSize - piece*MetadataPieceSize
	}
	return MetadataPieceSize
}

// Marshal returns the payload of a ut_metadata extended message (without the
// extended message id byte): the dictionary, then Data for a data message.
// It fails on values ParseMetadataMessage would reject.
func (m MetadataMessage) Marshal() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("marshal ut_metadata: %w", err)
	}
	d := map[string]int64{"msg_type": int64(m.Type), "piece": int64(m.Piece)}
	if m.Type == MetadataData {
		d["total_size"] = int64(m.TotalSize)
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("marshal ut_metadata: %w", err)
	}
	if m.Type == MetadataData {
		b = append(b, m.Data...)
	}
	return b, nil
}

// validate checks the fields against BEP 9 and this package's bounds.
func (m MetadataMessage) validate() error {
	maxPieces := MetadataPieces(MaxMetadataSize)
	if m.Piece < 0 || m.Piece >= maxPieces {
		return fmt.Errorf("%w: piece %d outside 0-%d", ErrBadMetadataMessage, m.Piece, maxPieces-1)
	}
	switch m.Type {
	case MetadataRequest, MetadataReject:
		if m.TotalSize != 0 || len(m.Data) != 0 {
			return fmt.Errorf("%w: %v message with total size or data", ErrBadMetadataMessage, m.Type)
		}
		return nil
	case MetadataData:
		if m.TotalSize <= 0 || m.TotalSize > MaxMetadataSize {
			return fmt.Errorf("%w: total size %d outside 1-%d", ErrBadMetadataMessage, m.TotalSize, MaxMetadataSize)
		}
		if n := MetadataPieces(m.TotalSize); m.Piece >= n {
			return fmt.Errorf("%w: piece %d beyond the %d pieces of %d bytes", ErrBadMetadataMessage, m.Piece, n, m.TotalSize)
		}
		if want := metadataPieceLen(m.Piece, m.TotalSize); len(m.Data) != want {
			return fmt.Errorf("%w: piece %d has %d bytes, want %d", ErrBadMetadataMessage, m.Piece, len(m.Data), want)
		}
		return nil
	}
	return fmt.Errorf("%w: ut_metadata msg_type %d", ErrUnknownMessage, int(m.Type))
}

// ParseMetadataMessage decodes the payload of a ut_metadata extended message
// (without the extended message id byte). The dictionary must hold integer
// "msg_type" and "piece" keys, and "total_size" for a data message; unknown
// keys are ignored. A data message's trailing bytes become Data, which must
// have the length BEP 9 gives that piece; other types must have no trailing
// bytes. Errors wrap ErrBadMetadataMessage, except an unknown msg_type, which
// wraps ErrUnknownMessage (BEP 9 says to ignore it). Data aliases b.
func ParseMetadataMessage(b []byte) (MetadataMessage, error) {
	if len(b) > maxMetadataDictLen+MetadataPieceSize {
		return MetadataMessage{}, fmt.Errorf("%w: %w: %d bytes", ErrBadMetadataMessage, ErrMessageTooLarge, len(b))
	}
	dec := bencode.NewDecoder(bytes.NewReader(b))
	dec.MaxStrLen = maxMetadataDictLen
	dec.MaxDepth = maxMetadataDepth
	// Non-nil, so that an empty dictionary decodes to an empty map; any
	// other bencode value fails to decode into it.
	d := map[string]any{}
	if err := dec.Decode(&d); err != nil {
		return MetadataMessage{}, fmt.Errorf("%w: %w", ErrBadMetadataMessage, err)
	}
	dictLen := int(dec.Offset)
	if dictLen > maxMetadataDictLen {
		return MetadataMessage{}, fmt.Errorf("%w: dictionary of %d bytes exceeds %d", ErrBadMetadataMessage, dictLen, maxMetadataDictLen)
	}
	t, ok := intIn(d["msg_type"], 0, 1<<31-1)
	if !ok {
		return MetadataMessage{}, fmt.Errorf("%w: missing or invalid msg_type", ErrBadMetadataMessage)
	}
	piece, ok := intIn(d["piece"], 0, 1<<31-1)
	if !ok {
		return MetadataMessage{}, fmt.Errorf("%w: missing or invalid piece", ErrBadMetadataMessage)
	}
	m := MetadataMessage{Type: MetadataMsgType(t), Piece: piece}
	rest := b[dictLen:]
	switch m.Type {
	case MetadataData:
		size, ok := intIn(d["total_size"], 0, 1<<31-1)
		if !ok {
			return MetadataMessage{}, fmt.Errorf("%w: missing or invalid total_size", ErrBadMetadataMessage)
		}
		m.TotalSize = size
		m.Data = rest
	case MetadataRequest, MetadataReject:
		if len(rest) != 0 {
			return MetadataMessage{}, fmt.Errorf("%w: %d bytes after %v dictionary", ErrBadMetadataMessage, len(rest), m.Type)
		}
	}
	if err := m.validate(); err != nil {
		return MetadataMessage{}, err
	}
	return m, nil
}
