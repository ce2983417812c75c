package swarm

import (
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// maxAllowedFast bounds how many allowed-fast pieces we remember per peer
// (BEP 6 suggests sets of about 10).
const maxAllowedFast = 64

// peer is the core's view of one connection.
type peer struct {
	id       ConnID
	fast     bool // both sides speak BEP 6
	extended bool // the peer speaks BEP 10

	has    bitset
	numHas int
	wanted int // pieces the peer has that we lack

	amInterested   bool
	amChoking      bool
	peerChoking    bool
	peerInterested bool
	allowedFast    []uint32 // pieces the peer lets us fetch while choked

	reqq    int       // the peer's advertised queue depth, 0 = unknown
	reqs    []request // our outstanding requests, oldest first
	pipe    pipeline  // sizes reqs from the peer's rate and round trip
	uploads []BlockSpec
	// Upload admission: the first emitted entries of uploads were handed to
	// the runtime (SendBlock); the rest wait until p is among the peers we
	// serve at once (see admit).
	emitted  int
	upActive bool
	upQuota  int    // blocks p may still be handed in this turn
	upSeq    uint64 // when p started waiting for a turn (FIFO order)
	turnsAt  uint64 // s.turns when it started waiting (see shed)
	greeted  bool   // its first message (bitfield, have-all/none or have) arrived

	downWindow, upWindow int64     // bytes since the last rate sample
	moved                int64     // payload bytes moved either way before the last sample
	unchokedUs           bool      // the peer unchoked us at least once
	sampledAt            time.Time // when the last rate sample was taken
	downRate, upRate     float64
	rateKnown            bool
	src                  sourcePace // how fast it gains pieces (see slowSource)

	unchokedAt time.Time // when we last unchoked it
	waitingAt  time.Time // when it last became interested while choked
	keep       bool      // scratch for the public choker

	told    bitset   // initial seeding: pieces we revealed to it
	reveals []reveal // initial seeding: revealed pieces not fetched yet
	pace    pace     // initial seeding: how fast it downloads (seed.go)

	// Locality (locality.go).
	addedAt time.Time // when AddPeer ran
	extSeen bool      // its extended handshake arrived
	dist    distance
	idKey   uint64 // idKey of its peer id
}

// request is one of our outstanding requests.
type request struct {
	spec BlockSpec
	at   time.Time
	seq  uint64 // order of sending to this peer (see pipeline)
}

// AddPeer registers a connection whose handshake is done and sends our
// bitfield (BEP 3) or HaveAll/HaveNone (BEP 6) as its first message. An
// already known c is ignored.
func (s *Swarm) AddPeer(now time.Time, c ConnID, info PeerInfo) {
	s.step()
	if s.byID.get(c) != nil {
		return
	}
	p := &peer{
		id:          c,
		fast:        s.cfg.Fast && info.Fast,
		extended:    info.Extended,
		has:         newBitset(s.cfg.NumPieces),
		amChoking:   true,
		peerChoking: true,
		addedAt:     now,
		idKey:       idKey(info.ID),
	}
	s.peers = append(s.peers, p)
	s.byID.set(c, p)
	switch {
	case s.seed != nil:
		p.told = newBitset(s.cfg.NumPieces)
		if p.fast {
			s.send(p, wire.Message{Type: wire.HaveNone})
		}
		s.revealTo(now, p)
	case s.numHave == 0:
		if p.fast {
			s.send(p, wire.Message{Type: wire.HaveNone})
		}
	case s.Complete() && s.numWithheld == 0 && p.fast:
		s.send(p, wire.Message{Type: wire.HaveAll})
	default:
		s.send(p, wire.Message{Type: wire.Bitfield, Bitfield: s.bitfield()})
	}
	s.flush(now)
}

// bitfield encodes the pieces we serve (verified, not withheld) as a BEP 3
// bitfield.
func (s *Swarm) bitfield() []byte {
	bf := make([]byte, (s.cfg.NumPieces+7)/8)
	for i := 0; i < s.cfg.NumPieces; i++ {
		if s.canServe(i) {
			bf[i/8] |= 0x80 >> (i % 8)
		}
	}
	return bf
}

// RemovePeer forgets a connection: its requests go back to the pool and its
// pieces no longer count towards availability. Unknown c is ignored.
func (s *Swarm) RemovePeer(now time.Time, c ConnID) {
	s.step()
	p := s.byID.get(c)
	if p == nil {
		return
	}
	s.dropPeer(now, p)
	s.flush(now)
}

// disconnect emits a Disconnect for p and forgets it.
func (s *Swarm) disconnect(now time.Time, p *peer, reason string) {
	s.emit(Action{Kind: Disconnect, Conn: p.id, Reason: reason})
	s.dropPeer(now, p)
}

// ban emits a Ban for c, until until (zero: for good), and forgets the
// peer if it is still connected.
func (s *Swarm) ban(now time.Time, c ConnID, reason string, until time.Time) {
	s.emit(Action{Kind: Ban, Conn: c, Reason: reason, Until: until})
	if p := s.byID.get(c); p != nil {
		s.dropPeer(now, p)
	}
}

// dropPeer undoes everything p contributed to the shared state.
func (s *Swarm) dropPeer(now time.Time, p *peer) {
	for len(p.reqs) > 0 {
		s.unrequest(now, p, len(p.reqs)-1, false)
	}
	if s.loc != nil {
		s.forgetDistance(p) // before p leaves s.peers: it may recount the rendezvous without p
	}
	if p.src.slow {
		p.src.slow = false
		s.countSlowAvail(p)
	}
	for i, w := range p.has {
		for w != 0 {
			b := trailingZeros(w)
			w &= w - 1
			s.avail[i*64+b]--
		}
	}
	for _, i := range s.active {
		if d := s.dl[i]; d.exclusive && d.ownerSet && d.owner == p.id {
			d.ownerSet = false
		}
	}
	if s.seed != nil {
		for _, r := range p.reveals {
			s.seed.pending[r.piece]--
		}
		p.reveals = nil
		s.seed.sendMedian.dirty, s.seed.downMedian.dirty = true, true // p leaves the medians
	}
	if !p.amChoking {
		s.numUnchoked--
	}
	if p.upActive {
		p.upActive = false
		s.numUpActive--
	}
	if s.optimistic == p {
		s.optimistic = nil
	}
	s.byID.del(p.id)
	for i, q := range s.peers {
		if q == p {
			copy(s.peers[i:], s.peers[i+1:])
			s.peers[len(s.peers)-1] = nil
			s.peers = s.peers[:len(s.peers)-1]
			break
		}
	}
	s.needFill = true
	if s.cfg.Choker == Fleet {
		s.fleetFillSlots(now)
	}
	s.fillTurns()
}
