package swarm

import (
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// initialSeed is the state of BEP 16 style super-seeding: an origin that
// holds every piece hides them and reveals them one peer at a time, so that
// no piece leaves twice before every piece left once.
type initialSeed struct {
	pending []int32 // revealed and not yet fetched, per piece
	out     bitset  // pieces that went out at least once
	numOut  int
}

// reveal is a piece revealed to one peer and not fetched yet.
type reveal struct {
	piece int
	sent  int64     // bytes of it sent to that peer so far
	at    time.Time // reveal time or last progress
}

func newInitialSeed(n int) *initialSeed {
	return &initialSeed{pending: make([]int32, n), out: newBitset(n)}
}

// revealTarget returns how many unfetched pieces p should know of: two plus
// enough to cover its request pipeline.
func (s *Swarm) revealTarget(p *peer) int {
	blocks := initialPipeline
	if p.upRate > 0 {
		blocks = max(blocks, int(p.upRate/wire.BlockSize)+2)
	}
	if p.reqq > 0 {
		blocks = min(blocks, p.reqq)
	}
	blocks = min(blocks, s.cfg.MaxQueuedUploads)
	perPiece := s.cfg.PieceLength
	return 2 + int((int64(blocks)*wire.BlockSize+perPiece-1)/perPiece)
}

// revealTo tells p about pieces that have not gone out and are not revealed
// to anyone else, chosen at random, until p has enough to fetch.
func (s *Swarm) revealTo(now time.Time, p *peer) {
	seed := s.seed
	for want := s.revealTarget(p); len(p.reveals) < want; {
		choice, ties := -1, 0
		for w := range seed.out {
			free := ^(seed.out[w] | p.has[w] | p.told[w])
			for free != 0 {
				i := w*64 + trailingZeros(free)
				free &= free - 1
				if i >= s.cfg.NumPieces {
					break
				}
				if seed.pending[i] != 0 {
					continue
				}
				ties++
				if s.rng.Intn(ties) == 0 {
					choice = i
				}
			}
		}
		if choice < 0 {
			return
		}
		seed.pending[choice]++
		p.told.set(choice)
		p.reveals = append(p.reveals, reveal{piece: choice, at: now})
		s.send(p, wire.Message{Type: wire.Have, Index: uint32(choice)})
	}
}

// seedBlockSent counts bytes of revealed pieces sent to p; a fully sent piece
// has gone out and p is revealed another.
func (s *Swarm) seedBlockSent(now time.Time, p *peer, spec BlockSpec) {
	for k := range p.reveals {
		r := &p.reveals[k]
		if r.piece != int(spec.Piece) {
			continue
		}
		r.sent += int64(spec.Length)
		r.at = now
		if r.sent >= s.pieceLen(r.piece) {
			s.seed.pending[r.piece]--
			p.reveals = append(p.reveals[:k], p.reveals[k+1:]...)
			s.markOut(now, int(spec.Piece))
			if s.seed != nil {
				s.revealTo(now, p)
			}
		}
		return
	}
}

// seedPeerHas notes that p has piece i: the piece is out, and if it was
// revealed to p, p gets another.
func (s *Swarm) seedPeerHas(now time.Time, p *peer, i int) {
	for k, r := range p.reveals {
		if r.piece == i {
			s.seed.pending[i]--
			p.reveals = append(p.reveals[:k], p.reveals[k+1:]...)
			break
		}
	}
	s.markOut(now, i)
	if s.seed != nil {
		s.revealTo(now, p)
	}
}

// markOut records that piece i left the origin; when every piece did, initial
// seeding ends.
func (s *Swarm) markOut(now time.Time, i int) {
	if s.seed.out.get(i) {
		return
	}
	s.seed.out.set(i)
	s.seed.numOut++
	if s.seed.numOut == s.cfg.NumPieces {
		s.endInitialSeeding()
	}
}

// endInitialSeeding reveals every remaining piece to every peer and turns us
// into a normal seed.
func (s *Swarm) endInitialSeeding() {
	s.seed = nil
	for _, p := range s.peers {
		for i := 0; i < s.cfg.NumPieces; i++ {
			if !p.told.get(i) && !p.has.get(i) {
				s.send(p, wire.Message{Type: wire.Have, Index: uint32(i)})
			}
		}
		p.told, p.reveals = nil, nil
	}
}

// seedTick releases reveals a peer has not progressed on for two request
// timeouts, so a stalled peer cannot hold pieces back from the swarm.
func (s *Swarm) seedTick(now time.Time) {
	stale := 2 * s.cfg.RequestTimeout
	for _, p := range s.peers {
		kept := p.reveals[:0]
		for _, r := range p.reveals {
			if now.Sub(r.at) >= stale {
				s.seed.pending[r.piece]--
				continue
			}
			kept = append(kept, r)
		}
		if len(kept) != len(p.reveals) {
			p.reveals = kept
			s.revealTo(now, p)
		}
	}
}
