package tracker

import (
	"fmt"
	"math/rand/v2"
	"testing"
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
	pol := NewDefaultPolicy(rand.New(rand.NewPCG(7, 7)))
	newPeer := Peer{Left: 100}
	for range 50 {
		got := pol.Handout(newPeer, swarmOf(3, 30), 5)
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
	for _, p := range pol.Handout(newPeer, swarmOf(10, 10), 4) {
		if !p.Seeder() {
			t.Fatalf("leecher handed out while seeders remain")
		}
	}
}

func TestDefaultPolicyRandomSampleOtherwise(t *testing.T) {
	pol := NewDefaultPolicy(rand.New(rand.NewPCG(7, 7)))
	trading := Peer{Left: 100, Downloaded: 1}
	seen := map[[20]byte]int{}
	seederSlots := 0
	const rounds, n = 400, 5
	for range rounds {
		got := pol.Handout(trading, swarmOf(2, 18), n)
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
	pol := NewDefaultPolicy(rand.New(rand.NewPCG(1, 1)))
	if got := pol.Handout(Peer{}, swarmOf(1, 1), 0); len(got) != 0 {
		t.Fatalf("n=0 gave %d", len(got))
	}
	if got := pol.Handout(Peer{Left: 1}, swarmOf(1, 2), 10); len(got) != 3 {
		t.Fatalf("n>len gave %d", len(got))
	}
	if got := pol.Handout(Peer{Left: 1}, nil, 10); len(got) != 0 {
		t.Fatalf("empty swarm gave %d", len(got))
	}
}
