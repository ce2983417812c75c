package swarm

import (
	"math/rand"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// referencePick is the obvious picker: every piece p has, we lack and nobody
// downloads, with the least availability.
func referencePick(s *Swarm, p *peer) (rarest map[int]bool, any bool) {
	best := int32(1 << 30)
	rarest = map[int]bool{}
	for i := 0; i < s.cfg.NumPieces; i++ {
		if !p.has.get(i) || s.have.get(i) || s.dl[i] != nil {
			continue
		}
		any = true
		switch {
		case s.avail[i] < best:
			best, rarest = s.avail[i], map[int]bool{i: true}
		case s.avail[i] == best:
			rarest[i] = true
		}
	}
	return rarest, any
}

func TestPickerMatchesReference(t *testing.T) {
	now := time.Unix(0, 0)
	for seed := int64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		n := 1 + rng.Intn(300)
		have := make([]bool, n)
		for i := range have {
			have[i] = rng.Intn(3) == 0
		}
		random := rng.Intn(4) == 0
		cfg := Config{NumPieces: n, PieceLength: 32768, TotalLength: int64(n) * 32768, Have: have, Seed: seed, RandomFirstPieces: -1}
		if random {
			cfg.RandomFirstPieces = n + 1
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		peers := 1 + rng.Intn(12)
		density := rng.Float64()
		for c := 1; c <= peers; c++ {
			s.AddPeer(now, ConnID(c), PeerInfo{})
			bf := make([]byte, (n+7)/8)
			for i := 0; i < n; i++ {
				if rng.Float64() < density {
					bf[i/8] |= 0x80 >> (i % 8)
				}
			}
			s.Receive(now, ConnID(c), wire.Message{Type: wire.Bitfield, Bitfield: bf})
		}
		for k := rng.Intn(5); k > 0; k-- { // some pieces already in progress
			if i := rng.Intn(n); !s.have.get(i) && s.dl[i] == nil {
				s.startPiece(i)
			}
		}
		s.Actions()
		p := s.peers[rng.Intn(len(s.peers))]
		p.peerChoking = false // as if unchoked, without the fill that follows
		rarest, any := referencePick(s, p)
		got := s.pickPiece(p, farFilter{})
		switch {
		case !any && got != -1:
			t.Fatalf("seed %d: picked %d with no candidate", seed, got)
		case any && got == -1:
			t.Fatalf("seed %d: picked nothing, candidates exist", seed)
		case any && random && (!p.has.get(got) || s.have.get(got) || s.dl[got] != nil):
			t.Fatalf("seed %d: random pick %d is not a candidate", seed, got)
		case any && !random && !rarest[got]:
			t.Fatalf("seed %d: picked %d (avail %d), not among the rarest %v", seed, got, s.avail[got], rarest)
		}
	}
}

// TestPickerBreaksTiesRandomly checks that every tied rarest piece gets
// picked sometimes: the tie-break is random, not positional.
func TestPickerBreaksTiesRandomly(t *testing.T) {
	s, err := New(Config{NumPieces: 8, PieceLength: 16384, TotalLength: 8 * 16384, RandomFirstPieces: -1, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	s.AddPeer(now, 1, PeerInfo{})
	s.Receive(now, 1, wire.Message{Type: wire.Bitfield, Bitfield: []byte{0xff}})
	s.AddPeer(now, 2, PeerInfo{})
	s.Receive(now, 2, wire.Message{Type: wire.Bitfield, Bitfield: []byte{0x0f}}) // pieces 4-7 commoner
	s.byID.get(1).peerChoking = false
	seen := map[int]int{}
	for k := 0; k < 400; k++ {
		seen[s.pickPiece(s.byID.get(1), farFilter{})]++
	}
	for i := 0; i < 4; i++ {
		if seen[i] == 0 {
			t.Errorf("rarest piece %d never picked: %v", i, seen)
		}
	}
	for i := 4; i < 8; i++ {
		if seen[i] != 0 {
			t.Errorf("common piece %d picked: %v", i, seen)
		}
	}
}
