package client

import (
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// TestDeferredWakes: a writer given only messages is woken once the
// deferred wake-ups are flushed, not before; one woken at once for a block
// send is not woken again by the flush; the deferred list holds each
// connection once however often it is deferred.
func TestDeferredWakes(t *testing.T) {
	tr := newWakesTorrent(t)
	a := &peerConn{t: tr, wake: make(chan struct{}, 1)}
	b := &peerConn{t: tr, wake: make(chan struct{}, 1)}
	for range 3 {
		tr.deferWake(a)
		tr.deferWake(b)
	}
	// b is given a block send in a batch: woken at the batch's end.
	tr.holdWakes()
	tr.wakes.conns = append(tr.wakes.conns, b)
	b.wakeHeld, b.urgent = true, true
	tr.flushWakes()
	if !woken(b) || woken(a) {
		t.Fatal("the block send did not wake b at once, or a was woken early")
	}
	tr.deferWake(b) // messages only again
	tr.deferWake(b)
	if n := len(tr.wakes.lazy.conns); n != 2 {
		t.Fatalf("deferred list holds %d entries, want 2 (one per connection)", n)
	}
	if !tr.wakes.lazy.armed {
		t.Fatal("no flush armed")
	}
	tr.flushDeferred()
	if !woken(a) || !woken(b) {
		t.Fatal("a deferred writer was not woken by the flush")
	}
	if len(tr.wakes.lazy.conns) != 0 || tr.wakes.lazy.armed || a.lazyHeld || b.lazyHeld {
		t.Fatal("flush left state behind")
	}
	// A writer woken at once after being deferred is not woken again.
	tr.deferWake(a)
	tr.holdWakes()
	tr.wakes.conns = append(tr.wakes.conns, a)
	a.wakeHeld, a.urgent = true, true
	tr.flushWakes()
	woken(a)
	tr.flushDeferred()
	if woken(a) {
		t.Fatal("the flush woke a writer that had been woken since")
	}
}

// woken reports whether c's writer was woken since the last call, and
// takes the wake-up.
func woken(c *peerConn) bool {
	select {
	case <-c.wake:
		return true
	default:
		return false
	}
}

// newWakesTorrent is a Torrent with nothing but its wake-up timers, stopped.
func newWakesTorrent(t *testing.T) *Torrent {
	tr := &Torrent{}
	for _, l := range []*deferredWakes{&tr.wakes.lazy, &tr.wakes.haves} {
		l.timer = time.NewTimer(time.Hour)
		l.timer.Stop()
		t.Cleanup(func() { l.timer.Stop() })
	}
	return tr
}

// TestHaveWakes: a writer given only Haves is woken by the flush of Have
// wake-ups, not by the sooner flush for other messages; one also given a
// Request (or a block) is woken by that and not again by the Have flush;
// the same holds for messages queued during a batch of loop events.
func TestHaveWakes(t *testing.T) {
	tr := newWakesTorrent(t)
	// Each peer holds plenty of our requests already, so a Request is
	// deferred (see TestRefillWakes).
	conn := func() *peerConn { return &peerConn{t: tr, wake: make(chan struct{}, 1), asked: 64} }
	have := outItem{msg: wire.Message{Type: wire.Have, Index: 3}}
	request := outItem{msg: wire.Message{Type: wire.Request, Index: 3, Length: wire.BlockSize}}

	a, b, c := conn(), conn(), conn()
	a.enqueue(have)
	a.enqueue(have)
	b.enqueue(have)
	b.enqueue(request) // a Have, then a Request: woken with the Requests
	c.enqueue(request)
	c.enqueue(have) // a Request, then a Have: the same
	if !tr.wakes.lazy.armed || !tr.wakes.haves.armed {
		t.Fatalf("flushes armed: messages %v, Haves %v; want both", tr.wakes.lazy.armed, tr.wakes.haves.armed)
	}
	if n := len(tr.wakes.haves.conns); n != 2 {
		t.Fatalf("Have list holds %d entries, want 2 (a once, b before its Request)", n)
	}
	tr.flushDeferred()
	if woken(a) || !woken(b) || !woken(c) {
		t.Fatal("the message flush woke a writer given only Haves, or not one given a Request")
	}
	tr.flushHaves()
	if !woken(a) || woken(b) || woken(c) {
		t.Fatal("the Have flush did not wake the writer given only Haves, or woke one woken since")
	}
	if len(tr.wakes.haves.conns) != 0 || tr.wakes.haves.armed || a.haveHeld || b.haveHeld || a.haveWake || b.haveWake {
		t.Fatal("the Have flush left state behind")
	}

	// During a batch of events: a gets Haves only, b Haves and a Request,
	// c Haves and a block send.
	tr.holdWakes()
	a.enqueue(have)
	b.enqueue(have)
	b.enqueue(request)
	c.enqueue(have)
	c.wakeHeld, c.urgent = true, true // what enqueue of a block send sets
	tr.flushWakes()
	if woken(a) || woken(b) || !woken(c) {
		t.Fatal("the batch's end woke a writer given only messages, or not the one given a block")
	}
	if len(tr.wakes.haves.conns) != 1 || tr.wakes.haves.conns[0] != a || len(tr.wakes.lazy.conns) != 1 || tr.wakes.lazy.conns[0] != b {
		t.Fatal("the batch's end did not defer a to the Have flush and b to the message flush")
	}
	tr.flushHaves()
	tr.flushDeferred()
	if !woken(a) || !woken(b) || woken(c) {
		t.Fatal("deferred writers not woken by their flushes, or the block's writer woken twice")
	}
}

// TestRefillWakes: Requests wait for the deferred flush while the peer
// holds more of ours than wait in the queue, or answered them more slowly
// than messageDelay, and wake the writer at once when a peer that answers
// within the delay holds fewer. Answers (blocks, Rejects) lower what the
// peer holds, never below 0.
func TestRefillWakes(t *testing.T) {
	tr := newWakesTorrent(t)
	c := &peerConn{t: tr, wake: make(chan struct{}, 1)}
	woken := func() bool {
		select {
		case <-c.wake:
			return true
		default:
			return false
		}
	}
	request := outItem{msg: wire.Message{Type: wire.Request, Index: 1, Length: wire.BlockSize}}
	// A connection's first 16 requests, in one batch: the writer was never
	// woken, so they wait for the flush.
	tr.holdWakes()
	for range 16 {
		c.enqueue(request)
	}
	tr.flushWakes()
	if woken() {
		t.Fatal("the first requests woke the writer before the flush")
	}
	tr.flushDeferred()
	if !woken() || c.asked != 16 || c.lazyReqs != 0 {
		t.Fatalf("after the flush: woken no, or asked %d, queued %d; want 16, 0", c.asked, c.lazyReqs)
	}
	c.wokenAt = time.Now().Add(time.Minute) // recent however long this test is descheduled
	// Blocks arrive one at a time, at once, and each is refilled: the peer
	// holds 15, 14, ... while 1, 2, ... wait; at 7 held and 9 waiting they go.
	for i := 1; i <= 9; i++ {
		c.answered()
		tr.holdWakes()
		c.enqueue(request)
		tr.flushWakes()
		if w := woken(); w != (i == 9) {
			t.Fatalf("refill %d (peer holds %d, %d queued): woken %v, want %v", i, c.asked-c.lazyReqs, c.lazyReqs, w, i == 9)
		}
	}
	if c.lazyReqs != 0 || c.asked != 16 {
		t.Fatalf("after the wake: asked %d, queued %d; want 16, 0", c.asked, c.lazyReqs)
	}
	tr.flushDeferred()
	woken()
	// The same refills from a peer that took longer than messageDelay to
	// answer: all wait for the flush.
	c.wokenAt = time.Now().Add(-10 * messageDelay)
	for range 16 {
		c.answered()
		c.enqueue(request)
		if woken() {
			t.Fatalf("a refill to a slow peer (holds %d, %d queued) woke the writer at once", c.asked-c.lazyReqs, c.lazyReqs)
		}
	}
	tr.flushDeferred()
	if !woken() {
		t.Fatal("the flush did not wake the writer")
	}
	c.asked = 0 // as after a Choke
	for range 3 {
		c.answered()
	}
	if c.asked != 0 {
		t.Fatalf("asked %d after answers to nothing, want 0", c.asked)
	}
}
