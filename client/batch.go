package client

import (
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
	home  batchFree // the store it came from and goes back to
	items []batchItem
	sent  []swarm.BlockSpec // blocks the writer sent, in order
}

// batchItem is one message of a batch; buf holds a Piece message's block
// (a pooled buffer the loop hands to the core's WriteBlock).
type batchItem struct {
	msg wire.Message
	buf *[]byte
}

// Batches in flight per connection: the reader's, the writer's. A
// connection's reader (writer) has at most this many batches posted and
// not yet applied; past it, it waits for the loop to apply one. The loop
// thus bounds what each connection queues in front of it, and a slow loop
// slows the readers, which leave the rest in the socket (TCP then slows
// the sender), instead of piling up batches and their blocks.
const (
	readBatches = 4
	sentBatches = 2
)

// batchFree is a connection's store of batches, also its credit for
// batches in flight: a batch is taken from it to be filled and posted, and
// comes back once the loop applied it.
type batchFree chan *connBatch

// newBatchFree returns a store holding n empty batches of conn.
func newBatchFree(conn *peerConn, n int) batchFree {
	f := make(batchFree, n)
	for range n {
		f <- &connBatch{conn: conn, home: f}
	}
	return f
}

// take returns an empty batch, waiting for one while all are in flight;
// nil if the connection closed first.
func (f batchFree) take(closed <-chan struct{}) *connBatch {
	select {
	case b := <-f:
		return b
	default:
	}
	select {
	case b := <-f:
		return b
	case <-closed:
		return nil
	}
}

// recycle empties the batch and gives it back to its store.
func (b *connBatch) recycle() {
	clear(b.items)
	b.items = b.items[:0]
	b.sent = b.sent[:0]
	b.home <- b // never blocks: the store had room for it
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

// flushWakes wakes every writer that was given a block send (or a shared
// payload) since holdWakes, and defers the wake-up of those given only
// protocol messages (see deferWake): by messageDelay, or by haveDelay when
// all they were given is Haves. The loop only.
func (t *Torrent) flushWakes() {
	w := &t.wakes
	w.hold = false
	for i, c := range w.conns {
		c.wakeHeld = false
		switch {
		case c.urgent:
			t.wakeNow(c)
		case c.eager:
			t.deferWake(c)
		default:
			t.deferHave(c)
		}
		c.urgent, c.eager = false, false
		w.conns[i] = nil
	}
	w.conns = w.conns[:0]
}

// wakeNow wakes c's writer at once; its deferred wake-ups, if any, have
// nothing left to do (the writer takes everything queued). The loop only.
func (t *Torrent) wakeNow(c *peerConn) {
	c.lazyWake, c.haveWake, c.lazyReqs = false, false, 0
	c.wokenAt = time.Now()
	c.wakeWriter()
}

// messageDelay is the longest a writer given only protocol messages
// (Requests, Haves, ...) waits before it is woken. Received blocks come in
// bursts, a few per socket read, and each read's worth used to refill its
// requests with a write of its own: on loopback (shoal bench, N = 30,
// 1 GB/s links) 52,000 of a run's 64,000 writes carried under 1 KiB, each
// a system call of about 10 µs with the peer's receive processing, and a
// wake-up, a read and a loop turn at the peer. Holding them back for a
// moment lets one write carry a burst's requests and the Haves of pieces
// completed meanwhile. A request pipeline holds at least a quarter second
// of the peer's rate once the core knows it, so the delay costs no
// throughput then; a block send wakes its writer at once, taking the
// messages before it along, and so do Requests once a peer that answers
// within the delay holds fewer of ours than wait in the queue
// (peerConn.refillNow).
const messageDelay = 2 * time.Millisecond

// haveDelay is the longest a writer given only Haves waits before it is
// woken. A receiver tells every peer of every piece it completes: in the
// bench (N = 30, 64 MB, 10 MB/s) a third of all socket writes carried one
// or two Haves and nothing else, each costing the peer a wake-up, a read
// and a loop turn, per piece and per connection. Haves held this long go
// out together, or with the next Request or block of that connection.
// Nothing waits on a Have as it waits on a block or a Request: a peer that
// learns of a piece late fetches others meanwhile, and an initial seed
// reveals pieces a pipeline ahead of what its peer fetches.
const haveDelay = 25 * time.Millisecond

// deferWake wakes c's writer at the next flush of deferred wake-ups (at
// most messageDelay from now), unless something urgent wakes it first.
// The loop only.
func (t *Torrent) deferWake(c *peerConn) {
	c.lazyWake = true
	t.wakes.lazy.add(c, &c.lazyHeld, messageDelay)
}

// deferHave is deferWake for a writer given only Haves: woken at the next
// flush of Have wake-ups (at most haveDelay from now), unless anything else
// wakes it first. The loop only.
func (t *Torrent) deferHave(c *peerConn) {
	if c.lazyWake {
		return // woken within messageDelay anyway
	}
	c.haveWake = true
	t.wakes.haves.add(c, &c.haveHeld, haveDelay)
}

// flushDeferred wakes every writer whose wake-up was deferred. The loop
// only, when the timer deferWake armed fires.
func (t *Torrent) flushDeferred() {
	t.flushList(&t.wakes.lazy, func(c *peerConn) (held, pending *bool) { return &c.lazyHeld, &c.lazyWake })
}

// flushHaves wakes every writer whose wake-up for Haves was deferred and
// that was not woken since. The loop only, when the timer deferHave armed
// fires.
func (t *Torrent) flushHaves() {
	t.flushList(&t.wakes.haves, func(c *peerConn) (held, pending *bool) { return &c.haveHeld, &c.haveWake })
}

// flushList empties l, waking each writer whose pending flag is still set
// (flags returns the connection's held and pending flags for l). The loop
// only.
func (t *Torrent) flushList(l *deferredWakes, flags func(*peerConn) (held, pending *bool)) {
	l.armed = false
	for i, c := range l.conns {
		held, pending := flags(c)
		*held = false
		if *pending {
			t.wakeNow(c)
		}
		l.conns[i] = nil
	}
	l.conns = l.conns[:0]
}

// heldWakes is the loop's list of writers to wake at the end of a batch,
// of writers whose wake-up is deferred, and of those given only Haves,
// deferred longer.
type heldWakes struct {
	hold  bool
	conns []*peerConn
	lazy  deferredWakes // flushed within messageDelay
	haves deferredWakes // flushed within haveDelay
}

// deferredWakes is a list of writers to wake when its timer fires.
type deferredWakes struct {
	conns []*peerConn
	armed bool        // timer runs
	timer *time.Timer // created stopped by the loop
}

// add puts c in the list, once (held is c's flag for this list), and arms
// the timer to fire within delay if it does not run.
func (l *deferredWakes) add(c *peerConn, held *bool, delay time.Duration) {
	if !*held {
		*held = true
		l.conns = append(l.conns, c)
	}
	if !l.armed {
		l.armed = true
		l.timer.Reset(delay)
	}
}
