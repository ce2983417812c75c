package swarm

import (
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// Block states inside a piece being downloaded.
const (
	blockMissing  uint8 = iota // not received (may be requested)
	blockReceived              // WriteBlock emitted, BlockWritten pending
	blockWritten               // on disk, waiting for the rest of the piece
)

// maxDuplicates bounds the extra copies of one block requested in endgame.
const maxDuplicates = 2

// pieceDL is the download state of one piece in progress.
type pieceDL struct {
	blocks      []block
	unrequested int    // blocks missing and requested from nobody
	seq         uint64 // when it started, in startPiece calls: its place in active
	index       int    // the piece's index
	written     int
	verifying   bool
	// exclusive pieces failed their hash with several contributors and are
	// fetched again from a single owner, so the next failure names a culprit.
	exclusive bool
	ownerSet  bool
	owner     ConnID
	// suspects are earlier copies of the piece that failed their hash, with
	// who sent each block and its digest, when the runtime reported them;
	// the copy that verifies names the senders of the blocks that differ.
	// At most maxSuspectCopies.
	suspects []failedCopy
}

// block is the state of one block of a piece in progress.
type block struct {
	state      uint8
	reqs       uint8  // outstanding requests for it
	from       ConnID // who delivered it (received or written)
	avoid      ConnID // peer that timed out or rejected it
	avoidUntil int64  // unix nanoseconds until which avoid applies
}

// startPiece creates the download state of piece i.
func (s *Swarm) startPiece(i int) *pieceDL {
	n := s.numBlocks(i)
	s.dlSeq++
	d := &pieceDL{blocks: make([]block, n), unrequested: n, seq: s.dlSeq, index: i}
	s.dl[i] = d
	s.active = append(s.active, i)
	s.open = append(s.open, i) // the latest start goes last
	return d
}

// openAt returns the index in s.open of the first piece that started at
// or after seq.
func (s *Swarm) openAt(seq uint64) int {
	lo, hi := 0, len(s.open)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.dl[s.open[m]].seq < seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// addOpen puts piece i, whose unrequested count just rose from zero, back
// in s.open at its place.
func (s *Swarm) addOpen(i int, d *pieceDL) {
	k := s.openAt(d.seq)
	s.open = append(s.open, 0)
	copy(s.open[k+1:], s.open[k:])
	s.open[k] = i
}

// dropOpen takes piece i, whose unrequested count just fell to zero (or
// which is done), out of s.open.
func (s *Swarm) dropOpen(i int, d *pieceDL) {
	if k := s.openAt(d.seq); k < len(s.open) && s.open[k] == i {
		s.open = append(s.open[:k], s.open[k+1:]...)
	}
}

// canUse reports whether we may request blocks of piece i from p now.
func (p *peer) canUse(i int) bool {
	if !p.has.get(i) {
		return false
	}
	if !p.peerChoking {
		return true
	}
	for _, a := range p.allowedFast {
		if int(a) == i {
			return true
		}
	}
	return false
}

// fill tops up p's request pipeline.
func (s *Swarm) fill(now time.Time, p *peer) {
	if !p.amInterested || (p.peerChoking && len(p.allowedFast) == 0) || s.awaitingZone(now, p) {
		return
	}
	t := s.target(p)
	far := s.farFilterFor(now, p)
	var cur scanCursor
	for len(p.reqs) < t {
		i, b, ok := s.nextBlock(now, p, far, &cur)
		if !ok {
			p.pipe.starved() // what it has for us, not the pipeline, limits it
			return
		}
		s.request(now, p, i, b)
	}
}

// scanCursor is where nextBlock's scan of the pieces in progress stopped
// during one fill (the start sequence of the piece and the block):
// requesting a block changes nothing that would make an earlier piece or
// block eligible for the same peer (the far filter is fixed for the fill
// and passes every piece in progress), so the next call resumes there
// instead of rescanning, and a fill costs one pass over the open pieces
// rather than one per request. Its zero value starts at the first piece.
type scanCursor struct {
	seq uint64
	b   int
}

// nextBlock chooses the next block to request from p: an unrequested block of
// a piece in progress, else the first block of a newly picked piece, else in
// endgame a block already requested elsewhere; far filters what a far peer
// may be asked for. cur carries the scan's position between the calls of
// one fill.
func (s *Swarm) nextBlock(now time.Time, p *peer, far farFilter, cur *scanCursor) (piece, blk int, ok bool) {
	ns := now.UnixNano()
	// s.open holds the pieces of s.active with unrequested blocks, in the
	// same order, so the first eligible one is the first in s.active.
	for k := s.openAt(cur.seq); k < len(s.open); k++ {
		i := s.open[k]
		d := s.dl[i]
		if d.verifying || !s.mayFetch(d, p) || !p.canUse(i) || !far.allows(i) {
			continue
		}
		b0 := 0
		if d.seq == cur.seq {
			b0 = cur.b
		}
		for b := b0; b < len(d.blocks); b++ {
			bl := &d.blocks[b]
			if bl.state == blockMissing && bl.reqs == 0 && (bl.avoid != p.id || ns >= bl.avoidUntil) {
				cur.seq, cur.b = d.seq, b
				return i, b, true
			}
		}
	}
	cur.seq, cur.b = s.dlSeq+1, 0
	if i := s.pickPiece(p, far); i >= 0 {
		d := s.startPiece(i)
		if far.far {
			s.farStarted(now, i) // locality.go
		}
		cur.seq = d.seq // the new piece, last
		return i, 0, true
	}
	if s.unrequested != 0 {
		return 0, 0, false
	}
	for _, i := range s.active {
		d := s.dl[i]
		if d.verifying || !s.mayFetch(d, p) || !p.canUse(i) || !far.allows(i) {
			continue
		}
		for b := range d.blocks {
			bl := &d.blocks[b]
			if bl.state == blockMissing && bl.reqs > 0 && bl.reqs <= maxDuplicates &&
				(bl.avoid != p.id || ns >= bl.avoidUntil) && p.findRequest(s.blockSpec(i, b)) < 0 {
				return i, b, true
			}
		}
	}
	return 0, 0, false
}

// mayFetch reports whether p may contribute to d (exclusive pieces are
// fetched from their owner only).
func (s *Swarm) mayFetch(d *pieceDL, p *peer) bool {
	return !d.exclusive || !d.ownerSet || d.owner == p.id
}

// pickPiece returns a piece to start downloading from p, or -1: a random one
// among the first RandomFirstPieces, else the rarest (random tie-break) among
// the pieces p has that we lack, nobody is downloading yet and far allows.
func (s *Swarm) pickPiece(p *peer, far farFilter) int {
	random := s.numHave < s.cfg.RandomFirstPieces
	best, choice, ties := int32(1<<30), -1, 0
	consider := func(i int) {
		if s.dl[i] != nil || s.have.get(i) || !far.allows(i) {
			return
		}
		a := s.avail[i]
		if random {
			a = 0
		}
		switch {
		case a < best:
			best, choice, ties = a, i, 1
		case a == best:
			ties++
			if s.rng.Intn(ties) == 0 {
				choice = i
			}
		}
	}
	if p.peerChoking {
		for _, a := range p.allowedFast {
			if p.has.get(int(a)) {
				consider(int(a))
			}
		}
		return choice
	}
	for w, word := range p.has {
		word &^= s.have[w]
		for word != 0 {
			consider(w*64 + trailingZeros(word))
			word &= word - 1
		}
	}
	return choice
}

// request sends a request for block b of piece i to p.
func (s *Swarm) request(now time.Time, p *peer, i, b int) {
	d := s.dl[i]
	bl := &d.blocks[b]
	if d.exclusive && !d.ownerSet {
		d.ownerSet, d.owner = true, p.id
	}
	bl.reqs++
	if bl.reqs == 1 {
		d.unrequested--
		s.unrequested--
		if d.unrequested == 0 {
			s.dropOpen(i, d)
		}
		if s.unrequested == 0 {
			s.needFill = true // endgame starts: let every peer duplicate
		}
	}
	spec := s.blockSpec(i, b)
	p.reqs = append(p.reqs, request{spec: spec, at: now, seq: p.pipe.sent()})
	s.send(p, wire.Message{Type: wire.Request, Index: spec.Piece, Begin: spec.Begin, Length: spec.Length})
}

// findRequest returns the index of spec in p.reqs, or -1.
func (p *peer) findRequest(spec BlockSpec) int {
	for k, r := range p.reqs {
		if r.spec == spec {
			return k
		}
	}
	return -1
}

// lookupBlock returns the state of the block named by spec if it belongs to a
// piece in progress and sits on the block grid.
func (s *Swarm) lookupBlock(spec BlockSpec) (*pieceDL, *block) {
	if int64(spec.Piece) >= int64(s.cfg.NumPieces) || spec.Begin%wire.BlockSize != 0 {
		return nil, nil
	}
	d := s.dl[spec.Piece]
	if d == nil {
		return nil, nil
	}
	b := int(spec.Begin / wire.BlockSize)
	if b >= len(d.blocks) || s.blockSpec(int(spec.Piece), b) != spec {
		return nil, nil
	}
	return d, &d.blocks[b]
}

// unrequest removes p.reqs[k] and returns its block to the pool. avoid keeps
// p from being asked for the same block again for one request timeout.
func (s *Swarm) unrequest(now time.Time, p *peer, k int, avoid bool) {
	spec := p.reqs[k].spec
	p.reqs = append(p.reqs[:k], p.reqs[k+1:]...)
	d, bl := s.lookupBlock(spec)
	if bl == nil {
		return
	}
	if bl.reqs > 0 {
		bl.reqs--
	}
	if avoid {
		bl.avoid, bl.avoidUntil = p.id, now.Add(s.cfg.RequestTimeout).UnixNano()
	}
	s.freeBlock(d, bl)
}

// freeBlock returns bl to the pool of blocks to request once it is missing
// and requested from nobody.
func (s *Swarm) freeBlock(d *pieceDL, bl *block) {
	if bl.state == blockMissing && bl.reqs == 0 {
		d.unrequested++
		s.unrequested++
		s.needFill = true
		if d.unrequested == 1 {
			s.addOpen(d.index, d)
		}
	}
}

// onPiece handles a block arriving from p.
func (s *Swarm) onPiece(now time.Time, p *peer, spec BlockSpec) {
	s.stats.downloaded += int64(spec.Length)
	p.downWindow += int64(spec.Length)
	s.maybeSample(now, p)
	k := p.findRequest(spec)
	if k >= 0 {
		// Remove without returning the block to the pool: it is arriving.
		r := p.reqs[k]
		p.reqs = append(p.reqs[:k], p.reqs[k+1:]...)
		p.pipe.answered(now, r, p.reqs, s.stats.downloaded)
	}
	d, bl := s.lookupBlock(spec)
	if bl == nil || bl.state != blockMissing || !s.mayFetch(d, p) {
		if bl != nil && k >= 0 {
			bl.reqs--
			s.freeBlock(d, bl)
		}
		s.stats.wasted += int64(spec.Length)
		s.fill(now, p)
		return
	}
	if k >= 0 {
		bl.reqs--
	} else if bl.reqs == 0 {
		// Unrequested but wanted: it was counted as unrequested.
		d.unrequested--
		s.unrequested--
		if d.unrequested == 0 {
			s.dropOpen(int(spec.Piece), d)
		}
	}
	bl.state, bl.from = blockReceived, p.id
	if d.exclusive && !d.ownerSet {
		d.ownerSet, d.owner = true, p.id
	}
	s.emit(Action{Kind: WriteBlock, Conn: p.id, Block: spec})
	if bl.reqs > 0 {
		s.cancelDuplicates(p, spec, bl)
	}
	s.fill(now, p)
}

// cancelDuplicates cancels the endgame copies of spec requested from peers
// other than from.
func (s *Swarm) cancelDuplicates(from *peer, spec BlockSpec, bl *block) {
	for _, q := range s.peers {
		if bl.reqs == 0 {
			return
		}
		if q == from {
			continue
		}
		if k := q.findRequest(spec); k >= 0 {
			q.reqs = append(q.reqs[:k], q.reqs[k+1:]...)
			bl.reqs--
			s.send(q, wire.Message{Type: wire.Cancel, Index: spec.Piece, Begin: spec.Begin, Length: spec.Length})
		}
	}
	bl.reqs = 0 // requests of peers already gone were returned when they left
}

// BlockWritten reports the result of a WriteBlock. When every block of the
// piece is on disk the core emits VerifyPiece. A failed write returns the
// block to the pool.
func (s *Swarm) BlockWritten(now time.Time, spec BlockSpec, err error) {
	s.step()
	d, bl := s.lookupBlock(spec)
	if bl == nil || bl.state != blockReceived {
		return
	}
	if err != nil {
		bl.state, bl.from = blockMissing, 0
		s.freeBlock(d, bl)
		s.needFill = true
		s.flush(now)
		return
	}
	bl.state = blockWritten
	d.written++
	if d.written == len(d.blocks) {
		d.verifying = true
		s.emit(Action{Kind: VerifyPiece, Piece: int(spec.Piece), Digests: len(d.suspects) > 0})
	}
	s.flush(now)
}

// checkTimeouts cancels p's requests older than its effective timeout and
// returns their blocks to the pool.
func (s *Swarm) checkTimeouts(now time.Time, p *peer) {
	timeout := s.cfg.RequestTimeout
	if p.rateKnown && p.downRate > 0 {
		// A request queued behind many others at a slow peer needs longer.
		queue := time.Duration(float64(len(p.reqs)*wire.BlockSize) / p.downRate * 2 * float64(time.Second))
		timeout = max(timeout, min(queue, 4*s.cfg.RequestTimeout))
	}
	timedOut := false
	for len(p.reqs) > 0 && now.Sub(p.reqs[0].at) >= timeout {
		spec := p.reqs[0].spec
		s.send(p, wire.Message{Type: wire.Cancel, Index: spec.Piece, Begin: spec.Begin, Length: spec.Length})
		s.unrequest(now, p, 0, true)
		timedOut = true
	}
	if timedOut {
		// Snubbed: shrink its pipeline until it proves itself again.
		p.rateKnown, p.downRate = true, 0
		p.pipe.snubbed()
	}
}
