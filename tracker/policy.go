package tracker

import (
	"math/rand/v2"
	"sync"
)

// Policy decides which peers a tracker hands out for one announce.
// Implementations must be safe for concurrent use.
type Policy interface {
	// Handout picks at most n peers from candidates for the announcing
	// peer self. The server has already removed self from candidates;
	// Handout may reorder candidates but must not retain it.
	Handout(self Peer, candidates []Peer, n int) []Peer
}

// DefaultPolicy is the handout policy of the design: a peer that has
// nothing yet (downloaded nothing and still needs bytes) gets the seeders
// first, shuffled, then a random spread of the others, so it has someone
// to fetch from at once; every other peer gets a uniform random sample.
type DefaultPolicy struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// NewDefaultPolicy returns a DefaultPolicy drawing from rng, which it then
// owns: the policy serialises access to it.
func NewDefaultPolicy(rng *rand.Rand) *DefaultPolicy {
	return &DefaultPolicy{rng: rng}
}

// Handout implements [Policy].
func (d *DefaultPolicy) Handout(self Peer, candidates []Peer, n int) []Peer {
	if n <= 0 || len(candidates) == 0 {
		return nil
	}
	n = min(n, len(candidates))
	d.mu.Lock()
	defer d.mu.Unlock()
	if self.Downloaded == 0 && self.Left > 0 {
		seeders := partition(candidates, Peer.Seeder)
		d.shuffle(candidates[:seeders])
		if seeders >= n {
			return append([]Peer(nil), candidates[:n]...)
		}
		d.sampleInto(candidates[seeders:], n-seeders)
		return append([]Peer(nil), candidates[:n]...)
	}
	d.sampleInto(candidates, n)
	return append([]Peer(nil), candidates[:n]...)
}

// sampleInto moves a uniform random sample of k elements of ps to its
// front (a partial Fisher-Yates shuffle).
func (d *DefaultPolicy) sampleInto(ps []Peer, k int) {
	for i := 0; i < k && i < len(ps)-1; i++ {
		j := i + d.rng.IntN(len(ps)-i)
		ps[i], ps[j] = ps[j], ps[i]
	}
}

func (d *DefaultPolicy) shuffle(ps []Peer) {
	d.rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
}

// partition moves the peers satisfying keep to the front of ps, in order,
// and returns how many there are.
func partition(ps []Peer, keep func(Peer) bool) int {
	k := 0
	for i, p := range ps {
		if keep(p) {
			ps[k], ps[i] = ps[i], ps[k]
			k++
		}
	}
	return k
}
