package tracker

import (
	"net/netip"
	"sync"
	"time"
)

// SourceLimiter bounds the request rate of each source address with a
// token bucket per address: Rate requests a second on average, bursts of
// up to Burst. It holds at most MaxSources buckets; when full, it forgets
// every bucket (failing open), so spoofed UDP sources cannot grow memory
// nor lock out real clients for long. The clock is the caller's.
type SourceLimiter struct {
	rate       float64
	burst      float64
	maxSources int

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewSourceLimiter returns a limiter allowing rate requests per second
// with the given burst per source; maxSources bounds its memory (default
// 100,000 when non-positive). A nil *SourceLimiter allows everything.
func NewSourceLimiter(rate float64, burst, maxSources int) *SourceLimiter {
	if maxSources <= 0 {
		maxSources = 100_000
	}
	return &SourceLimiter{rate: rate, burst: float64(max(burst, 1)), maxSources: maxSources,
		buckets: make(map[netip.Addr]*bucket)}
}

// Allow reports whether a request from src at now is within its rate, and
// counts it if so.
func (l *SourceLimiter) Allow(src netip.Addr, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[src]
	if b == nil {
		if len(l.buckets) >= l.maxSources {
			clear(l.buckets)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[src] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// HandoutBudget bounds how often one peer address is handed out per
// window (the announce interval), so a popular seeder is not stampeded by
// a whole fleet at once. Counts are per tracker process. It holds at most
// maxPeers counters; past that, new peers are not counted (fail open).
type HandoutBudget struct {
	limit    int
	window   time.Duration
	maxPeers int

	mu     sync.Mutex
	start  time.Time
	counts map[netip.AddrPort]int
}

// NewHandoutBudget returns a budget of limit handouts per peer per window.
// A non-positive limit means unlimited.
func NewHandoutBudget(limit int, window time.Duration, maxPeers int) *HandoutBudget {
	if maxPeers <= 0 {
		maxPeers = 1_000_000
	}
	return &HandoutBudget{limit: limit, window: window, maxPeers: maxPeers, counts: make(map[netip.AddrPort]int)}
}

// Exhausted reports whether addr has been handed out limit times in the
// window containing now.
func (h *HandoutBudget) Exhausted(addr netip.AddrPort, now time.Time) bool {
	if h == nil || h.limit <= 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(now)
	return h.counts[addr] >= h.limit
}

// Spend counts one handout of each of peers at now.
func (h *HandoutBudget) Spend(peers []Peer, now time.Time) {
	if h == nil || h.limit <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(now)
	for _, p := range peers {
		if _, ok := h.counts[p.Addr]; ok || len(h.counts) < h.maxPeers {
			h.counts[p.Addr]++
		}
	}
}

// roll starts a new window when now has left the current one.
func (h *HandoutBudget) roll(now time.Time) {
	if now.Sub(h.start) >= h.window || now.Before(h.start) {
		h.start = now
		clear(h.counts)
	}
}
