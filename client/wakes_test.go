package client

import (
	"testing"
	"time"
)

// TestDeferredWakes: a writer given only messages is woken once the
// deferred wake-ups are flushed, not before; one woken at once for a block
// send is not woken again by the flush; the deferred list holds each
// connection once however often it is deferred.
func TestDeferredWakes(t *testing.T) {
	tr := &Torrent{}
	tr.wakes.timer = time.NewTimer(time.Hour)
	tr.wakes.timer.Stop()
	defer tr.wakes.timer.Stop()
	a := &peerConn{t: tr, wake: make(chan struct{}, 1)}
	b := &peerConn{t: tr, wake: make(chan struct{}, 1)}
	woken := func(c *peerConn) bool {
		select {
		case <-c.wake:
			return true
		default:
			return false
		}
	}
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
	if n := len(tr.wakes.lazy); n != 2 {
		t.Fatalf("deferred list holds %d entries, want 2 (one per connection)", n)
	}
	if !tr.wakes.armed {
		t.Fatal("no flush armed")
	}
	tr.flushDeferred()
	if !woken(a) || !woken(b) {
		t.Fatal("a deferred writer was not woken by the flush")
	}
	if len(tr.wakes.lazy) != 0 || tr.wakes.armed || a.lazyHeld || b.lazyHeld {
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
