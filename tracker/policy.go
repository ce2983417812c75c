package tracker

import (
	"math/rand/v2"
	"net/netip"
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
//     not stampeded by a whole fleet starting at once;
//   - every choice is fair to addresses (an IPv4 address, an IPv6 /64): no
//     address gets a second place in a handout while a candidate at an
//     address not yet in it is left, so a host that registered a thousand
//     fake seeders is handed out like any one honest seeder.
type DefaultPolicy struct {
	budget *HandoutBudget

	mu      sync.Mutex // guards the fields below
	rng     *rand.Rand
	seen    map[netip.Addr]bool // scratch: addresses in the handout
	scratch []Peer
}

// NewDefaultPolicy returns a DefaultPolicy drawing from rng, which it then
// owns (the policy serialises access to it), and bounded by budget, which
// may be nil for no bound.
func NewDefaultPolicy(rng *rand.Rand, budget *HandoutBudget) *DefaultPolicy {
	return &DefaultPolicy{rng: rng, budget: budget, seen: make(map[netip.Addr]bool)}
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
	clear(d.seen)
	if self.Downloaded == 0 && self.Left > 0 {
		seeders := partition(pool, Peer.Seeder)
		d.shuffle(pool[:seeders])
		d.spread(pool[:seeders])
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

// sampleInto moves a random sample of k elements of ps to its front, fair
// to addresses: a partial Fisher-Yates shuffle in which a peer drawn at an
// address already in the handout (d.seen) is set aside at the back; once
// only those are left, the rest of the sample is drawn from them at
// random. With every address distinct it is a plain partial shuffle,
// drawing the same random numbers.
func (d *DefaultPolicy) sampleInto(ps []Peer, k int) {
	front, back := 0, len(ps) // ps[:front] picked, ps[back:] set aside
	for front < k && front < back {
		j := front
		if back-front > 1 {
			j += d.rng.IntN(back - front)
		}
		ps[front], ps[j] = ps[j], ps[front]
		if a := handoutAddr(ps[front]); d.seen[a] {
			back--
			ps[front], ps[back] = ps[back], ps[front]
			continue
		} else {
			d.seen[a] = true
		}
		front++
	}
	for ; front < k && front < len(ps)-1; front++ {
		j := front + d.rng.IntN(len(ps)-front)
		ps[front], ps[j] = ps[j], ps[front]
	}
}

// spread moves the first peer of each address in ps to the front, keeping
// the order of both the first peers and the rest, and marks those
// addresses in d.seen.
func (d *DefaultPolicy) spread(ps []Peer) {
	rest := d.scratch[:0]
	k := 0
	for _, p := range ps {
		if a := handoutAddr(p); !d.seen[a] {
			d.seen[a] = true
			ps[k] = p
			k++
		} else {
			rest = append(rest, p)
		}
	}
	copy(ps[k:], rest)
	d.scratch = rest[:0]
}

// handoutAddr is the address a handout is fair to: the IPv4 address, or
// the IPv6 /64.
func handoutAddr(p Peer) netip.Addr {
	a := p.Addr.Addr().Unmap()
	if a.Is6() {
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
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
