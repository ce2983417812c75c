package swarm

import (
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// Locality: which peers are near, and what we may ask of far ones.
//
// With Config.Zone set, a peer whose extended handshake (BEP 10) carries
// a zone label ("shoal_zone", see wire.ExtendedHandshake) is near when its
// label equals ours (the same rack) and far when it differs; a peer
// without a label is of unknown distance and treated as near, so a fleet
// without labels, or a swarm of other clients, behaves as without
// locality. Bytes from a far peer cross the racks' oversubscribed uplinks,
// so the core asks a far peer only for a piece that
//
//   - no near peer has (a near peer will serve it without crossing), and
//   - is ours to bring into the rack: among us and our near peers that
//     told their peer id, ours has the highest rendezvous weight for the
//     piece (farWeight). The hosts of a rack that see each other agree on
//     the owner, so each piece crosses into the rack about once, and the
//     others take it from their rack neighbour once it has it;
//
// unless the piece is already in progress here with no near peer having
// it, or only this one peer of ours has it and the peer hides pieces (it
// lacks pieces we have and does not want them: an origin under initial
// seeding, which reveals each piece to one peer at a time, so its reveals
// to far peers would stall otherwise), or we are starved: our near peers
// hold less than a piece's worth of our requests, so waiting for the rack
// would leave our download link idle (and the moment we become starved
// every far peer is filled, refillFar, not only those that send us
// something). A piece that only one of our peers
// has is not scarce when that peer is a downloader, which shows every
// piece it has: our rack neighbours see it at their own far peers, and
// if each of us took it the rack would take it in many times.
// And if a piece that is not ours has been at our far peers for a while
// and still no near peer has it, its owner probably cannot get it (its
// far peers lack it): we take it after a wait of about half a piece's
// fetch time per near peer that likely outranks us for it (farStepIn), so
// the hosts of a rack step in one after another rather than all at once. The fetch time
// is how long our own pieces from far peers took, start to verification
// (farFetch), once one did: a far peer's average rate, sampled every
// 250 ms, is unknown for most far peers in a run of a second or two and
// low for one we use only now and then, and the 10 ms default was about
// ten times a piece's fetch on a fast fleet. These fallbacks keep the
// swarm from stalling. Once a near peer announces a piece we are still
// fetching from far peers, our requests for it at far peers are cancelled
// and its blocks asked of near peers (cancelFar): a far request waits
// long at its uploader, and what it brings in late crosses into a rack
// that already holds the piece.
//
// What we upload to a far peer crosses into its rack, where its rack
// neighbours take it from it: its upload turns come first and its
// waiting requests are not shed (crossesRacks); a near peer's are shed
// only for pieces common among our near peers (shedCopies).
//
// A peer that speaks BEP 10 is asked for nothing until its extended
// handshake arrives (at most zoneHold), so the first requests are not
// sent before its distance is known.

// zoneHold bounds how long requests to a BEP 10 peer wait for its
// extended handshake when we have a zone.
const zoneHold = 2 * time.Second

// distance is what the core knows of a peer's location.
type distance uint8

const (
	distUnknown distance = iota // no label (ours or its): treated as near
	distNear                    // the same label as ours
	distFar                     // a different label
)

// locality is the core's locality state; it is used only when Config.Zone
// is set.
type locality struct {
	self uint64 // farWeight key of our own peer id (0: none)
	// farAvail counts the far peers that have each piece (avail counts
	// every peer), and farSince is when (unix ns) its count last rose
	// from zero.
	farAvail []int32
	farSince []int64
	// best is, per piece, the highest farWeight among the near peers with
	// an id, and mine the pieces whose weight of ours beats it: the pieces
	// we may fetch from far peers. Recomputed when a near peer leaves.
	best []uint64
	mine bitset
	// farStart is when (unix ns) each piece in progress was started for a
	// far peer (0: not), and farFetch an average (ns) of how long such
	// pieces took from start to verification (0: none yet): the unit of
	// the wait before stepping in for an owner (farFilter).
	farStart []int64
	farFetch float64
	// peakDown is the highest download rate (bytes/s, the sum of our
	// peers' measured rates) seen so far: what our link can take, which
	// farStarve is measured against. The rate of the moment would not do:
	// a host that waits on its rack downloads slowly, and would count
	// itself less starved the longer it waits.
	peakDown float64
	// nearReqs is our outstanding requests at peers that are not far
	// (the sum of their len(reqs), kept by reqsChanged), and starved
	// whether we were starved at the end of the last event (refillFar).
	nearReqs int
	starved  bool
}

// newLocality returns the locality state for cfg, or nil without a zone.
func newLocality(cfg *Config) *locality {
	if cfg.Zone == "" {
		return nil
	}
	l := &locality{
		self:     idKey(cfg.PeerID),
		farAvail: make([]int32, cfg.NumPieces),
		farSince: make([]int64, cfg.NumPieces),
		best:     make([]uint64, cfg.NumPieces),
		mine:     newBitset(cfg.NumPieces),
		farStart: make([]int64, cfg.NumPieces),
	}
	for i := range l.best {
		l.mine.set(i)
	}
	return l
}

// idKey hashes a peer id into the key of its rendezvous weights (FNV-1a);
// the zero id (unknown) gives 0, which takes part in no rendezvous.
func idKey(id [20]byte) uint64 {
	if id == ([20]byte{}) {
		return 0
	}
	h := uint64(14695981039346656037)
	for _, b := range id {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h | 1
}

// farWeight is the rendezvous weight of the host with key k for piece i
// (a splitmix64 finalizer of the two).
func farWeight(k uint64, i int) uint64 {
	x := k + uint64(i)*0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// setZone records the zone label p announced (already checked by the
// wire parser) and updates what its pieces and id count for.
func (s *Swarm) setZone(now time.Time, p *peer, label string) {
	l := s.loc
	p.extSeen = true
	if l == nil {
		return
	}
	d := distUnknown
	switch {
	case label == "":
	case label == s.cfg.Zone:
		d = distNear
	default:
		d = distFar
	}
	if d == p.dist {
		s.fill(now, p)
		return
	}
	s.reqsChanged(p, -len(p.reqs)) // they count again under p's new distance
	s.forgetDistance(p)
	p.dist = d
	s.reqsChanged(p, len(p.reqs))
	switch d {
	case distFar:
		s.addFarHas(now, p)
	case distNear:
		s.addNearID(p)
	}
	s.needFill = true
}

// forgetDistance undoes what p's distance contributed.
func (s *Swarm) forgetDistance(p *peer) {
	switch p.dist {
	case distFar:
		for w, word := range p.has {
			for word != 0 {
				s.loc.farAvail[w*64+trailingZeros(word)]--
				word &= word - 1
			}
		}
	case distNear:
		p.dist = distUnknown
		if p.idKey != 0 {
			s.recomputeMine()
		}
	}
	p.dist = distUnknown
}

// addFarHas counts the pieces of far peer p in farAvail.
func (s *Swarm) addFarHas(now time.Time, p *peer) {
	for w, word := range p.has {
		for word != 0 {
			s.countFar(now, w*64+trailingZeros(word))
			word &= word - 1
		}
	}
}

// countFar counts one more far peer with piece i.
func (s *Swarm) countFar(now time.Time, i int) {
	l := s.loc
	if l.farAvail[i] == 0 {
		l.farSince[i] = now.UnixNano()
	}
	l.farAvail[i]++
}

// addNearID lets near peer p's id take part in the rendezvous.
func (s *Swarm) addNearID(p *peer) {
	l := s.loc
	if p.idKey == 0 || l.self == 0 {
		return
	}
	for i := range l.best {
		if w := farWeight(p.idKey, i); w > l.best[i] {
			l.best[i] = w
			if w >= farWeight(l.self, i) {
				l.mine.clear(i)
			}
		}
	}
}

// recomputeMine rebuilds best and mine from the near peers connected.
func (s *Swarm) recomputeMine() {
	l := s.loc
	for i := range l.best {
		l.best[i] = 0
		l.mine.set(i)
	}
	for _, q := range s.peers {
		if q.dist == distNear {
			s.addNearID(q)
		}
	}
}

// farHas records that peer p gained piece i: a far peer's count in
// farAvail, and for a near peer (or one of unknown distance) the end of
// our far requests for the piece (cancelFar).
func (s *Swarm) farHas(now time.Time, p *peer, i int) {
	switch {
	case s.loc == nil:
	case p.dist == distFar:
		s.countFar(now, i)
	case s.dl[i] != nil:
		s.cancelFar(now, i)
	}
}

// cancelFar cancels our requests for piece i at far peers, now that a
// near peer has it: a near peer is asked instead (the far filter allows
// no far peer a piece a near peer has), so the blocks not yet on their
// way do not cross the uplinks into a rack that holds the piece. Far
// requests wait long at their uploaders (far peers' pipelines are deep,
// and a busy uploader serves ten turns), and on the racks proxy most of
// the bytes that entered a rack beyond one copy of each piece were sent
// after a receiver of the rack had verified the piece. The piece no
// longer counts as a far fetch (farStart): its time is no far peer's.
func (s *Swarm) cancelFar(now time.Time, i int) {
	for _, q := range s.peers {
		if q.dist != distFar {
			continue
		}
		for k := len(q.reqs) - 1; k >= 0; k-- {
			if int(q.reqs[k].spec.Piece) == i {
				s.cancelRequest(now, q, k, false, false)
				s.loc.farStart[i] = 0
			}
		}
	}
}

// farStepIn scales the wait before we step in for a piece's owner (see
// farFilter.allows): half a far piece's fetch time per near peer likely to
// outrank us. A step-in that was not needed costs less since cancelFar:
// once the owner (or another neighbour) has the piece, the far requests of
// the others for it end.
const farStepIn = 0.5

// farFetchWeight is the weight of each new sample in locality.farFetch.
const farFetchWeight = 0.125

// crossesRacks reports whether p is a far peer: what we upload to it
// crosses into another rack, where p's rack neighbours take it from p.
// Its upload turns come before near peers' (fillTurns), and its waiting
// requests are not shed as common (shed): a piece common among our peers
// is one p's rack lacks (p asks a far peer only for such pieces), and p
// has at most a few far peers to get it from.
func (s *Swarm) crossesRacks(p *peer) bool {
	return s.loc != nil && p.dist == distFar
}

// shedCopies is how many copies of piece i shed counts for waiting peer
// p: those we know of (copies), but for a near peer, with a zone, not
// those of far peers that announced it (copies we sent count, near or
// far: a peer that got a piece from us does not announce it): the far ones are
// no source for p, which asks far peers only for what its rack lacks, so
// shedding its request would leave it waiting RequestTimeout before it
// asks us again, or no one at all.
func (s *Swarm) shedCopies(p *peer, i int) int32 {
	if s.loc == nil || p.dist == distFar {
		return s.copies(i)
	}
	return s.copies(i) - s.loc.farAvail[i]
}

// farStarted records that piece i was started for a far peer at now.
func (s *Swarm) farStarted(now time.Time, i int) {
	if s.loc != nil {
		s.loc.farStart[i] = now.UnixNano()
	}
}

// farDone records that piece i verified (or failed) at now: a piece
// started for a far peer adds its fetch time to farFetch.
func (s *Swarm) farDone(now time.Time, i int, ok bool) {
	l := s.loc
	if l == nil || l.farStart[i] == 0 {
		return
	}
	if d := float64(now.UnixNano() - l.farStart[i]); ok && d > 0 {
		if l.farFetch == 0 {
			l.farFetch = d
		} else {
			l.farFetch += farFetchWeight * (d - l.farFetch)
		}
	}
	l.farStart[i] = 0
}

// awaitingZone reports whether requests to p wait for its extended
// handshake (see zoneHold).
func (s *Swarm) awaitingZone(now time.Time, p *peer) bool {
	return s.loc != nil && p.extended && !p.extSeen && now.Sub(p.addedAt) < zoneHold
}

// farFilter decides which pieces a far peer may be asked for during one
// fill; the zero farFilter (a peer not far) allows every piece.
type farFilter struct {
	s       *Swarm
	far     bool
	starved bool
	now     int64   // unix ns
	near    float64 // near peers with an id (the others in the rendezvous)
	unit    float64 // ns: about the time to fetch one piece from a far peer
	// revealer: the peer lacks pieces we have and does not want them, so
	// it hides pieces it has: an origin under initial seeding.
	revealer bool
	nfar     float64 // our far peers
}

// Bounds on farFilter.unit, and its value while neither our far pieces'
// fetch time nor the peer's rate is known.
const (
	minFarUnit     = time.Millisecond
	maxFarUnit     = time.Second
	defaultFarUnit = 10 * time.Millisecond
)

// farFilterFor returns the filter for requests to p.
func (s *Swarm) farFilterFor(now time.Time, p *peer) farFilter {
	if s.loc == nil || p.dist != distFar {
		return farFilter{}
	}
	nearReqs, near, far, rate := 0, 0, 0, 0.0
	for _, q := range s.peers {
		if q.dist != distFar {
			nearReqs += len(q.reqs)
		} else {
			far++
		}
		if q.dist == distNear && q.idKey != 0 {
			near++
		}
		if q.rateKnown {
			rate += q.downRate
		}
	}
	unit := float64(defaultFarUnit)
	switch {
	case s.loc.farFetch > 0:
		unit = min(max(s.loc.farFetch, float64(minFarUnit)), float64(maxFarUnit))
	case p.rateKnown && p.downRate > 0:
		unit = float64(s.cfg.PieceLength) / p.downRate * 1e9
		unit = min(max(unit, float64(minFarUnit)), float64(maxFarUnit))
	}
	s.loc.peakDown = max(s.loc.peakDown, rate)
	return farFilter{s: s, far: true, starved: starved(nearReqs, s.blocksPerPc, s.loc.peakDown), now: now.UnixNano(), near: float64(near), unit: unit,
		revealer: !p.peerInterested && s.have.countAndNot(p.has) > 0, nfar: float64(far)}
}

// farStarve is how long our requests at near peers must keep our download
// busy, at the rate we are downloading, for us not to be starved.
const farStarve = time.Millisecond

// starved reports whether nearReqs requests at near peers (blocks of
// wire.BlockSize) are too few to wait for the rack: fewer than a piece's
// worth (blocksPerPc), or than farStarve of our download rate (bytes/s,
// the peak we have seen, peakDown; 0 while unknown). A count of pieces alone is too few on a fast link
// with small pieces: 2 MiB pieces at 5 GB/s drain in 0.4 ms, less than a
// round trip, and a rack that lags waited on its near peers while its
// download idled (docs/BENCHMARKS.md, "Session 15 (racks)"). Time does
// not depend on the piece length, nor on the simulator's coarser blocks,
// since it measures both the requests and the rate in the core's bytes.
func starved(nearReqs, blocksPerPc int, rate float64) bool {
	return nearReqs < blocksPerPc || float64(nearReqs)*wire.BlockSize < rate*farStarve.Seconds()
}

// allows reports whether piece i may be requested from the peer.
func (f farFilter) allows(i int) bool {
	if !f.far {
		return true
	}
	s, l := f.s, f.s.loc
	if s.avail[i] > l.farAvail[i] {
		return false // a near peer (or one of unknown distance) has it
	}
	if f.starved || s.dl[i] != nil || l.mine.get(i) || (s.avail[i] == 1 && f.revealer) || l.self == 0 {
		return true
	}
	// Not ours: its owner should bring it in. If the rack still lacks it
	// after a while, we take it, after a wait that grows with how many of
	// our near peers likely outrank us for it (estimated from our own
	// weight) among those that see it at a far peer too (estimated from
	// the share of our far peers that have it), so the hosts of the rack
	// that can fetch it step in one after another.
	seen := min(float64(l.farAvail[i])/max(f.nfar, 1), 1)
	rank := f.near * seen * (1 - float64(farWeight(l.self, i))/(1<<64))
	return float64(f.now-l.farSince[i]) >= rank*f.unit*farStepIn
}

// FarWeight is the rendezvous weight of the host with peer id id for
// piece i: the host of a rack with the highest weight among those that
// see each other owns the piece (locality.mine). For the simulator's
// diagnosis.
func FarWeight(id [20]byte, i int) uint64 { return farWeight(idKey(id), i) }

// refillFar fills our far peers when we have just become starved, at the
// end of an event (flush). Starving lifts the far rule's ownership test,
// but a far peer is filled only when it sends us something or every peer
// is (a tick, a new peer): in a rack's tail most far peers are complete
// and send nothing, so a host whose near requests ran out would wait for
// its next tick (up to a second) to ask them for what its rack lacks.
func (s *Swarm) refillFar(now time.Time) {
	l := s.loc
	if l == nil || s.Complete() {
		return
	}
	st := starved(l.nearReqs, s.blocksPerPc, l.peakDown)
	if st && !l.starved && !s.needFill {
		for _, q := range s.peers {
			if q.dist == distFar {
				s.fill(now, q)
			}
		}
	}
	l.starved = st
}

// reqsChanged counts n more (or, negative, fewer) requests of ours at p
// in locality.nearReqs when p is not far; call it wherever p.reqs grows
// or shrinks.
func (s *Swarm) reqsChanged(p *peer, n int) {
	if s.loc != nil && p.dist != distFar {
		s.loc.nearReqs += n
	}
}
