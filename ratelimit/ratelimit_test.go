package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestPerSourceBurstAndRefill(t *testing.T) {
	l := NewPerSource(4, 2, 10)
	a := netip.MustParseAddr("192.0.2.1")
	if !l.Allow(a, t0) || !l.Allow(a, t0) {
		t.Fatal("burst of 2 refused")
	}
	if l.Allow(a, t0) {
		t.Fatal("third request in a burst of 2 allowed")
	}
	if !l.Allow(netip.MustParseAddr("192.0.2.2"), t0) {
		t.Fatal("a second source was limited by the first")
	}
	if !l.Allow(a, t0.Add(250*time.Millisecond)) || l.Allow(a, t0.Add(250*time.Millisecond)) {
		t.Fatal("at 4/s, want exactly one more after 250 ms")
	}
}

func TestPerSourceMemoryBound(t *testing.T) {
	l := NewPerSource(1, 1, 3)
	busy := netip.MustParseAddr("198.51.100.1")
	l.Allow(busy, t0) // its bucket is empty now
	for i := range 100 {
		l.Allow(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), t0)
		if n := l.Len(); n > 3 {
			t.Fatalf("tracks %d sources, bound 3", n)
		}
	}
	// Idle sources are forgotten first: one whose bucket refilled is
	// dropped to make room rather than everyone.
	l = NewPerSource(1, 1, 2)
	idle, hot := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("203.0.113.2")
	l.Allow(idle, t0)
	l.Allow(hot, t0.Add(2*time.Second))
	l.Allow(netip.MustParseAddr("203.0.113.3"), t0.Add(2*time.Second))
	if l.Allow(hot, t0.Add(2*time.Second)) {
		t.Fatal("a busy source was forgotten while an idle one could go")
	}
}

func TestNilPerSourceAllows(t *testing.T) {
	var l *PerSource
	if !l.Allow(netip.MustParseAddr("192.0.2.1"), t0) {
		t.Fatal("nil limiter refused")
	}
}
