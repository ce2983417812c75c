package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// readBufferSize is the bufio buffer a Reader puts in front of its source so
// that runs of small messages cost one read call, not two each.
const readBufferSize = 4096

// keptBufferSize is the largest payload buffer a Reader keeps between calls:
// enough for a Piece message of one BlockSize block. Rarer, larger messages
// (big bitfields, extension messages) get a buffer of their own.
const keptBufferSize = lenPieceHead + BlockSize

// Reader reads length-prefixed messages from a stream, such as a peer
// connection after the handshake. It buffers its source, so it may read past
// the message it returns: once a Reader is made, read the stream only
// through it.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	src    *bufio.Reader
	maxLen uint32
	prefix [4]byte
	buf    []byte
}

// NewReader returns a Reader of r that refuses, with ErrMessageTooLarge and
// before allocating, any message whose length prefix exceeds maxLen. A maxLen
// of 0 or above MaxMessageLength means MaxMessageLength.
func NewReader(r io.Reader, maxLen uint32) *Reader {
	if maxLen == 0 || maxLen > MaxMessageLength {
		maxLen = MaxMessageLength
	}
	return &Reader{
		src:    bufio.NewReaderSize(r, readBufferSize),
		maxLen: maxLen,
		buf:    make([]byte, keptBufferSize),
	}
}

// ReadMessage reads and decodes the next message.
//
// The Block, Bitfield and ExtendedPayload of the returned Message alias the
// Reader's internal buffer: they are valid only until the next call to
// ReadMessage. Copy them to keep them. Reading Piece messages of up to
// BlockSize does not allocate.
//
// At a clean end of stream between messages it returns io.EOF; a stream that
// ends inside a message gives io.ErrUnexpectedEOF. After an
// ErrUnknownMessage or ErrMalformed error the whole message has been
// consumed, so the stream is still in step; after any other error it is not.
func (r *Reader) ReadMessage() (Message, error) {
	if _, err := io.ReadFull(r.src, r.prefix[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return Message{}, io.EOF
		}
		return Message{}, fmt.Errorf("read message length: %w", err)
	}
	n := binary.BigEndian.Uint32(r.prefix[:])
	if n > r.maxLen {
		return Message{}, fmt.Errorf("%w: length prefix %d exceeds %d", ErrMessageTooLarge, n, r.maxLen)
	}
	var payload []byte
	if int(n) <= cap(r.buf) {
		payload = r.buf[:n]
	} else {
		payload = make([]byte, n)
	}
	if _, err := io.ReadFull(r.src, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, fmt.Errorf("read %d-byte message: %w", n, err)
	}
	return ParseMessage(payload)
}
