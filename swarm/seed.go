package swarm

import (
	"math"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// initialSeed is the state of BEP 16 style super-seeding: an origin that
// holds every piece hides them and reveals them one peer at a time, always
// the pieces the swarm holds fewest copies of. Until every piece has left
// once no piece leaves twice; after that the origin keeps spending its
// upload on the rarest pieces instead of serving whatever is asked, which
// in a fleet where the origin's link is the bottleneck keeps its egress
// close to one copy of the file.
type initialSeed struct {
	pending []int32 // revealed and not yet fetched, per piece
	sent    []int32 // times each piece was sent whole
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
	return &initialSeed{pending: make([]int32, n), sent: make([]int32, n), out: newBitset(n)}
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

// revealTo tells p about pieces it lacks, ties at random, until p has
// enough to fetch: first pieces that never went out and are revealed to
// nobody, so every piece leaves once before any leaves twice; then the
// pieces with the fewest known copies (our sends, peers that announced it,
// reveals not yet fetched).
func (s *Swarm) revealTo(now time.Time, p *peer) {
	seed := s.seed
	for want := s.revealTarget(p); len(p.reveals) < want; {
		choice, ties, best := -1, 0, int32(math.MaxInt32)
		for w := range p.has {
			free := ^(p.has[w] | p.told[w])
			if s.numWithheld > 0 {
				free &^= s.withheld[w]
			}
			for free != 0 {
				i := w*64 + trailingZeros(free)
				free &= free - 1
				if i >= s.cfg.NumPieces {
					break
				}
				var score int32
				switch {
				case !seed.out.get(i) && seed.pending[i] == 0:
					score = 0 // never went out, revealed to nobody
				case !seed.out.get(i):
					continue // on its way out to another peer
				case seed.numOut < s.cfg.NumPieces:
					// Pieces are still on their way out for the first time:
					// our upload goes to them, not to second copies.
					continue
				default:
					// Peers that got it from us don't announce it to us (we
					// "have" it), so count our own sends too.
					score = 1 + seed.sent[i] + s.avail[i] + seed.pending[i]
				}
				switch {
				case score < best:
					best, choice, ties = score, i, 1
				case score == best:
					ties++
					if s.rng.Intn(ties) == 0 {
						choice = i
					}
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
			s.seed.sent[r.piece]++
			p.reveals = append(p.reveals[:k], p.reveals[k+1:]...)
			s.markOut(now, int(spec.Piece))
			s.revealTo(now, p)
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
	s.revealTo(now, p)
}

// markOut records that piece i left the origin.
func (s *Swarm) markOut(now time.Time, i int) {
	if s.seed.out.get(i) {
		return
	}
	s.seed.out.set(i)
	s.seed.numOut++
	if s.seed.numOut == s.cfg.NumPieces {
		// Second copies may be revealed from now on: peers whose reveals ran
		// out while the last pieces were on their way get some.
		for _, q := range s.peers {
			s.revealTo(now, q)
		}
	}
}

// seedTick releases reveals a peer has not progressed on for two request
// timeouts, so a stalled peer cannot hold pieces back from the swarm, and
// tops up every peer's reveals.
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
		p.reveals = kept
		// Top up every peer, also one that had nothing left to be revealed
		// a moment ago.
		s.revealTo(now, p)
	}
}
