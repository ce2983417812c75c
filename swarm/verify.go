package swarm

import (
	"fmt"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// PieceVerified reports the hash check of a piece the core asked to verify.
// On success the piece counts as had, Have goes to every peer lacking it and
// interest is updated; Completed follows the last piece. On failure the
// piece's blocks are missing again and its contributors are blamed: a sole
// contributor is banned; with several contributors the piece is fetched again from a single peer so that the next failure names
// the culprit. Reports for pieces not being verified are ignored.
func (s *Swarm) PieceVerified(now time.Time, piece int, ok bool) {
	if piece < 0 || piece >= s.cfg.NumPieces {
		return
	}
	d := s.dl[piece]
	if d == nil || !d.verifying {
		return
	}
	if ok {
		s.pieceDone(now, piece)
	} else {
		s.pieceFailed(now, piece, d)
	}
	s.flush(now)
}

// pieceDone marks piece as had and tells the peers.
func (s *Swarm) pieceDone(now time.Time, piece int) {
	s.dl[piece] = nil
	for k, i := range s.active {
		if i == piece {
			s.active = append(s.active[:k], s.active[k+1:]...)
			break
		}
	}
	s.have.set(piece)
	s.numHave++
	for _, p := range s.peers {
		if p.has.get(piece) {
			p.wanted--
			s.updateInterest(p)
		} else {
			s.send(p, wire.Message{Type: wire.Have, Index: uint32(piece)})
		}
	}
	if s.Complete() {
		s.emit(Action{Kind: Completed})
	}
}

// pieceFailed blames the contributors of a piece that failed its hash and
// resets its blocks.
func (s *Swarm) pieceFailed(now time.Time, piece int, d *pieceDL) {
	s.stats.hashFails++
	s.ids = s.ids[:0]
	for _, b := range d.blocks {
		seen := false
		for _, id := range s.ids {
			if id == b.from {
				seen = true
				break
			}
		}
		if !seen {
			s.ids = append(s.ids, b.from)
		}
	}
	for k := range d.blocks {
		d.blocks[k] = block{}
	}
	d.written, d.verifying = 0, false
	d.unrequested = len(d.blocks)
	s.unrequested += len(d.blocks)
	s.needFill = true
	if len(s.ids) == 1 {
		d.exclusive, d.ownerSet = false, false
		s.ban(now, s.ids[0], fmt.Sprintf("sent corrupt piece %d", piece))
		return
	}
	// Several contributors: fetch it again from one, so the next failure
	// names the culprit.
	d.exclusive, d.ownerSet = true, false
}

// updateInterest sends Interested or NotInterested when our interest in p
// changed.
func (s *Swarm) updateInterest(p *peer) {
	want := p.wanted > 0 && !s.Complete()
	if want == p.amInterested {
		return
	}
	p.amInterested = want
	if want {
		s.send(p, wire.Message{Type: wire.Interested})
	} else {
		s.send(p, wire.Message{Type: wire.NotInterested})
	}
}
