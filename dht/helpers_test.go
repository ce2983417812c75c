package dht

import (
	"math/rand/v2"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is a Clock that moves only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[int]*fakeTimer
	next   int
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newFakeClock() *fakeClock { return &fakeClock{now: epoch, timers: map[int]*fakeTimer{}} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.next
	c.next++
	c.timers[id] = &fakeTimer{at: c.now.Add(d), f: f}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		return ok
	}
}

// Advance moves time forward and fires due timers, each in a goroutine
// like time.AfterFunc.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []int
	for id, t := range c.timers {
		if !t.at.After(c.now) {
			due = append(due, id)
		}
	}
	sort.Ints(due)
	var fs []func()
	for _, id := range due {
		fs = append(fs, c.timers[id].f)
		delete(c.timers, id)
	}
	c.mu.Unlock()
	for _, f := range fs {
		go f()
	}
}

// seededRand returns a deterministic source and logs its seed.
func seededRand(t testing.TB, seed uint64) *rand.Rand {
	t.Helper()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func addrN(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
}

// idWithPrefix returns an ID sharing exactly prefix leading bits with self.
func idWithPrefix(r *rand.Rand, self ID, prefix int) ID { return RandomIDInBucket(r, self, prefix) }
