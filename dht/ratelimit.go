package dht

import (
	"net/netip"
	"time"
)

// rateLimiter is a per-source-IP token bucket with a bounded number of
// tracked sources. When the table is full, idle sources are forgotten; if
// all are busy, the table is reset (a flood from many addresses then gets
// a fresh burst each, which is still bounded by maxSources per reset).
type rateLimiter struct {
	rate, burst float64
	maxSources  int
	sources     map[netip.Addr]*tokenBucket
}

type tokenBucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(perSecond, burst float64, maxSources int) *rateLimiter {
	return &rateLimiter{rate: perSecond, burst: burst, maxSources: maxSources, sources: map[netip.Addr]*tokenBucket{}}
}

// allow reports whether a packet from ip may be handled at now.
func (l *rateLimiter) allow(ip netip.Addr, now time.Time) bool {
	b, ok := l.sources[ip]
	if !ok {
		if len(l.sources) >= l.maxSources {
			l.sweep(now)
		}
		b = &tokenBucket{tokens: l.burst, last: now}
		l.sources[ip] = b
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

func (l *rateLimiter) sweep(now time.Time) {
	for ip, b := range l.sources {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.sources, ip)
		}
	}
	if len(l.sources) >= l.maxSources {
		clear(l.sources)
	}
}
