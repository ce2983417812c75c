package swarm

import (
	"slices"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// Block states inside a piece being downloaded.
const (
	blockMissing  uint8 = iota // not received (may be requested)
	blockReceived              // WriteBlock emitted, BlockWritten pending
	blockWritten               // on disk, waiting for the rest of the piece
)

// maxDuplicates bounds the extra copies of one block requested in endgame
// while its requests are young; maxHeldDuplicates bounds them once they
// are held (see mayDuplicate).
const (
	maxDuplicates     = 2
	maxHeldDuplicates = 6
)

// heldAnswers: in endgame, a block whose latest request is older than
// heldAnswers times the mean answer time (see answered) is held at its
// peers, and may be asked of one more (see mayDuplicate).
const heldAnswers = 4

// mayDuplicate reports whether bl, a missing block already requested, may
// be requested from one more peer in endgame: while it has at most
// maxDuplicates requests out, or, up to maxHeldDuplicates, once its latest
// request has gone unanswered heldAnswers times the mean answer time. An
// uploader serves the waiting peers in turns, the rarest piece first (see
// fillTurns), so near the end, when every piece is common, a request can
// wait there behind turn after turn without being shed; when the block's
// copies were all at such peers, nothing asked it elsewhere until one was
// rejected.
func (s *Swarm) mayDuplicate(now time.Time, bl *block) bool {
	if bl.reqs <= maxDuplicates {
		return true
	}
	a := s.sources.answer
	return bl.reqs < maxHeldDuplicates && a > 0 && now.UnixNano()-bl.askedAt >= heldAnswers*a
}

// pieceDL is the download state of one piece in progress.
type pieceDL struct {
	blocks      []block
	unrequested int    // blocks missing and requested from nobody
	seq         uint64 // when it started, in startPiece calls: its place in active
	index       int    // the piece's index
	written     int
	verifying   bool
	// scanFrom is a hint for nextBlock: every block before it is received
	// or requested (reset to 0 whenever a block returns to the pool).
	scanFrom int
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
	askedAt    int64  // unix nanoseconds of its latest request (see mayDuplicate)
	avoid      ConnID // peer that timed out or rejected it
	rejects    uint8  // Rejects in a row from avoid (0 after a timeout)
	avoidUntil int64  // unix nanoseconds until which avoid applies
	// retryAt is when (unix ns) a rejecting avoid may be asked again
	// anyway if no other peer can be asked for the block (see avoids).
	retryAt int64
}

// maxSpareDL bounds the download states kept for reuse (see spareDL).
const maxSpareDL = 64

// startPiece creates the download state of piece i, reusing a finished
// piece's (see spareDL) when there is one.
func (s *Swarm) startPiece(i int) *pieceDL {
	n := s.numBlocks(i)
	s.dlSeq++
	var d *pieceDL
	var blocks []block
	if k := len(s.spareDL) - 1; k >= 0 {
		d = s.spareDL[k]
		s.spareDL[k] = nil
		s.spareDL = s.spareDL[:k]
		if cap(d.blocks) >= n {
			blocks = d.blocks[:n]
			clear(blocks)
		}
	}
	if d == nil {
		d = new(pieceDL)
	}
	if blocks == nil {
		blocks = make([]block, n)
	}
	*d = pieceDL{blocks: blocks, unrequested: n, seq: s.dlSeq, index: i}
	s.dl[i] = d
	s.started.set(i)
	s.active = append(s.active, i)
	s.open = append(s.open, i) // the latest start goes last
	return d
}

// openAt returns the index in s.open of the first piece that started at
// or after seq.
func (s *Swarm) openAt(seq uint64) int {
	if seq == 0 {
		return 0 // a fresh cursor: every piece's seq is at least 1
	}
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

// fill tops up p's request pipeline. A slow source is asked for nothing
// while another source can serve us (see holdBack).
func (s *Swarm) fill(now time.Time, p *peer) {
	if !p.amInterested || (p.peerChoking && len(p.allowedFast) == 0) || s.awaitingZone(now, p) {
		return
	}
	t := s.target(p)
	if len(p.reqs) >= t || s.holdBack(now, p) {
		return
	}
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
	// s.open holds the pieces of s.active with unrequested blocks, in the
	// same order, so the first eligible one is the first in s.active.
	for k := s.openAt(cur.seq); k < len(s.open); k++ {
		i := s.open[k]
		d := s.dl[i]
		if d.verifying || !s.mayFetch(d, p) || !p.canUse(i) || !far.allows(i) {
			continue
		}
		b0, other := d.scanFrom, sourceUnknown
		if d.seq == cur.seq {
			b0 = max(b0, cur.b)
		}
		for b := b0; b < len(d.blocks); b++ {
			bl := &d.blocks[b]
			if bl.state != blockMissing || bl.reqs != 0 {
				if b == d.scanFrom {
					d.scanFrom++ // no peer can be asked for it: skip it next time
				}
				continue
			}
			if !s.avoids(now, p, i, bl, &other) {
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
		other := sourceUnknown
		for b := range d.blocks {
			bl := &d.blocks[b]
			if bl.state == blockMissing && bl.reqs > 0 && s.mayDuplicate(now, bl) &&
				!s.avoids(now, p, i, bl, &other) && p.findRequest(s.blockSpec(i, b)) < 0 {
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
// Rarity leaves out the copies at slow sources (slowAvail): we do not fetch
// from them while a fast source can serve, so a piece only they and p have
// is as rare as one only p has. Counting them, a fast receiver that an
// initial seeder revealed a piece stranded at slow peers (seed.go) fetched
// it after every piece the seeder revealed it since: last.
func (s *Swarm) pickPiece(p *peer, far farFilter) int {
	random := s.numHave < s.cfg.RandomFirstPieces
	pick := newLowest()
	score := func(i int) int32 {
		if random {
			return 0
		}
		return s.avail[i] - s.slowAvail[i]
	}
	if p.peerChoking {
		for _, a := range p.allowedFast {
			i := int(a)
			if p.has.get(i) && s.dl[i] == nil && !s.have.get(i) && far.allows(i) {
				pick.offer(s.rng, i, score(i))
			}
		}
		return pick.choice
	}
	// Every piece p has, in index order, with the pieces we have or are
	// downloading masked out a word at a time (s.started mirrors
	// s.dl != nil) so only the candidates are read.
	for w, word := range p.has {
		word &^= s.have[w] | s.started[w]
		for word != 0 {
			i := w*64 + trailingZeros(word)
			word &= word - 1
			if far.allows(i) {
				pick.offer(s.rng, i, score(i))
			}
		}
	}
	return pick.choice
}

// request sends a request for block b of piece i to p.
func (s *Swarm) request(now time.Time, p *peer, i, b int) {
	d := s.dl[i]
	bl := &d.blocks[b]
	if d.exclusive && !d.ownerSet {
		d.ownerSet, d.owner = true, p.id
	}
	bl.reqs++
	bl.askedAt = now.UnixNano()
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
	s.reqsChanged(p, 1) // locality.go
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

// Avoiding a peer. A block a peer rejected (BEP 6) or let time out goes
// back to the pool, and that peer is not asked for it again for one
// request timeout (20 s by default) while another peer can be asked: the
// Reject says "ask elsewhere", and the flush that follows offers the block
// to every other peer at once. But the rejecting peer may be the only one
// we may ask for the piece: with locality a far peer is not asked for a
// piece a near peer has (locality.go), so a near peer that sheds a request
// for a piece common among far peers (shed, upload.go) is the only source
// left, and the others may choke us or lack the piece. Waiting out the
// timeout there stalled a receiver for 20 s. So after a Reject the avoid
// lifts when no other peer can be asked for the piece (otherSource), after
// rejectRetry, doubling with each further Reject in a row from that peer
// (up to the timeout): a peer that rejects a piece it announced (one it
// withholds, verify.go) is not asked in a loop at the pace of its round
// trip, and a piece that is spreading finds a new holder meanwhile (asked
// again at once, a shed request waits in the same busy line as before:
// N = 200, 1 GB at 5 GB/s with a tenth of the hosts at 500 MB/s, 4 MiB
// pieces of 8 blocks, T_last of the fast hosts 0.301 -> 0.329 s; after
// 10 ms 0.318 s; after 100 ms 0.301 s, unchanged). A timed-out request
// keeps the whole avoid: its peer is not answering at all.
const rejectRetry = 100 * time.Millisecond

// Answers of otherSource, cached for one piece during a scan.
const (
	sourceUnknown uint8 = iota // not yet asked
	sourceNone                 // no peer but p can be asked for the piece
	sourceSome                 // another peer can be asked
)

// avoids reports whether p must not be asked for bl, a block of piece i,
// now (see rejectRetry); other caches otherSource for the piece.
func (s *Swarm) avoids(now time.Time, p *peer, i int, bl *block, other *uint8) bool {
	ns := now.UnixNano()
	if bl.avoid != p.id || ns >= bl.avoidUntil {
		return false
	}
	if bl.rejects == 0 || ns < bl.retryAt {
		return true
	}
	if *other == sourceUnknown {
		*other = sourceNone
		if s.otherSource(now, p, i) {
			*other = sourceSome
		}
	}
	return *other == sourceSome
}

// otherSource reports whether a peer other than p could be asked for piece
// i: it has the piece and lets us ask (unchoked, or allowed fast), it is
// not a far peer while p, near, has the piece (locality.go), and it is not
// a slow source held back (holdBack). The far rules that only delay a
// request (a piece not ours to bring in) are not counted: they lift by
// themselves.
func (s *Swarm) otherSource(now time.Time, p *peer, i int) bool {
	if s.avail[i] < 2 {
		return false // p is the only peer that announced it
	}
	for _, q := range s.peers {
		if q != p && q.canUse(i) && (q.dist != distFar || p.dist == distFar) && !s.holdBack(now, q) {
			return true
		}
	}
	return false
}

// unrequest removes p.reqs[k] and returns its block to the pool. avoid
// (after a Reject) keeps p from being asked for the same block again for
// one request timeout while another peer can be asked (see rejectRetry).
func (s *Swarm) unrequest(now time.Time, p *peer, k int, avoid bool) {
	s.giveBack(now, p, k, avoid, false)
}

// cancelRequest sends p a Cancel for p.reqs[k] and gives its block back
// (see giveBack).
func (s *Swarm) cancelRequest(now time.Time, p *peer, k int, avoid, timedOut bool) {
	spec := p.reqs[k].spec
	s.send(p, wire.Message{Type: wire.Cancel, Index: spec.Piece, Begin: spec.Begin, Length: spec.Length})
	s.giveBack(now, p, k, avoid, timedOut)
}

// giveBack is unrequest; timedOut makes the avoid last the whole request
// timeout.
func (s *Swarm) giveBack(now time.Time, p *peer, k int, avoid, timedOut bool) {
	spec := p.reqs[k].spec
	p.reqs = append(p.reqs[:k], p.reqs[k+1:]...)
	s.reqsChanged(p, -1) // locality.go
	d, bl := s.lookupBlock(spec)
	if bl == nil {
		return
	}
	if bl.reqs > 0 {
		bl.reqs--
	}
	if avoid {
		ns := now.UnixNano()
		switch {
		case timedOut:
			bl.rejects = 0
		case bl.avoid == p.id && bl.rejects > 0 && ns < bl.avoidUntil:
			bl.rejects = min(bl.rejects+1, 32)
		default:
			bl.rejects = 1
		}
		bl.avoid, bl.avoidUntil = p.id, now.Add(s.cfg.RequestTimeout).UnixNano()
		bl.retryAt = bl.avoidUntil
		if bl.rejects > 0 {
			bl.retryAt = now.Add(min(rejectRetry<<(bl.rejects-1), s.cfg.RequestTimeout)).UnixNano()
		}
	}
	s.freeBlock(d, bl)
}

// freeBlock returns bl to the pool of blocks to request once it is missing
// and requested from nobody.
func (s *Swarm) freeBlock(d *pieceDL, bl *block) {
	if bl.state == blockMissing && bl.reqs == 0 {
		d.scanFrom = 0
		d.unrequested++
		s.unrequested++
		if n := len(s.freed); n == 0 || s.freed[n-1] != d.index {
			s.freed = append(s.freed, d.index) // a piece's blocks often return together
		}
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
		s.reqsChanged(p, -1) // locality.go
		p.pipe.answered(now, r, p.reqs, s.stats.downloaded)
		s.answered(now.Sub(r.at))
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
			s.reqsChanged(q, -1) // locality.go
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
		s.cancelRequest(now, p, 0, true, true)
		timedOut = true
	}
	if timedOut {
		// Snubbed: shrink its pipeline until it proves itself again.
		p.rateKnown, p.downRate = true, 0
		p.pipe.snubbed()
	}
}

// Slow sources. A peer that gains pieces at a fraction of the pace of our
// other peers sits on a slow link, and a block asked of it arrives at the
// pace of that link: a receiver whose last blocks are at a slow peer waits
// for them long after the rest came from fast ones, and in endgame the
// duplicates sent to slow peers use up a block's copies (maxDuplicates)
// while a fast peer could fetch it at once. So a slow source is asked for
// nothing while a peer that is not slow unchokes us and has pieces we
// lack; once none has, the slow ones are asked as any other (a piece only
// they hold is still fetched). The pace is the peer's own download, the
// Haves it sends us since its first message, which we see for every peer,
// also those we never fetched from. A peer sends no Have for a piece we
// have, so every pace falls as we near the end; the median falls with
// them, and among equal links no peer is that far below it.
const (
	// slowSourceRatio: a peer is a slow source when it gains pieces at
	// less than 1/slowSourceRatio of the median peer's pace.
	slowSourceRatio = 4
	// sourcePieces is how many Haves a peer's pace needs to count towards
	// the median; a peer with fewer is slow once the median peer would
	// have sent slowSourceRatio times as many in the same time.
	sourcePieces = 8
	// minPacedSources is how many peers must have a pace before any
	// counts as slow: against one or two the median means little.
	minPacedSources = 4
	// sourcesEvery bounds how often the median pace, which peers are
	// slow and the count of fast sources are recounted: paces since a
	// peer's first message move slowly, and fills are many.
	sourcesEvery = 10 * time.Millisecond
)

// sourcePace counts the Haves a peer sent since its first message.
type sourcePace struct {
	from  time.Time // its first message (bitfield, have-all/none or have)
	gains int       // Haves of pieces new to it since
	slow  bool      // slowSource at the last recount (see recountSources)
}

// sourceStats is what fill knows of its sources, recounted at most every
// sourcesEvery (see recountSources).
type sourceStats struct {
	counted bool      // recounted at least once
	at      int64     // last recount, unix nanoseconds
	median  float64   // median pace of the peers with one, pieces/s; 0 with fewer than minPacedSources
	fast    int       // peers that are not slow, unchoke us and have pieces we lack
	paces   []float64 // scratch
	// answer is the mean time from a request to its block, over recent
	// answers (an exponential average), nanoseconds; 0: none yet.
	answer int64
}

// answerWeight is the weight of the newest answer in sourceStats.answer:
// 1/answerWeight.
const answerWeight = 16

// answered folds one request's answer time into the mean (see mayDuplicate).
func (s *Swarm) answered(d time.Duration) {
	st := &s.sources
	if st.answer == 0 {
		st.answer = max(int64(d), 1)
		return
	}
	st.answer = max(st.answer+(int64(d)-st.answer)/answerWeight, 1)
}

// sourceGreeted starts p's pace at its first message.
func (s *Swarm) sourceGreeted(now time.Time, p *peer) { p.src.from = now }

// sourceGained counts a Have of a piece new to p.
func (s *Swarm) sourceGained(p *peer) { p.src.gains++ }

// sourcePaceOf returns p's pace at now in pieces/s, and whether it is
// measured (enough Haves to count towards the median). A seed has none.
func (s *Swarm) sourcePaceOf(now time.Time, p *peer) (pace float64, measured bool) {
	dt := now.Sub(p.src.from).Seconds()
	if p.src.from.IsZero() || dt <= 0 || p.numHas == s.cfg.NumPieces {
		return 0, false
	}
	return float64(p.src.gains) / dt, p.src.gains >= sourcePieces
}

// slowSource reports whether p, interested in our pieces, gains pieces at
// less than 1/slowSourceRatio of the median peer's pace, measured or, with
// few Haves, over a time in which the median peer would have sent
// slowSourceRatio*sourcePieces. A peer not interested is not downloading
// from us, and its Haves need not follow its link: an initial seeder's
// are its reveals. Nor is a peer that had fewer pieces left to gain than
// the median peer gained meanwhile: one that joined nearly complete.
func (s *Swarm) slowSource(now time.Time, p *peer) bool {
	m := s.sources.median
	if m <= 0 || p.src.from.IsZero() || !p.peerInterested {
		return false
	}
	dt := now.Sub(p.src.from).Seconds()
	if p.src.gains < sourcePieces && dt*m < sourcePieces*slowSourceRatio {
		return false // too early to tell
	}
	if float64(s.cfg.NumPieces-p.numHas+p.src.gains) < dt*m {
		return false // it had less to gain than the median peer gained
	}
	return float64(p.src.gains)*slowSourceRatio < dt*m
}

// holdBack reports whether fill should ask p for nothing now: p is a slow
// source and a peer that is not slow can serve us.
func (s *Swarm) holdBack(now time.Time, p *peer) bool {
	if p.src.from.IsZero() || !p.peerInterested {
		return false
	}
	s.recountSources(now)
	return p.src.slow && s.sources.fast > 0
}

// recountSources recounts the median pace, which peers are slow and the
// fast sources once sourcesEvery has passed since the last recount.
func (s *Swarm) recountSources(now time.Time) {
	st := &s.sources
	ns := now.UnixNano()
	if st.counted && ns-st.at < int64(sourcesEvery) {
		return
	}
	st.counted, st.at = true, ns
	paces := st.paces[:0]
	for _, q := range s.peers {
		if v, ok := s.sourcePaceOf(now, q); ok {
			paces = append(paces, v)
		}
	}
	st.paces = paces
	st.median = 0
	if n := len(paces); n >= minPacedSources {
		slices.Sort(paces)
		st.median = paces[n/2]
	}
	st.fast = 0
	for _, q := range s.peers {
		if slow := s.slowSource(now, q); slow != q.src.slow {
			q.src.slow = slow
			s.countSlowAvail(q)
		}
		if !q.peerChoking && q.wanted > 0 && !q.src.slow {
			st.fast++
		}
	}
}

// countSlowAvail adds p's pieces to slowAvail when p just became a slow
// source, or takes them out when it just stopped being one.
func (s *Swarm) countSlowAvail(p *peer) {
	d := int32(-1)
	if p.src.slow {
		d = 1
	}
	for w, word := range p.has {
		for word != 0 {
			s.slowAvail[w*64+trailingZeros(word)] += d
			word &= word - 1
		}
	}
}
