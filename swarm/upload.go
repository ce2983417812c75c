package swarm

import (
	"math"
	"sort"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// onRequest queues an upload for p if we unchoke it and have the piece;
// otherwise a fast peer gets a Reject (BEP 6) and a plain one nothing.
func (s *Swarm) onRequest(p *peer, spec BlockSpec) {
	for _, u := range p.uploads {
		if u == spec {
			return // duplicate request: already queued
		}
	}
	if p.amChoking || !s.canServe(int(spec.Piece)) || len(p.uploads) >= s.cfg.MaxQueuedUploads {
		s.reject(p, spec)
		return
	}
	if len(p.uploads) == p.emitted && !p.upActive {
		s.upSeq++
		p.upSeq = s.upSeq // starts waiting for a turn
		p.turnsAt = s.turns
	}
	p.uploads = append(p.uploads, spec)
	s.admit(p)
}

// admit hands p's queued uploads to the runtime. Only cfg.ActiveUploads
// peers are served at once, each for a turn of about one piece; a peer
// whose turn is used up, or who has nothing more queued, makes room for
// the peer that has waited longest. With no bound every request goes out
// at once. It is called whenever p's queue changes.
func (s *Swarm) admit(p *peer) {
	if s.cfg.ActiveUploads < 0 {
		s.emitUploads(p, len(p.uploads))
		return
	}
	if p.upActive {
		if p.upQuota > 0 {
			s.emitUploads(p, p.upQuota)
		}
		if p.emitted > 0 || (p.upQuota > 0 && len(p.uploads) > 0) {
			return // still sending, or more to send in this turn
		}
		p.upActive = false
		s.numUpActive--
		if len(p.uploads) > 0 {
			s.upSeq++
			p.upSeq = s.upSeq // back of the line
		}
	}
	s.fillTurns()
}

// Upload turn policy.
const (
	// shedAfterTurns is how many turns a waiting peer sees go to others
	// before its requests for common pieces are rejected.
	shedAfterTurns = 2
	// A piece is common when we know at least commonCopies copies of it:
	// a peer asking us for it can be expected to find it elsewhere. The
	// bound does not grow with our number of peers: in a large fleet a new
	// piece reaches a few of them long before it reaches a share of them,
	// and those few are where a request stuck behind our turns should go
	// (N = 1,000, 1 GB at 5 GB/s: 0.348 -> 0.302 s against one copy per four
	// peers). With locality a piece also needs one known copy per
	// commonShare of our peers (see shed).
	commonCopies = 2
	commonShare  = 4
)

// fillTurns gives free upload turns to waiting peers: the peer asking for
// the piece with the fewest known copies first, the longest waiting among
// equals. A piece the swarm holds few copies of gains most from our link:
// each copy we make is one more peer that can pass it on, so new pieces
// hop on at once instead of waiting behind requests for pieces many peers
// already serve. Each turn started then sheds the requests that waited too
// long for common pieces (see shed). With a zone, far peers' turns come
// before near peers' (crossesRacks, locality.go).
func (s *Swarm) fillTurns() {
	for s.cfg.ActiveUploads >= 0 && s.numUpActive < s.cfg.ActiveUploads {
		var next *peer
		nextScore := int32(0)
		for _, p := range s.peers {
			if p.upActive || len(p.uploads) <= p.emitted {
				continue
			}
			score := s.waitingRarity(p)
			if far, nextFar := s.crossesRacks(p), next != nil && s.crossesRacks(next); far != nextFar {
				if far {
					next, nextScore = p, score // locality.go: a far peer's turn comes first
				}
				continue
			}
			if next == nil || score < nextScore || (score == nextScore && p.upSeq < next.upSeq) {
				next, nextScore = p, score
			}
		}
		if next == nil {
			return
		}
		s.rarestFirst(next)
		next.upActive = true
		next.upQuota = max(4, int(s.cfg.PieceLength/wire.BlockSize))
		s.numUpActive++
		s.turns++
		s.emitUploads(next, next.upQuota)
		s.shed()
	}
}

// copies returns how many copies of piece i we know of among our peers:
// those that announced it, and the whole copies we sent (a peer that got a
// piece from us does not announce it to us). For an initial seeder a piece
// that has not gone out (seed.go: only slow peers have it) has none: its
// requests come first and are never shed, or a peer it is revealed to
// would fetch it last and be sent away for it.
func (s *Swarm) copies(i int) int32 {
	if s.seed != nil && !s.seed.out.get(i) {
		return 0
	}
	return s.avail[i] + s.sentBlocks[i]/int32(s.numBlocks(i))
}

// waitingRarity returns the fewest known copies among the pieces p's
// waiting requests ask for.
func (s *Swarm) waitingRarity(p *peer) int32 {
	best := int32(math.MaxInt32)
	for _, u := range p.uploads[p.emitted:] {
		best = min(best, s.copies(int(u.Piece)))
	}
	return best
}

// rarestFirst moves the waiting requests for p's rarest requested piece to
// the front of its queue, keeping the order otherwise.
func (s *Swarm) rarestFirst(p *peer) {
	rest := p.uploads[p.emitted:]
	if len(rest) < 2 {
		return
	}
	best, piece := int32(math.MaxInt32), rest[0].Piece
	for _, u := range rest {
		if c := s.copies(int(u.Piece)); c < best {
			best, piece = c, u.Piece
		}
	}
	if rest[0].Piece == piece {
		return
	}
	s.specs = s.specs[:0]
	for _, u := range rest {
		if u.Piece == piece {
			s.specs = append(s.specs, u)
		}
	}
	for _, u := range rest {
		if u.Piece != piece {
			s.specs = append(s.specs, u)
		}
	}
	copy(rest, s.specs)
}

// shed rejects (BEP 6) the waiting requests for common pieces of fast
// peers that saw shedAfterTurns turns go to others while they waited: a
// piece we know commonCopies copies of is likely nearer elsewhere than
// behind our queue, and a Reject sends the peer there at once, where
// waiting would hold its request until our link is free and leave the
// other holders' links idle. Plain peers would only time out, so they
// keep waiting, and so do far peers (crossesRacks, locality.go).
//
// With locality (Config.Zone) a piece is common only with one known copy
// per commonShare of our peers as well: a peer in our rack may not ask its
// far peers for a piece we, a near peer, have (see locality.go), so if the
// copies we know are not among its own near peers a Reject leaves it no
// one to ask until the block's avoid time (RequestTimeout) passes.
func (s *Swarm) shed() {
	for _, p := range s.peers {
		if !p.fast || p.upActive || len(p.uploads) <= p.emitted || s.turns-p.turnsAt < shedAfterTurns || s.crossesRacks(p) {
			continue
		}
		common := int32(commonCopies)
		if s.loc != nil {
			common = max(common, int32(len(s.peers)/commonShare))
		}
		kept := p.uploads[:p.emitted]
		for _, u := range p.uploads[p.emitted:] {
			if s.shedCopies(p, int(u.Piece)) >= common {
				s.reject(p, u)
				continue
			}
			kept = append(kept, u)
		}
		clear(p.uploads[len(kept):])
		p.uploads = kept
		p.turnsAt = s.turns
	}
}

// emitUploads hands up to n more of p's queued requests to the runtime.
func (s *Swarm) emitUploads(p *peer, n int) {
	for ; n > 0 && p.emitted < len(p.uploads); n-- {
		s.emit(Action{Kind: SendBlock, Conn: p.id, Block: p.uploads[p.emitted]})
		p.emitted++
		if p.upActive {
			p.upQuota--
		}
	}
}

// removeUpload forgets p's queued request k; it reports whether the block
// had been handed to the runtime.
func (p *peer) removeUpload(k int) (emitted bool) {
	p.uploads = append(p.uploads[:k], p.uploads[k+1:]...)
	if k < p.emitted {
		p.emitted--
		return true
	}
	return false
}

// reject answers a request we will not serve (BEP 6); plain peers get nothing.
func (s *Swarm) reject(p *peer, spec BlockSpec) {
	if p.fast {
		s.send(p, wire.Message{Type: wire.Reject, Index: spec.Piece, Begin: spec.Begin, Length: spec.Length})
	}
}

// onCancel drops a queued upload the peer no longer wants.
func (s *Swarm) onCancel(p *peer, spec BlockSpec) {
	for k, u := range p.uploads {
		if u == spec {
			if p.removeUpload(k) {
				s.emit(Action{Kind: DropBlock, Conn: p.id, Block: spec})
			}
			s.admit(p)
			return
		}
	}
}

// BlockSent reports that a Piece message for spec was written to c. It feeds
// upload rates and initial seeding, and frees the upload queue slot.
func (s *Swarm) BlockSent(now time.Time, c ConnID, spec BlockSpec) {
	s.step()
	p := s.byID.get(c)
	if p == nil || int(spec.Piece) >= s.cfg.NumPieces {
		return // a block of no piece of ours was never handed out
	}
	for k, u := range p.uploads {
		if u == spec {
			p.removeUpload(k)
			break
		}
	}
	s.admit(p)
	s.sentBlocks[spec.Piece]++
	p.upWindow += int64(spec.Length)
	s.maybeSample(now, p)
	s.stats.uploaded += int64(spec.Length)
	if s.seed != nil {
		s.seedBlockSent(now, p, spec)
	}
	s.flush(now)
}

// unchoke lets p download from us.
func (s *Swarm) unchoke(now time.Time, p *peer) {
	if !p.amChoking {
		return
	}
	p.amChoking = false
	p.unchokedAt = now
	s.numUnchoked++
	s.send(p, wire.Message{Type: wire.Unchoke})
}

// choke stops uploading to p and drops its queued requests (rejecting them
// for fast peers, BEP 6).
func (s *Swarm) choke(now time.Time, p *peer) {
	if p.amChoking {
		return
	}
	p.amChoking = true
	s.numUnchoked--
	if p.peerInterested {
		p.waitingAt = now
	}
	for _, u := range p.uploads[:p.emitted] {
		s.emit(Action{Kind: DropBlock, Conn: p.id, Block: u})
	}
	s.send(p, wire.Message{Type: wire.Choke})
	for _, u := range p.uploads {
		s.reject(p, u)
	}
	p.uploads, p.emitted = p.uploads[:0], 0
	s.admit(p)
}

// slotFree reports whether another regular unchoke fits.
func (s *Swarm) slotFree() bool {
	return s.cfg.UploadSlots == 0 || s.numUnchoked < s.cfg.UploadSlots
}

// unchokeGreeted unchokes p, whose first message (what it has) just
// arrived, in a Fleet with no bound on unchoked peers: every interested
// peer is unchoked there anyway, and unchoking now lets p ask as soon as
// it first wants a piece we announce, a round trip before its Interested
// would have got it unchoked. A connection that never says what it has is
// not unchoked until it is interested.
func (s *Swarm) unchokeGreeted(now time.Time, p *peer) {
	if s.cfg.Choker == Fleet && s.cfg.UploadSlots == 0 {
		s.unchoke(now, p)
	}
}

// onInterested unchokes p at once if a slot is free.
func (s *Swarm) onInterested(now time.Time, p *peer) {
	if !p.amChoking {
		return
	}
	p.waitingAt = now
	if s.slotFree() {
		s.unchoke(now, p)
	}
}

// onNotInterested frees p's slot in a bounded fleet so a waiting peer gets it.
func (s *Swarm) onNotInterested(now time.Time, p *peer) {
	if s.cfg.Choker == Fleet && s.cfg.UploadSlots > 0 && !p.amChoking {
		s.choke(now, p)
		s.fleetFillSlots(now)
	}
}

// fleetFillSlots unchokes waiting interested peers, longest waiting first,
// while slots are free.
func (s *Swarm) fleetFillSlots(now time.Time) {
	for s.slotFree() {
		var next *peer
		for _, q := range s.peers {
			if q.amChoking && q.peerInterested && (next == nil || q.waitingAt.Before(next.waitingAt)) {
				next = q
			}
		}
		if next == nil {
			return
		}
		s.unchoke(now, next)
	}
}

// chokerTick runs the periodic part of the choker.
func (s *Swarm) chokerTick(now time.Time) {
	if s.cfg.Choker == Public {
		if !now.Before(s.nextRechoke) {
			s.nextRechoke = now.Add(rechokeInterval)
			s.rechoke(now)
		}
		return
	}
	if s.cfg.UploadSlots == 0 {
		return
	}
	if s.nextRotate.IsZero() {
		s.nextRotate = now.Add(fleetRotateEvery)
	}
	if now.Before(s.nextRotate) {
		return
	}
	s.nextRotate = now.Add(fleetRotateEvery)
	// Rotate one slot: the longest-unchoked peer yields to the longest waiting.
	var waiting, oldest *peer
	for _, q := range s.peers {
		if q.amChoking && q.peerInterested {
			waiting = q
		}
		if !q.amChoking && (oldest == nil || q.unchokedAt.Before(oldest.unchokedAt)) {
			oldest = q
		}
	}
	if waiting != nil && oldest != nil {
		s.choke(now, oldest)
		s.fleetFillSlots(now)
	}
}

// rechoke is the standard BitTorrent choker (Public mode): the UploadSlots
// interested peers that give us the most (or, when seeding, take the most)
// are unchoked, plus one optimistic unchoke rotated every 30 s.
func (s *Swarm) rechoke(now time.Time) {
	cands := make([]*peer, 0, len(s.peers))
	for _, p := range s.peers {
		p.keep = false
		if p.peerInterested {
			cands = append(cands, p)
		}
	}
	seeding := s.Complete()
	rate := func(p *peer) float64 {
		if seeding {
			return p.upRate
		}
		return p.downRate
	}
	sort.SliceStable(cands, func(a, b int) bool {
		ra, rb := rate(cands[a]), rate(cands[b])
		if ra != rb {
			return ra > rb
		}
		return cands[a].id < cands[b].id
	})
	regular := min(s.cfg.UploadSlots, len(cands))
	for _, p := range cands[:regular] {
		p.keep = true
	}
	rest := cands[regular:]
	opt := s.optimistic
	if opt != nil && (opt.keep || !opt.peerInterested || !now.Before(s.nextOptimistic)) {
		opt = nil
	}
	if opt == nil && len(rest) > 0 {
		opt = rest[s.rng.Intn(len(rest))]
		s.nextOptimistic = now.Add(optimisticInterval)
	}
	s.optimistic = opt
	if opt != nil {
		opt.keep = true
	}
	for _, p := range s.peers {
		if !p.keep {
			s.choke(now, p)
		}
	}
	for _, p := range s.peers {
		if p.keep {
			s.unchoke(now, p)
		}
	}
}
