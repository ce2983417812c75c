package swarm

import (
	"slices"
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
//
// One exception keeps a slow receiver from holding the fleet: a piece on
// its way out to a peer far slower than the others (see slowPeer) may be
// revealed to a second peer once every piece was revealed (see rescue),
// and a slow peer is not revealed pieces that never went out while others
// can take them. A piece that left us only to slow peers has not gone out
// (see strand): the fleet's fast receivers do not fetch from slow peers
// while a fast one can serve them (holdBack), so until a peer that is not
// slow has it, it is revealed to one before any piece that never left;
// once no peer that is not slow can take it, it is out after all (see
// unstrand), or no second copy of any piece would ever be revealed.
type initialSeed struct {
	pending []int32 // revealed and not yet fetched, per piece
	sent    []int32 // times each piece was sent whole
	// out: pieces that went out at least once to a peer not slow, or that
	// a peer not slow announced.
	out    bitset
	numOut int
	// revealedAt is when each piece was last revealed while revealed to
	// nobody: the start of its current way out.
	revealedAt []time.Time
	// rescue's scratch: pieces revealed to a peer not slow, slow peers.
	fastHeld    bitset
	slowScratch []*peer

	// Medians of the peers' paces, and their scratch.
	sendMedian, downMedian median
	paces                  []float64
}

// pace is initial seeding's measure of how fast a peer takes pieces, two
// ways. send: how fast our sends of its latest revealed piece move (the
// bytes after its first block over the time since that block), which
// shows at once but also drops for a fast peer whose download link is
// busy with others' blocks. down: how fast it gains pieces (those it
// announces, and those we send it whole) since the first gain we saw; a
// peer announces to us every piece it gets elsewhere, as we seem to have
// only what we revealed, so this follows its own download link, but a
// peer fetching many pieces at once completes its first ones late.
type pace struct {
	// gotWhole lists the pieces we sent it whole while the first copy was
	// on its way and it was not known slow; slowSeen says it was found slow
	// once (see strand).
	gotWhole []int32
	slowSeen bool
	send     float64   // bytes/s; 0: not measured
	sent     int       // pieces we sent it whole
	from     time.Time // its first gain we saw (zero: none yet)
	base     int       // pieces it had by then
	down     float64   // pieces/s; 0: not measured
}

// median is the median of one of the peers' paces, recounted at most
// every paceMedianEvery once a pace changed.
type median struct {
	val   float64
	at    time.Time
	dirty bool
}

// Initial seeding's slow-peer rule (see slowPeer and rescue).
const (
	// slowPaceRatio: a peer is slow when it takes pieces at less than
	// 1/slowPaceRatio of the median peer's pace. Peers on equal links
	// download alike; a host on a tenth of the link is well past it.
	slowPaceRatio = 4
	// paceMedianEvery bounds how often a median pace is recounted.
	paceMedianEvery = time.Millisecond
	// downPieces is how many pieces a peer gains after the first before
	// its down pace counts: the first few come at the pace of the swarm's
	// start, not of the peer's link.
	downPieces = 8
)

// reveal is a piece revealed to one peer and not fetched yet.
type reveal struct {
	piece int
	sent  int64     // bytes of it sent to that peer so far
	at    time.Time // reveal time or last progress
	first time.Time // when its first block was sent (zero: not yet)
	base  int64     // bytes sent by then
}

func newInitialSeed(n int) *initialSeed {
	return &initialSeed{pending: make([]int32, n), sent: make([]int32, n), out: newBitset(n), revealedAt: make([]time.Time, n), fastHeld: newBitset(n)}
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
// reveals not yet fetched). While pieces are still on their way out for
// the first time a slow peer is revealed none of them, and a peer that is
// not slow may be revealed one held up at a slow peer (see rescue).
func (s *Swarm) revealTo(now time.Time, p *peer) {
	seed := s.seed
	slow := seed.numOut < s.cfg.NumPieces && s.slowPeer(now, p)
	for want := s.revealTarget(p); len(p.reveals) < want; {
		pick := newLowest()
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
					if slow {
						// Its way out through p would be slow: the piece
						// waits for a faster peer.
						continue
					}
					score = 0 // never went out, revealed to nobody
					if seed.sent[i] > 0 {
						score = -1 // stranded at slow peers: first
					}
				case !seed.out.get(i):
					continue // on its way out to another peer (see rescue)
				case seed.numOut < s.cfg.NumPieces:
					// Pieces are still on their way out for the first time:
					// our upload goes to them, not to second copies.
					continue
				default:
					// Peers that got it from us don't announce it to us (we
					// "have" it), so count our own sends too.
					score = 1 + seed.sent[i] + s.avail[i] + seed.pending[i]
				}
				pick.offer(s.rng, i, score)
			}
		}
		choice := pick.choice
		if choice < 0 && !slow && seed.numOut < s.cfg.NumPieces {
			choice = s.rescue(now, p)
		}
		if choice < 0 {
			return
		}
		if seed.pending[choice] == 0 {
			seed.revealedAt[choice] = now
		}
		seed.pending[choice]++
		p.told.set(choice)
		p.reveals = append(p.reveals, reveal{piece: choice, at: now})
		s.send(p, wire.Message{Type: wire.Have, Index: uint32(choice)})
	}
}

// rescue returns a piece to reveal to p, which is not slow, although it is
// on its way out to another peer: revealed only to slow peers (one, or
// several: a peer rescued pieces before its sends were measured may turn
// out slow itself), on its way for longer than a piece takes at the median
// send pace, and with more of it left to send at such a peer's pace than a
// whole piece takes at the median's; the one on its way longest; -1 when
// there is none. Without it the fleet waits for the last pieces of the
// first copy to trickle out through the slowest receivers, and our link
// idles meanwhile.
func (s *Swarm) rescue(now time.Time, p *peer) int {
	seed := s.seed
	median := s.paceMedian(now, &seed.sendMedian, sendPace)
	if median <= 0 {
		return -1
	}
	piece := float64(s.cfg.PieceLength) / median // seconds at the median pace
	wait := time.Duration(piece * float64(time.Second))
	// The pieces on their way out to a peer that is not slow are no
	// candidates; those revealed to several slow peers are (a piece
	// rescued to a peer not yet known slow may be held by two).
	slow, fastHeld := seed.slowScratch[:0], seed.fastHeld
	for _, q := range s.peers {
		switch {
		case len(q.reveals) == 0:
		case q != p && s.slowPeer(now, q):
			slow = append(slow, q)
		default:
			for _, r := range q.reveals {
				fastHeld.set(r.piece)
			}
		}
	}
	seed.slowScratch = slow
	defer func() {
		clear(slow) // keep no peer that may leave
		for _, q := range s.peers {
			for _, r := range q.reveals {
				fastHeld.clear(r.piece)
			}
		}
	}()
	choice := -1
	for _, q := range slow {
		for _, r := range q.reveals {
			i := r.piece
			switch {
			case seed.out.get(i) || fastHeld.get(i) || p.has.get(i) || p.told.get(i):
				continue
			case s.numWithheld > 0 && s.withheld.get(i):
				continue
			case now.Sub(seed.revealedAt[i]) < wait:
				continue
			case float64(s.pieceLen(i)-r.sent)/q.pace.send <= piece:
				continue // q is about done with it
			}
			if choice < 0 || seed.revealedAt[i].Before(seed.revealedAt[choice]) {
				choice = i
			}
		}
	}
	return choice
}

// slowPeer reports whether p is slow: our sends to it move at less than
// 1/slowPaceRatio of the median peer's, and its own downloads do too or
// are not measured yet. A peer whose sends are not measured is not slow.
func (s *Swarm) slowPeer(now time.Time, p *peer) bool { return s.slowOn(now, p, true) }

// slowOn is slowPeer, on the medians recounted where due (recount) or as
// last counted. The down median is looked at only when the send pace is
// slow, so a recount happens where slowPeer always did it.
func (s *Swarm) slowOn(now time.Time, p *peer, recount bool) bool {
	med := func(m *median, of func(*peer) float64) float64 {
		if !recount {
			return m.val
		}
		return s.paceMedian(now, m, of)
	}
	pc := &p.pace
	if pc.send <= 0 || pc.send*slowPaceRatio >= med(&s.seed.sendMedian, sendPace) {
		return false
	}
	return pc.down <= 0 || pc.down*slowPaceRatio < med(&s.seed.downMedian, downPace)
}

func sendPace(p *peer) float64 { return p.pace.send }
func downPace(p *peer) float64 { return p.pace.down }

// gained updates p's down pace after it gained a piece. Gains at the
// moment of the first (a bitfield) are the base the pace counts from.
func (s *Swarm) gained(now time.Time, p *peer) {
	got := p.numHas + p.pace.sent
	switch pc := &p.pace; {
	case pc.from.IsZero() || !now.After(pc.from):
		pc.from, pc.base = now, got
	case got-pc.base >= downPieces:
		pc.down = float64(got-pc.base) / now.Sub(pc.from).Seconds()
		s.seed.downMedian.dirty = true
	}
}

// paceMedian returns m, the median of the measured paces (of) of our
// peers, recounted if due; 0 when none is measured.
func (s *Swarm) paceMedian(now time.Time, m *median, of func(*peer) float64) float64 {
	if !m.dirty || now.Sub(m.at) < paceMedianEvery {
		return m.val
	}
	m.dirty, m.at = false, now
	paces := s.seed.paces[:0]
	for _, q := range s.peers {
		if v := of(q); v > 0 {
			paces = append(paces, v)
		}
	}
	s.seed.paces = paces
	m.val = 0
	if n := len(paces); n > 0 {
		slices.Sort(paces)
		m.val = paces[n/2]
	}
	return m.val
}

// seedBlockSent counts bytes of revealed pieces sent to p and measures
// p's send pace from them; a fully sent piece has gone out, counts in p's
// down pace, and p is revealed another.
func (s *Swarm) seedBlockSent(now time.Time, p *peer, spec BlockSpec) {
	for k := range p.reveals {
		r := &p.reveals[k]
		if r.piece != int(spec.Piece) {
			continue
		}
		r.sent += int64(spec.Length)
		r.at = now
		if r.first.IsZero() {
			r.first, r.base = now, r.sent
		} else if dt := now.Sub(r.first); dt > 0 {
			p.pace.send = float64(r.sent-r.base) / dt.Seconds()
			s.seed.sendMedian.dirty = true
		}
		slow := s.slowPeer(now, p)
		if slow && !p.pace.slowSeen {
			s.strand(p)
		}
		if r.sent >= s.pieceLen(r.piece) {
			s.seed.pending[r.piece]--
			s.seed.sent[r.piece]++
			p.pace.sent++
			s.gained(now, p)
			p.reveals = append(p.reveals[:k], p.reveals[k+1:]...)
			if !slow {
				if s.seed.numOut < s.cfg.NumPieces {
					p.pace.gotWhole = append(p.pace.gotWhole, int32(r.piece))
				}
				s.markOut(now, int(spec.Piece))
			}
			s.revealTo(now, p)
		}
		return
	}
}

// seedPeerHas notes that p has piece i: the piece is out unless p is
// slow, p's pace counts it, and if it was revealed to p, p gets another.
func (s *Swarm) seedPeerHas(now time.Time, p *peer, i int) {
	s.gained(now, p)
	for k, r := range p.reveals {
		if r.piece == i {
			s.seed.pending[i]--
			p.reveals = append(p.reveals[:k], p.reveals[k+1:]...)
			break
		}
	}
	if !s.slowPeer(now, p) {
		s.markOut(now, i)
	}
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
		for _, q := range s.peers {
			q.pace.gotWhole = nil // strand has nothing left to do
		}
		// Second copies may be revealed from now on: peers whose reveals ran
		// out while the last pieces were on their way get some.
		for _, q := range s.peers {
			s.revealTo(now, q)
		}
	}
}

// seedTick counts out the stranded pieces no peer can take (unstrand),
// releases reveals a peer has not progressed on for two request timeouts,
// so a stalled peer cannot hold pieces back from the swarm, and tops up
// every peer's reveals.
func (s *Swarm) seedTick(now time.Time) {
	s.unstrand(now)
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

// strand notes that p, which we find slow for the first time, holds the
// only copies of the pieces it got whole from us that nobody announced
// and we sent once: those have not gone out to a peer that can pass them
// on to the fleet (fast receivers hold back from slow sources), so they
// count as never out again and are revealed first to a peer that is not
// slow. Without it a piece that went to a slow receiver before its sends
// were measured stayed there until the end of the first copy, and the
// fast receivers' last piece was one of those (N = 50, 5 GB: the last
// five fast receivers waited for a piece that left the origin at 0.12 s
// and reached the first fast receiver at 1.08 s).
func (s *Swarm) strand(p *peer) {
	seed := s.seed
	p.pace.slowSeen = true
	for _, i := range p.pace.gotWhole {
		if seed.out.get(int(i)) && seed.sent[i] == 1 && s.avail[i] == 0 {
			seed.out.clear(int(i))
			seed.numOut--
		}
	}
	p.pace.gotWhole = nil
}

// unstrand counts out, as the rule before strand did, every piece that
// left us (we sent it whole, or a peer announced it) but not to a peer
// that is not slow, is revealed to nobody, and that no peer that is not
// slow lacks and may be revealed: nobody could ever take it to the fleet,
// and while it counted as not out no second copy of any piece was
// revealed, so the pieces whose only copy left with a peer that went away
// were revealed to nobody again. That stalled an agent restarted after a
// kill, alone with the origin (TestFleetAgentKilledMidRelease): it held
// a piece it had got while it looked slow (on a median counted a moment
// before, see paceMedian), and lacked pieces sent to its killed self.
// Slowness here is judged on the medians as last counted, so this check
// recounts nothing and moves no other verdict.
func (s *Swarm) unstrand(now time.Time) {
	seed := s.seed
	for w, word := range seed.out {
		for left := ^word; left != 0 && seed.numOut < s.cfg.NumPieces; {
			i := w*64 + trailingZeros(left)
			left &= left - 1
			if i >= s.cfg.NumPieces {
				break
			}
			if seed.pending[i] > 0 || seed.sent[i] == 0 && s.avail[i] == 0 || s.mayTakeStranded(i) {
				continue // on its way out, never left, or a peer may take it
			}
			s.markOut(now, i)
		}
	}
}

// mayTakeStranded reports whether a peer that is not slow, on the last
// medians, lacks piece i and may be revealed it.
func (s *Swarm) mayTakeStranded(i int) bool {
	if s.numWithheld > 0 && s.withheld.get(i) {
		return false
	}
	for _, q := range s.peers {
		if !q.has.get(i) && !q.told.get(i) && !s.slowOn(time.Time{}, q, false) {
			return true
		}
	}
	return false
}
