package tracker

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func swarmOf(seeders, leechers int) []Peer {
	var ps []Peer
	for i := range seeders + leechers {
		p := Peer{ID: id20(fmt.Sprint("p", i)), Addr: loop(uint16(1000 + i)), Left: 0, Downloaded: 5}
		if i >= seeders {
			p.Left = 10
		}
		ps = append(ps, p)
	}
	return ps
}

func TestDefaultPolicySeedersFirstForNewPeer(t *testing.T) {
	pol := NewDefaultPolicy(rand.New(rand.NewPCG(7, 7)), nil)
	newPeer := Peer{Left: 100}
	for range 50 {
		got := pol.Handout(t0, newPeer, swarmOf(3, 30), 5)
		if len(got) != 5 {
			t.Fatalf("len %d", len(got))
		}
		for i, p := range got {
			if p.Seeder() != (i < 3) {
				t.Fatalf("position %d seeder=%v: %v", i, p.Seeder(), got)
			}
		}
	}
	// More seeders than wanted: all seeders.
	for _, p := range pol.Handout(t0, newPeer, swarmOf(10, 10), 4) {
		if !p.Seeder() {
			t.Fatalf("leecher handed out while seeders remain")
		}
	}
}

func TestDefaultPolicyRandomSampleOtherwise(t *testing.T) {
	pol := NewDefaultPolicy(rand.New(rand.NewPCG(7, 7)), nil)
	trading := Peer{Left: 100, Downloaded: 1}
	seen := map[[20]byte]int{}
	seederSlots := 0
	const rounds, n = 400, 5
	for range rounds {
		got := pol.Handout(t0, trading, swarmOf(2, 18), n)
		ids := map[[20]byte]bool{}
		for _, p := range got {
			if ids[p.ID] {
				t.Fatalf("duplicate in handout %v", got)
			}
			ids[p.ID] = true
			seen[p.ID]++
			if p.Seeder() {
				seederSlots++
			}
		}
	}
	if len(seen) != 20 {
		t.Fatalf("only %d of 20 peers ever handed out", len(seen))
	}
	// Uniform: seeders hold 2/20 of slots, not the 2/5 seeders-first gives.
	if frac := float64(seederSlots) / (rounds * n); frac > 0.2 {
		t.Fatalf("seeders got %.2f of slots; sample is not uniform", frac)
	}
}

func TestDefaultPolicyBounds(t *testing.T) {
	pol := NewDefaultPolicy(rand.New(rand.NewPCG(1, 1)), nil)
	if got := pol.Handout(t0, Peer{}, swarmOf(1, 1), 0); len(got) != 0 {
		t.Fatalf("n=0 gave %d", len(got))
	}
	if got := pol.Handout(t0, Peer{Left: 1}, swarmOf(1, 2), 10); len(got) != 3 {
		t.Fatalf("n>len gave %d", len(got))
	}
	if got := pol.Handout(t0, Peer{Left: 1}, nil, 10); len(got) != 0 {
		t.Fatalf("empty swarm gave %d", len(got))
	}
}

var t0 = time.Unix(1_700_000_000, 0)

func TestDefaultPolicySeederGetsLeechersOnly(t *testing.T) {
	pol := NewDefaultPolicy(rand.New(rand.NewPCG(3, 3)), nil)
	for range 20 {
		got := pol.Handout(t0, Peer{Left: 0, Downloaded: 10}, swarmOf(5, 4), 10)
		if len(got) != 4 {
			t.Fatalf("seeder got %d peers, want the 4 leechers", len(got))
		}
		for _, p := range got {
			if p.Seeder() {
				t.Fatalf("seeder handed a seeder: %v", got)
			}
		}
	}
	if got := pol.Handout(t0, Peer{}, swarmOf(3, 0), 10); len(got) != 0 {
		t.Fatalf("seeder in an all-seeder swarm got %d", len(got))
	}
}

func TestDefaultPolicyHandoutBudget(t *testing.T) {
	const window = 30 * time.Second
	budget := NewHandoutBudget(3, window, 0)
	pol := NewDefaultPolicy(rand.New(rand.NewPCG(5, 5)), budget)
	swarm := swarmOf(1, 10) // p0 is the only seeder
	seederCount := func(now time.Time, rounds int) int {
		c := 0
		for range rounds {
			for _, p := range pol.Handout(now, Peer{Left: 100}, slices.Clone(swarm), 2) {
				if p.Seeder() {
					c++
				}
			}
		}
		return c
	}
	// Ten new peers all want the seeder first; only three get it.
	if got := seederCount(t0, 10); got != 3 {
		t.Fatalf("seeder handed out %d times in one window, budget 3", got)
	}
	// A new window restores the budget.
	if got := seederCount(t0.Add(window), 10); got != 3 {
		t.Fatalf("next window: seeder handed out %d times, want 3", got)
	}
	// When every peer is spent, they are still handed out: nobody is left
	// with an empty list.
	small := NewDefaultPolicy(rand.New(rand.NewPCG(5, 5)), NewHandoutBudget(1, window, 0))
	two := swarmOf(1, 1)
	for i := range 5 {
		if got := small.Handout(t0, Peer{Left: 100}, slices.Clone(two), 5); len(got) != 2 {
			t.Fatalf("round %d: got %d peers, want 2 (spent peers as a last resort)", i, len(got))
		}
	}
}

func TestHandoutBudgetMemoryBound(t *testing.T) {
	b := NewHandoutBudget(1, time.Minute, 2)
	b.Spend(swarmOf(0, 3), t0)
	ps := swarmOf(0, 3)
	if !b.Exhausted(ps[0].Addr, t0) || !b.Exhausted(ps[1].Addr, t0) || b.Exhausted(ps[2].Addr, t0) {
		t.Fatal("budget past its memory bound should not count new peers")
	}
}

// TestHandoutBudgetFresh checks Fresh, which looks up only the peers its
// filter marks, against the plain rule (the peers not Exhausted, in
// order, first) as peers are spent, IPv4 and IPv6, across a new window.
func TestHandoutBudgetFresh(t *testing.T) {
	const window = 30 * time.Second
	rng := rand.New(rand.NewPCG(3, 4))
	ps := swarmOf(0, 3000)
	for i := range ps[:1000] {
		ps[i].Addr = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 15: byte(i), 14: byte(i >> 8)}), uint16(6881+i%3))
	}
	b := NewHandoutBudget(2, window, 0)
	for round := range 200 {
		now := t0.Add(time.Duration(round/100) * window)
		k := rng.IntN(20)
		spend := make([]Peer, k)
		for j := range spend {
			spend[j] = ps[rng.IntN(len(ps))]
		}
		b.Spend(spend, now)
		got := slices.Clone(ps)
		n := b.Fresh(got, now)
		var want []Peer
		for _, p := range ps {
			if !b.Exhausted(p.Addr, now) {
				want = append(want, p)
			}
		}
		if n != len(want) || !slices.Equal(got[:n], want) {
			t.Fatalf("round %d: Fresh kept %d peers, want %d in order", round, n, len(want))
		}
	}
}
