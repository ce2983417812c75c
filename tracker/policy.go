package tracker

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/zone"
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
//     fake seeders is handed out like any one honest seeder;
//   - a peer that announced a location label (Peer.Zone) gets its rack
//     first, then the nearest others, and a fixed share of peers drawn
//     uniformly from outside its rack (see [Locality]).
type DefaultPolicy struct {
	budget *HandoutBudget
	loc    Locality

	mu      sync.Mutex // guards the fields below
	rng     *rand.Rand
	seen    map[netip.Addr]bool // scratch: addresses in the handout
	scratch []Peer
	// Scratch of near: each candidate's rank, whether it is taken, the
	// outside candidates left for the uniform share.
	ranks []uint8
	taken []bool
	cand  []int
}

// Locality says how a [DefaultPolicy] hands out peers to a peer with a
// location label (package zone; a peer without one gets the plain
// handout). Its rack is the peers with exactly its label; nearness is the
// number of leading segments two labels share. A handout of n peers is:
//
//   - a share Outside × n (rounded at random, so that 0.01 of 50 is one
//     peer every other handout) drawn uniformly from the peers outside the
//     rack, whatever their label: these links keep the peer graph an
//     expander (see docs/ARCHITECTURE.md);
//   - the rack's peers (a newcomer: its seeders first), at random;
//   - if that is fewer than Enough peers, the nearest peers outside the
//     rack that have data (seeders, or peers that announced bytes
//     downloaded), same row before same data centre before anyone, up to
//     Enough: a host does not need more links than that to fill its own,
//     every far link is traffic over the rack's uplink, and at a fleet's
//     start, when every rack is still announcing, nobody has data, so no
//     early host of a rack is handed a crowd of far newcomers;
//   - a newcomer whose rack has no seeder gets the nearest seeder too, so
//     it has someone to fetch from at once.
//
// So a rack larger than n gets n − Outside×n rack peers, and a handout is
// shorter than n only when the rack and Enough are.
type Locality struct {
	// Outside is the share of each handout drawn uniformly from outside
	// the rack, in [0, 1].
	Outside float64
	// Enough is the handout size up to which the nearest peers outside
	// the rack are added when the rack has too few.
	Enough int
	// Off ignores labels: every peer gets the plain handout.
	Off bool
}

// DefaultLocality is the [Locality] of [NewDefaultPolicy]: one uniform
// outside peer in every handout of 50 (the default numwant), and handouts
// of at least 25 peers when the rack is small.
var DefaultLocality = Locality{Outside: 1.0 / 50, Enough: 25}

// NewDefaultPolicy returns a DefaultPolicy drawing from rng, which it then
// owns (the policy serialises access to it), and bounded by budget, which
// may be nil for no bound, with [DefaultLocality].
func NewDefaultPolicy(rng *rand.Rand, budget *HandoutBudget) *DefaultPolicy {
	return NewDefaultPolicyWith(rng, budget, DefaultLocality)
}

// NewDefaultPolicyWith is [NewDefaultPolicy] with the given locality.
func NewDefaultPolicyWith(rng *rand.Rand, budget *HandoutBudget, loc Locality) *DefaultPolicy {
	loc.Outside = min(max(loc.Outside, 0), 1)
	return &DefaultPolicy{rng: rng, budget: budget, loc: loc, seen: make(map[netip.Addr]bool)}
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
	if d.local(self) {
		out := d.near(self, pool, n)
		d.mu.Unlock()
		d.budget.Spend(out, now)
		return out
	}
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
	var dr Draw
	switch {
	case n <= 0:
		return Draw{}
	case self.Seeder():
		dr = Draw{Leechers: k}
	case self.Downloaded == 0:
		dr = Draw{Seeders: k, Leechers: k}
	default:
		dr = Draw{Any: k}
	}
	// A labelled peer's rack is drawn as much again, from the store's index
	// of labels; the swarm's uniform part supplies the outside share and
	// the nearest peers outside the rack.
	if d.local(self) {
		dr.Zone = self.Zone
		dr.Near = NearDraw{Seeders: dr.Seeders, Leechers: dr.Leechers, Any: dr.Any}
	}
	return dr
}

// local reports whether self gets the locality handout.
func (d *DefaultPolicy) local(self Peer) bool { return self.Zone != "" && !d.loc.Off }

// near is the handout of at most n peers of pool to a labelled self, as
// [Locality] describes, fair to addresses like the plain handout: a peer
// at an address already in the handout is taken only when no other
// candidate is left. It reorders pool; d.mu must be held, d.seen clear.
func (d *DefaultPolicy) near(self Peer, pool []Peer, n int) []Peer {
	newcomer := self.Downloaded == 0 && self.Left > 0
	d.shuffle(pool)
	d.ranks = slices.Grow(d.ranks[:0], len(pool))[:len(pool)]
	rack := rankNearest(self, pool, newcomer, d.ranks) // pool[rack:] is outside, nearest first
	d.taken = slices.Grow(d.taken[:0], len(pool))[:len(pool)]
	taken := d.taken
	clear(taken)
	out := make([]Peer, 0, n)
	add := func(i int) {
		taken[i] = true
		d.seen[handoutAddr(pool[i])] = true
		out = append(out, pool[i])
	}
	fresh := func(i int) bool { return !taken[i] && !d.seen[handoutAddr(pool[i])] }
	outside := len(pool) - rack
	forced := 0
	if newcomer && (rack == 0 || !pool[0].Seeder()) {
		// No seeder in the rack: the nearest one outside it, if any.
		if i := slices.IndexFunc(pool[rack:], Peer.Seeder); i >= 0 {
			add(rack + i)
			forced = 1
		}
	}
	// How many of each part: the uniform share, the rack, the nearest.
	q := min(d.quota(n), outside-forced, n-forced)
	take := min(rack, n-forced-q)
	fill := forced
	if short := d.loc.Enough - (take + forced + q); short > 0 {
		fill += min(short, n-forced-q-take, outside-forced-q)
	}
	target := take + fill + q
	for i := 0; i < rack && len(out) < take+forced; i++ {
		if fresh(i) {
			add(i)
		}
	}
	// The nearest fill takes only peers with data: at a fleet's start
	// nobody has any, the rack's other hosts are announcing that moment,
	// and a far newcomer has nothing to give yet.
	filler := func(i int) bool { return i < rack || pool[i].Seeder() || pool[i].Downloaded > 0 }
	for i := rack; i < len(pool) && len(out) < target-q; i++ {
		if fresh(i) && filler(i) {
			add(i)
		}
	}
	// The uniform share, from the outside peers not taken.
	cand := d.cand[:0]
	for i := rack; i < len(pool); i++ {
		if fresh(i) {
			cand = append(cand, i)
		}
	}
	d.cand = cand
	for j := 0; j < len(cand) && j < q; j++ {
		k := j + d.rng.IntN(len(cand)-j)
		cand[j], cand[k] = cand[k], cand[j]
		add(cand[j])
	}
	// Short of the target only if addresses repeat: those last, nearest first.
	for i := 0; i < len(pool) && len(out) < target; i++ {
		if !taken[i] && filler(i) {
			add(i)
		}
	}
	return out
}

// quota is the outside share of a handout of n: Outside × n, rounded up
// with probability its fractional part. d.mu must be held.
func (d *DefaultPolicy) quota(n int) int {
	x := d.loc.Outside * float64(n)
	q := int(x)
	if frac := x - float64(q); frac > 0 && d.rng.Float64() < frac {
		q++
	}
	return q
}

// rankNearest orders ps nearest to self first (its exact label, then by
// the leading segments shared), a newcomer's seeders before the others at
// each nearness, and returns how many peers have self's exact label. The
// order within a rank depends only on the order of ps, so shuffled peers
// stay in random order within each rank. keys is scratch of len(ps).
func rankNearest(self Peer, ps []Peer, newcomer bool, keys []uint8) (rack int) {
	levels := zone.Levels(self.Zone)
	top := 2 * (levels + 1) // the rank of the rack's non-seeders
	var present uint32
	for i, p := range ps {
		k := 2 * zone.Common(self.Zone, p.Zone)
		if p.Zone == self.Zone {
			k = top
		}
		if newcomer && p.Seeder() {
			k++
		}
		keys[i] = uint8(k)
		present |= 1 << k
	}
	start := 0
	for k := top + 1; k >= 0; k-- {
		if present&(1<<k) == 0 {
			continue
		}
		// Move rank k to the front of what is left, keeping its order.
		j := start
		for i := start; i < len(ps); i++ {
			if int(keys[i]) == k {
				ps[j], ps[i] = ps[i], ps[j]
				keys[j], keys[i] = keys[i], keys[j]
				j++
			}
		}
		if k >= top {
			rack = j
		}
		start = j
	}
	return rack
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
	for i := range ps {
		if keep(ps[i]) {
			if k != i {
				ps[k], ps[i] = ps[i], ps[k]
			}
			k++
		}
	}
	return k
}
