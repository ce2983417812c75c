package swarm

import (
	"fmt"
	"slices"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// PieceVerified reports the hash check of a piece the core asked to verify.
// On success the piece counts as had, Have goes to every peer lacking it and
// interest is updated; Completed follows the last piece. On failure the
// piece's blocks are missing again and its contributors are blamed: a sole
// contributor is banned; with several contributors the piece is fetched
// again from a single peer so that the next failure names the culprit.
// Reports for pieces not being verified are ignored.
//
// A banned culprit that no other connected peer can replace for that piece
// (a sole source, typically an origin whose file changed under it) is
// banned only for Config.SoleSourceRetry: banning it for good would stall
// the download for ever, while trying it again later costs one piece and
// finds it fixed, or withholding the piece (see PieceChecked) and serving
// the rest. A liar among several sources is banned for good.
func (s *Swarm) PieceVerified(now time.Time, piece int, ok bool) {
	s.PieceVerifiedBlocks(now, piece, ok, nil)
}

// BlockDigest is the SHA-1 of one block's bytes as received.
type BlockDigest [20]byte

// maxSuspectCopies bounds the failed copies of one piece kept for
// comparison.
const maxSuspectCopies = 2

// failedCopy is a copy of a piece that failed its hash: per block, who sent
// it and its digest.
type failedCopy struct {
	from    []ConnID
	digests []BlockDigest
}

// PieceVerifiedBlocks is PieceVerified with the digest of every block of
// the piece as it was hashed (nil when the runtime could not compute them,
// e.g. for a piece written through to disk). A runtime should report
// digests whenever a piece fails, and when VerifyPiece asked for them.
//
// They make bans precise where several peers contributed to a failed piece
// (libtorrent calls this smart ban): the failed copy's digests and senders
// are kept, and when a later copy verifies, every peer whose block differed
// from the good one sent corrupt data and is banned for good, even if it
// contributed to no failure on its own. Without digests the culprit is
// found only by fetching the piece again from a single peer.
func (s *Swarm) PieceVerifiedBlocks(now time.Time, piece int, ok bool, digests []BlockDigest) {
	s.step()
	if piece < 0 || piece >= s.cfg.NumPieces {
		return
	}
	d := s.dl[piece]
	if d == nil || !d.verifying {
		return
	}
	if len(digests) != len(d.blocks) {
		digests = nil
	}
	s.farDone(now, piece, ok) // locality.go
	if ok {
		s.banLiars(now, piece, d, digests)
		s.pieceDone(now, piece)
	} else {
		s.pieceFailed(now, piece, d, digests)
	}
	s.flush(now)
}

// banLiars compares the good copy of a piece with its failed copies and
// bans the senders of every block that differed.
func (s *Swarm) banLiars(now time.Time, piece int, d *pieceDL, good []BlockDigest) {
	if good == nil {
		return
	}
	s.ids = s.ids[:0]
	for _, fc := range d.suspects {
		for i, dg := range fc.digests {
			if dg == good[i] || slices.Contains(s.ids, fc.from[i]) {
				continue
			}
			s.ids = append(s.ids, fc.from[i])
		}
	}
	for _, c := range s.ids {
		s.ban(now, c, fmt.Sprintf("sent corrupt data in piece %d (its blocks differ from the copy that verified)", piece), time.Time{})
	}
}

// pieceDone marks piece as had and tells the peers.
func (s *Swarm) pieceDone(now time.Time, piece int) {
	d := s.dl[piece]
	if d.unrequested > 0 {
		s.dropOpen(piece, d)
	}
	s.dl[piece] = nil
	s.spare(d)
	s.started.clear(piece)
	for k, i := range s.active {
		if i == piece {
			s.active = append(s.active[:k], s.active[k+1:]...)
			break
		}
	}
	s.have.set(piece)
	s.numHave++
	// Read every peer's bit first, in a loop without branches on it, so
	// the loads of the peers' bitsets overlap (a simulator stepping
	// thousands of cores finds them cold); then act on them.
	had := s.hadScratch[:0]
	for _, p := range s.peers {
		had = append(had, p.has.get(piece))
	}
	s.hadScratch = had
	for k, p := range s.peers {
		if had[k] {
			p.wanted--
			s.updateInterest(p)
		} else {
			s.send(p, wire.Message{Type: wire.Have, Index: uint32(piece)})
		}
	}
	if s.Complete() {
		s.spareDL = nil // a complete torrent starts no piece again
		s.emit(Action{Kind: Completed})
	}
}

// spare keeps d, the download state of a piece just done and no longer
// referenced, for startPiece to reuse, unless maxSpareDL are kept already.
func (s *Swarm) spare(d *pieceDL) {
	if len(s.spareDL) < maxSpareDL && !s.Complete() {
		d.suspects = nil // drop the failed copies now, not at reuse
		s.spareDL = append(s.spareDL, d)
	}
}

// pieceFailed blames the contributors of a piece that failed its hash and
// resets its blocks.
func (s *Swarm) pieceFailed(now time.Time, piece int, d *pieceDL, digests []BlockDigest) {
	s.stats.hashFails++
	if digests != nil {
		fc := failedCopy{from: make([]ConnID, len(d.blocks)), digests: slices.Clone(digests)}
		for i, b := range d.blocks {
			fc.from[i] = b.from
		}
		if len(d.suspects) == maxSuspectCopies {
			d.suspects = append(d.suspects[:0], d.suspects[1:]...)
		}
		d.suspects = append(d.suspects, fc)
	}
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
	d.written, d.verifying, d.scanFrom = 0, false, 0
	if d.unrequested == 0 {
		s.addOpen(piece, d)
	}
	d.unrequested = len(d.blocks)
	s.unrequested += len(d.blocks)
	s.needFill = true
	if len(s.ids) == 1 {
		d.exclusive, d.ownerSet = false, false
		culprit := s.ids[0]
		var until time.Time
		if s.soleSource(culprit, piece) {
			until = now.Add(s.cfg.SoleSourceRetry)
		}
		s.ban(now, culprit, fmt.Sprintf("sent corrupt piece %d", piece), until)
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

// soleSource reports whether no connected peer but c has piece.
func (s *Swarm) soleSource(c ConnID, piece int) bool {
	others := s.avail[piece]
	if p := s.byID.get(c); p != nil && p.has.get(piece) {
		others--
	}
	return others <= 0
}

// PieceChecked reports a re-verification of a piece we have, which the
// runtime ran on its own initiative: the piece's file changed on disk, or a
// peer hung up right after we sent it the piece (as a peer that found it
// corrupt does). A piece that no longer verifies is withheld: its queued
// uploads are dropped, its requests are rejected (BEP 6 Reject; plain
// peers get nothing and time out), and it is left out of the bitfield new
// peers get and out of initial-seeding reveals. BitTorrent has no way to
// take back a Have, so peers told earlier keep asking and get the Reject,
// which real clients accept and answer by asking elsewhere. The piece still
// counts as had (a read-only origin cannot fetch it back). A withheld piece
// that verifies again is served again and announced with Have. Reports for
// pieces we do not have are ignored.
func (s *Swarm) PieceChecked(now time.Time, piece int, ok bool) {
	s.step()
	if piece < 0 || piece >= s.cfg.NumPieces || !s.have.get(piece) {
		return
	}
	withheld := s.numWithheld > 0 && s.withheld.get(piece)
	switch {
	case !ok && !withheld:
		s.withhold(now, piece)
	case ok && withheld:
		s.withheld[piece>>6] &^= 1 << (uint(piece) & 63)
		s.numWithheld--
		for _, p := range s.peers {
			switch {
			case s.seed != nil:
				s.revealTo(now, p) // it may be revealed again
			case !p.has.get(piece):
				s.send(p, wire.Message{Type: wire.Have, Index: uint32(piece)})
			}
		}
	}
	s.flush(now)
}

// withhold stops serving piece: queued uploads of it are dropped and
// rejected, and reveals of it are taken back.
func (s *Swarm) withhold(now time.Time, piece int) {
	if s.withheld == nil {
		s.withheld = newBitset(s.cfg.NumPieces)
	}
	s.withheld.set(piece)
	s.numWithheld++
	for _, p := range s.peers {
		for k := 0; k < len(p.uploads); {
			spec := p.uploads[k]
			if int(spec.Piece) != piece {
				k++
				continue
			}
			if p.removeUpload(k) {
				s.emit(Action{Kind: DropBlock, Conn: p.id, Block: spec})
			}
			s.reject(p, spec)
		}
		s.admit(p)
		if s.seed == nil {
			continue
		}
		for k, r := range p.reveals {
			if r.piece == piece {
				s.seed.pending[piece]--
				p.reveals = append(p.reveals[:k], p.reveals[k+1:]...)
				s.revealTo(now, p)
				break
			}
		}
	}
}

// canServe reports whether we may send piece to peers: verified and not
// withheld.
func (s *Swarm) canServe(piece int) bool {
	if piece < 0 || piece >= s.cfg.NumPieces || !s.have.get(piece) {
		return false
	}
	return s.numWithheld == 0 || !s.withheld.get(piece)
}

// Withheld returns how many pieces we have but no longer serve because they
// failed a re-verification (see PieceChecked).
func (s *Swarm) Withheld() int { return s.numWithheld }
