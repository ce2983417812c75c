package tracker

import (
	"net/netip"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/ratelimit"
)

// SourceLimiter bounds the request rate of each source address (a token
// bucket per address, a bound on the addresses held); see
// ratelimit.PerSource. A nil *SourceLimiter allows everything.
type SourceLimiter = ratelimit.PerSource

// NewSourceLimiter returns a limiter allowing rate requests per second
// with the given burst per source; maxSources bounds its memory (default
// 100,000 when non-positive).
func NewSourceLimiter(rate float64, burst, maxSources int) *SourceLimiter {
	return ratelimit.NewPerSource(rate, burst, maxSources)
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

// Fresh moves the peers of ps not yet handed out limit times in the window
// containing now to the front of ps, in order, and returns how many there
// are. It takes the budget's lock once for all of ps.
func (h *HandoutBudget) Fresh(ps []Peer, now time.Time) int {
	if h == nil || h.limit <= 0 {
		return len(ps)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.roll(now)
	return partition(ps, func(p Peer) bool { return h.counts[p.Addr] < h.limit })
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
