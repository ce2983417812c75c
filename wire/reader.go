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
const readBufferSize = 64 << 10

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

// Buffered reports whether the next message is already wholly in the
// Reader's buffer, so that reading it makes no call to the source. A
// caller that handles runs of messages in batches reads while this holds,
// and hands the batch on when it no longer does (the next read may block).
func (r *Reader) Buffered() bool {
	n := r.src.Buffered()
	if n < len(r.prefix) {
		return false
	}
	p, err := r.src.Peek(len(r.prefix))
	if err != nil {
		return false
	}
	return uint64(n) >= uint64(len(r.prefix))+uint64(binary.BigEndian.Uint32(p))
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
	return r.ReadMessageInto(nil)
}

// ReadMessageInto is ReadMessage, except that the block of a Piece message
// that fits in block is read from the stream straight into block, and the
// returned Block aliases it, so a caller that keeps blocks needs no copy.
// Other messages, and a Piece whose block is longer than block (ParseMessage
// then refuses one above BlockSize), alias the Reader's buffer as with
// ReadMessage and leave block untouched.
func (r *Reader) ReadMessageInto(block []byte) (Message, error) {
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
	if n > lenPieceHead && int(n-lenPieceHead) <= len(block) {
		if t, err := r.src.Peek(1); err == nil && MessageType(t[0]) == Piece {
			return r.readPieceInto(block[:n-lenPieceHead])
		}
	}
	var payload []byte
	if int(n) <= cap(r.buf) {
		payload = r.buf[:n]
	} else {
		payload = make([]byte, n)
	}
	if _, err := io.ReadFull(r.src, payload); err != nil {
		return Message{}, unexpectedEOF(n, err)
	}
	return ParseMessage(payload)
}

// readPieceInto reads a Piece message's head into the Reader's buffer and
// its block into block.
func (r *Reader) readPieceInto(block []byte) (Message, error) {
	n := uint32(lenPieceHead + len(block))
	head := r.buf[:lenPieceHead]
	if _, err := io.ReadFull(r.src, head); err != nil {
		return Message{}, unexpectedEOF(n, err)
	}
	if _, err := io.ReadFull(r.src, block); err != nil {
		return Message{}, unexpectedEOF(n, err)
	}
	return Message{
		Type:   Piece,
		Index:  binary.BigEndian.Uint32(head[1:]),
		Begin:  binary.BigEndian.Uint32(head[5:]),
		Length: uint32(len(block)),
		Block:  block,
	}, nil
}

// unexpectedEOF wraps a read error inside an n-byte message; the stream
// ending there is io.ErrUnexpectedEOF.
func unexpectedEOF(n uint32, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d-byte message: %w", n, err)
}
