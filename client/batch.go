package client

import (
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// maxBatchItems bounds the messages a connection reader hands the loop in
// one connBatch. A batch ends earlier when the next message is not wholly
// buffered (see wire.Reader.Buffered), so batching never delays a message
// to wait for another.
const maxBatchItems = 64

// connBatch is a run of things that happened on one connection, told to
// the torrent's loop as one event: the messages its reader found buffered
// together, or the blocks its writer sent with one write. One event per run
// instead of per message spares the loop a channel hand-over and a wake-up
// per message, allocates nothing (batches are recycled, and a pointer fits
// in an event interface without boxing), and lets the loop wake each
// writer once for everything the run made it queue.
//
// A batch belongs to the goroutine filling it until it is posted, then to
// the loop, which recycles it after applying it.
type connBatch struct {
	conn  *peerConn
	items []batchItem
	sent  []swarm.BlockSpec // blocks the writer sent, in order
}

// batchItem is one message of a batch; buf holds a Piece message's block
// (a pooled buffer the loop hands to the core's WriteBlock).
type batchItem struct {
	msg wire.Message
	buf *[]byte
}

var batchPool = sync.Pool{New: func() any { return new(connBatch) }}

// newBatch returns an empty batch for conn.
func newBatch(conn *peerConn) *connBatch {
	b := batchPool.Get().(*connBatch)
	b.conn = conn
	return b
}

// recycle empties the batch and returns it to the pool.
func (b *connBatch) recycle() {
	clear(b.items)
	b.items = b.items[:0]
	b.sent = b.sent[:0]
	b.conn = nil
	batchPool.Put(b)
}

// apply steps the machines with each item in order, settling after each as
// the loop settles after every event, with the writers' wake-ups held back
// until the whole batch is done.
func (b *connBatch) apply(t *Torrent, now time.Time) {
	t.holdWakes()
	for i := range b.items {
		// Each item is applied as the event it stands for (called, not
		// boxed into an event).
		it := &b.items[i]
		if it.buf != nil {
			m := it.msg
			blockEvent{conn: b.conn, spec: swarm.BlockSpec{Piece: m.Index, Begin: m.Begin, Length: m.Length}, buf: it.buf}.apply(t, now)
			it.buf = nil
		} else {
			messageEvent{conn: b.conn, msg: it.msg}.apply(t, now)
		}
		t.settle(now)
	}
	for _, spec := range b.sent {
		blockSentEvent{conn: b.conn, spec: spec}.apply(t, now)
	}
	if len(b.sent) > 0 {
		t.settle(now)
	}
	t.flushWakes()
	b.recycle()
}

// release frees the blocks of a batch the loop will not apply.
func (b *connBatch) release() {
	for i := range b.items {
		if buf := b.items[i].buf; buf != nil {
			blockPool.Put(buf)
		}
	}
	b.recycle()
}

// holdWakes makes enqueue note which writers have something new instead of
// waking them, until flushWakes. The loop only.
func (t *Torrent) holdWakes() { t.wakes.hold = true }

// flushWakes wakes every writer that was given something since holdWakes.
// The loop only.
func (t *Torrent) flushWakes() {
	w := &t.wakes
	w.hold = false
	for i, c := range w.conns {
		c.wakeHeld = false
		c.wakeWriter()
		w.conns[i] = nil
	}
	w.conns = w.conns[:0]
}

// heldWakes is the loop's list of writers to wake at the end of a batch.
type heldWakes struct {
	hold  bool
	conns []*peerConn
}
