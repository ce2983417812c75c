package tracker

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Policy decides which peers a tracker hands out for one announce.
// Implementations must be safe for concurrent use.
type Policy interface {
	// Handout picks at most n peers from candidates for the announcing
	// peer self at time now. The server has already removed self (by ID
	// and by address) from candidates; Handout may reorder candidates but
	// must not retain it.
	Handout(now time.Time, self Peer, candidates []Peer, n int) []Peer
}

// A SamplingPolicy is a [Policy] that can say, before seeing the swarm,
// what to draw from it: the server then hands Handout a sample the store
// drew ([Store.Sample]) instead of every peer of the swarm, so an announce
// costs time in n, not in the size of the swarm. A Policy without Plan is
// handed the whole swarm.
type SamplingPolicy interface {
	Policy
	// Plan is what to draw for self, who is to get at most n peers, so
	// that Handout on the draw picks as it would from the whole swarm.
	// The server sets the draw's Family itself.
	Plan(self Peer, n int) Draw
}

// DefaultPolicy is the handout policy for fleets (see docs/ARCHITECTURE.md):
//
//   - a peer that has nothing yet (downloaded nothing, still needs bytes)
//     gets the seeders first, shuffled, then a random spread of the others,
//     so it has someone to fetch from at once;
//   - a seeder gets leechers only (another seeder has nothing for it), a
//     random sample;
//   - every other peer gets a uniform random sample, so the peer graph
//     stays well mixed instead of clustering around early joiners;
//   - a peer already handed out Budget times this interval is held back,
//     and offered only when nobody else is left, so a popular seeder is
//     not stampeded by a whole fleet starting at once.
type DefaultPolicy struct {
	budget *HandoutBudget

	mu  sync.Mutex
	rng *rand.Rand
}

// NewDefaultPolicy returns a DefaultPolicy drawing from rng, which it then
// owns (the policy serialises access to it), and bounded by budget, which
// may be nil for no bound.
func NewDefaultPolicy(rng *rand.Rand, budget *HandoutBudget) *DefaultPolicy {
	return &DefaultPolicy{rng: rng, budget: budget}
}

// Handout implements [Policy].
func (d *DefaultPolicy) Handout(now time.Time, self Peer, candidates []Peer, n int) []Peer {
	if n <= 0 || len(candidates) == 0 {
		return nil
	}
	// Spent peers go to the back, offered only if nobody else is left.
	pool := candidates[:d.budget.Fresh(candidates, now)]
	if self.Seeder() {
		pool = pool[:partition(pool, func(p Peer) bool { return !p.Seeder() })]
	}
	if len(pool) == 0 {
		pool = candidates
		if self.Seeder() {
			pool = pool[:partition(pool, func(p Peer) bool { return !p.Seeder() })]
		}
	}
	n = min(n, len(pool))

	d.mu.Lock()
	if self.Downloaded == 0 && self.Left > 0 {
		seeders := partition(pool, Peer.Seeder)
		d.shuffle(pool[:seeders])
		if seeders < n {
			d.sampleInto(pool[seeders:], n-seeders)
		}
	} else {
		d.sampleInto(pool, n)
	}
	d.mu.Unlock()

	out := append([]Peer(nil), pool[:n]...)
	d.budget.Spend(out, now)
	return out
}

// Plan implements [SamplingPolicy]. Each part of the draw is about twice
// n, plus two: room for self and for a peer at self's address (which the
// server leaves out), and for peers held back by the budget, so Handout
// has fresh peers to choose from where the swarm has them.
func (d *DefaultPolicy) Plan(self Peer, n int) Draw {
	k := 2*n + 2
	switch {
	case n <= 0:
		return Draw{}
	case self.Seeder():
		return Draw{Leechers: k}
	case self.Downloaded == 0:
		return Draw{Seeders: k, Leechers: k}
	default:
		return Draw{Any: k}
	}
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
