package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// Bounds of one connection's send queue, in wire bytes. A peer that stops
// reading fills the socket buffers first; after that every message we owe
// it waits here, so a peer that keeps sending requests (each answered with
// a Reject, BEP 6) or metadata requests could grow this queue without
// limit. Reaching a bound disconnects the peer.
const (
	// maxQueuedMessageBytes bounds the encoded protocol messages waiting
	// for the writer. Messages are held encoded, so this is also their
	// memory. An honest peer owes us little besides a Have per piece we
	// complete, plus one bitfield or extension message of at most
	// wire.MaxMessageLength.
	maxQueuedMessageBytes = 2 << 20
	// maxQueuedBytes bounds messages and block sends together, each block
	// counted at its wire size (a Piece message). A queued block holds no
	// data until the writer reads it, and the core hands out at most
	// DefaultMaxQueuedUploads blocks per peer, so this leaves room for a
	// full upload queue behind a full message queue.
	maxQueuedBytes = maxQueuedMessageBytes + swarm.DefaultMaxQueuedUploads*(pieceHeaderLen+wire.BlockSize)
	// keptQueueCapacity is the largest message buffer an emptied queue
	// keeps for reuse; a larger one (after a burst) is released.
	keptQueueCapacity = 256 << 10
)

// pieceHeaderLen is the size of a Piece message before its block: length
// prefix, type, index and begin.
const pieceHeaderLen = 13

// errSendQueueFull is returned by sendQueue pushes beyond a bound.
var errSendQueueFull = errors.New("send queue full")

// sendQueue is what one connection's writer still has to send, in order:
// protocol messages, encoded as they are queued, and block sends, read from
// storage only when their turn comes. It is not safe for concurrent use
// (peerConn guards it with its mutex).
//
// Invariants: msgs[mhead:] are the messages not yet taken; blocks[bhead:]
// are the blocks not yet taken, in order, each sent after msgs[:at]; the
// byte counts are the wire sizes of what is not yet taken.
type sendQueue struct {
	msgs       []byte
	mhead      int
	blocks     []queuedBlock
	bhead      int
	msgBytes   int
	blockBytes int
}

// queuedBlock is a block send waiting in a sendQueue, or, when shared is
// set, the payload of a message whose header was encoded into msgs: bytes
// shared by many queues (a ut_metadata reply, metadataServer) that are
// written as they are, never copied.
type queuedBlock struct {
	spec   swarm.BlockSpec
	at     int // offset in msgs: the messages before this entry end here
	shared []byte
	// sent, if set, is decremented once the entry is written or dropped
	// with the queue (the owner's count of such entries).
	sent *atomic.Int32
}

// wireSize is what the entry counts against the queue's bounds: a block's
// Piece message; nothing for a shared payload, which is a reference (its
// owner bounds how many it queues).
func (b queuedBlock) wireSize() int {
	if b.shared != nil {
		return 0
	}
	return pieceHeaderLen + int(b.spec.Length)
}

// done reports the entry written (or abandoned) to its owner's count.
func (b queuedBlock) done() {
	if b.sent != nil {
		b.sent.Add(-1)
	}
}

// pushMessage encodes m at the end of the queue.
func (q *sendQueue) pushMessage(m wire.Message) error {
	before := len(q.msgs)
	var err error
	q.msgs, err = m.AppendBinary(q.msgs)
	if err != nil {
		q.msgs = q.msgs[:before]
		return fmt.Errorf("encode %v message: %w", m.Type, err)
	}
	n := len(q.msgs) - before
	if q.msgBytes+n > maxQueuedMessageBytes || q.msgBytes+q.blockBytes+n > maxQueuedBytes {
		q.msgs = q.msgs[:before]
		return q.fullError(n)
	}
	q.msgBytes += n
	return nil
}

// pushShared queues an extended message (BEP 10) with extended id id whose
// payload is shared and immutable: only its 6-byte header is encoded, the
// payload is written from where it lies. sent, if set, is decremented once
// it was written or the queue released.
func (q *sendQueue) pushShared(id uint8, payload []byte, sent *atomic.Int32) error {
	var hdr [6]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(2+len(payload)))
	hdr[4], hdr[5] = byte(wire.Extended), id
	if q.msgBytes+len(hdr) > maxQueuedMessageBytes || q.msgBytes+q.blockBytes+len(hdr) > maxQueuedBytes {
		return q.fullError(len(hdr))
	}
	q.msgs = append(q.msgs, hdr[:]...)
	q.msgBytes += len(hdr)
	q.blocks = append(q.blocks, queuedBlock{at: len(q.msgs), shared: payload, sent: sent})
	return nil
}

// pushBlock queues a block send at the end of the queue.
func (q *sendQueue) pushBlock(spec swarm.BlockSpec) error {
	b := queuedBlock{spec: spec, at: len(q.msgs)}
	if q.msgBytes+q.blockBytes+b.wireSize() > maxQueuedBytes {
		return q.fullError(b.wireSize())
	}
	q.blocks = append(q.blocks, b)
	q.blockBytes += b.wireSize()
	return nil
}

// fullError describes an overflow by n more bytes.
func (q *sendQueue) fullError(n int) error {
	return fmt.Errorf("%w: %d bytes of messages and %d of blocks queued, %d more would pass the bound (%d and %d)",
		errSendQueueFull, q.msgBytes, q.blockBytes, n, maxQueuedMessageBytes, maxQueuedBytes)
}

// drop removes a block send not yet taken; it reports whether it was there.
func (q *sendQueue) drop(spec swarm.BlockSpec) bool {
	for i := q.bhead; i < len(q.blocks); i++ {
		if q.blocks[i].shared == nil && q.blocks[i].spec == spec {
			q.blockBytes -= q.blocks[i].wireSize()
			q.blocks = append(q.blocks[:i], q.blocks[i+1:]...)
			return true
		}
	}
	return false
}

// empty reports whether nothing is left to take.
func (q *sendQueue) empty() bool { return q.mhead == len(q.msgs) && q.bhead == len(q.blocks) }

// take hands the writer the next stretch of the queue: the messages up to
// the next block send, then up to maxBlocks block sends that follow with no
// message between them, appended to blocks. The returned msgs alias the
// queue's buffer and stay valid until the next call to take.
func (q *sendQueue) take(maxBlocks int, blocks []queuedBlock) (msgs []byte, _ []queuedBlock) {
	q.compact()
	end := len(q.msgs)
	if q.bhead < len(q.blocks) {
		end = q.blocks[q.bhead].at
	}
	msgs = q.msgs[q.mhead:end]
	q.mhead = end
	q.msgBytes -= len(msgs)
	for n := 0; n < maxBlocks && q.bhead < len(q.blocks) && q.blocks[q.bhead].at == end; n++ {
		b := q.blocks[q.bhead]
		blocks = append(blocks, b)
		q.blockBytes -= b.wireSize()
		q.bhead++
	}
	return msgs, blocks
}

// compact reclaims the space of what was taken. It runs at the start of
// take, when the writer no longer uses the bytes take returned before; it
// moves at most as many bytes as it frees, so its cost is amortised.
func (q *sendQueue) compact() {
	if q.empty() {
		if cap(q.msgs) > keptQueueCapacity {
			q.msgs = nil
		}
		q.msgs, q.mhead = q.msgs[:0], 0
		q.blocks, q.bhead = q.blocks[:0], 0
		return
	}
	if q.mhead > 0 && len(q.msgs)-q.mhead <= q.mhead {
		n := copy(q.msgs, q.msgs[q.mhead:])
		for i := q.bhead; i < len(q.blocks); i++ {
			q.blocks[i].at -= q.mhead
		}
		q.msgs, q.mhead = q.msgs[:n], 0
	}
	if q.bhead > 0 && len(q.blocks)-q.bhead <= q.bhead {
		n := copy(q.blocks, q.blocks[q.bhead:])
		q.blocks, q.bhead = q.blocks[:n], 0
	}
}

// release forgets everything queued and the buffers, once the connection
// closed.
func (q *sendQueue) release() {
	for _, b := range q.blocks[q.bhead:] {
		b.done()
	}
	*q = sendQueue{}
}
