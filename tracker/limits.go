package tracker

import (
	"encoding/binary"
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
	// spent counts the addresses of counts at limit or above; maySpend has
	// the bit spentBit of each of them set (and maybe others'), so Fresh
	// looks up in counts only the peers whose bit is set: a fleet's start
	// hands out a few peers of thousands that often, and a map lookup per
	// candidate of every announce was most of the simulator's tracker.
	spent    int
	maySpend [spentBits / 64]uint64
}

// spentBits is the size of HandoutBudget.maySpend, in bits.
const spentBits = 4096

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
	if h.spent == 0 {
		return len(ps)
	}
	return partition(ps, func(p Peer) bool {
		b := spentBit(p.Addr)
		return h.maySpend[b/64]&(1<<(b%64)) == 0 || h.counts[p.Addr] < h.limit
	})
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
		if c, ok := h.counts[p.Addr]; ok || len(h.counts) < h.maxPeers {
			h.counts[p.Addr] = c + 1
			if c+1 == h.limit {
				h.spent++
				b := spentBit(p.Addr)
				h.maySpend[b/64] |= 1 << (b % 64)
			}
		}
	}
}

// roll starts a new window when now has left the current one.
func (h *HandoutBudget) roll(now time.Time) {
	if now.Sub(h.start) >= h.window || now.Before(h.start) {
		h.start = now
		clear(h.counts)
		h.spent = 0
		clear(h.maySpend[:])
	}
}

// spentBit is addr's bit in HandoutBudget.maySpend: equal addresses get
// the same bit.
func spentBit(addr netip.AddrPort) uint64 {
	a := addr.Addr().As16()
	x := binary.LittleEndian.Uint64(a[:8]) ^ binary.LittleEndian.Uint64(a[8:])*0x9e3779b97f4a7c15 ^ uint64(addr.Port())
	x *= 0xbf58476d1ce4e5b9
	return (x >> 40) % spentBits
}
