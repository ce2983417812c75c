// Package ratelimit bounds how often each source address may make a
// request: a token bucket per address (golang.org/x/time/rate) with a bound
// on how many addresses it remembers, so a flood from spoofed sources can
// neither grow its memory nor lock real clients out for long. The tracker
// and the DHT node use it on every packet and request; the clock is the
// caller's, so tests and simulations drive it.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// PerSource allows each source address perSecond requests a second on
// average, in bursts of up to burst. A nil *PerSource allows everything.
type PerSource struct {
	limit      rate.Limit
	burst      int
	maxSources int

	mu      sync.Mutex
	sources map[netip.Addr]*rate.Limiter
}

// NewPerSource returns a limiter of perSecond requests a second per source
// with the given burst (at least 1); maxSources bounds how many sources it
// tracks (default 100,000 when non-positive).
func NewPerSource(perSecond float64, burst, maxSources int) *PerSource {
	if maxSources <= 0 {
		maxSources = 100_000
	}
	return &PerSource{limit: rate.Limit(perSecond), burst: max(burst, 1), maxSources: maxSources,
		sources: make(map[netip.Addr]*rate.Limiter)}
}

// Allow reports whether a request from src at now is within its rate, and
// counts it if so. When the table is full, sources whose bucket has
// refilled are forgotten; if that frees nothing, every source is (failing
// open rather than growing).
func (l *PerSource) Allow(src netip.Addr, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.sources[src]
	if b == nil {
		if len(l.sources) >= l.maxSources {
			l.forget(now)
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.sources[src] = b
	}
	return b.AllowN(now, 1)
}

// Len is the number of sources tracked.
func (l *PerSource) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sources)
}

// forget drops idle sources (bucket full again), or all when none is idle.
func (l *PerSource) forget(now time.Time) {
	for ip, b := range l.sources {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.sources, ip)
		}
	}
	if len(l.sources) >= l.maxSources {
		clear(l.sources)
	}
}
