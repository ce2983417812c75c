package sim

import (
	"time"

	"github.com/shoal-p2p/shoal/tracker"
)

// announce sends h's announce; the tracker sees it after the latency.
func (s *simulation) announce(h *host) {
	interval := int64(AnnounceInterval)
	if h.open < 5 && !h.core.Complete() {
		interval /= 2 // few peers: the client asks again at the minimum interval
	}
	h.nextAnn = s.now + interval
	s.schedule(event{at: s.now + s.lat, kind: evAnnounce, h: h})
}

// trackerAnnounce registers h with the tracker and hands it peers chosen by
// the policy from every other registered host.
func (s *simulation) trackerAnnounce(h *host) {
	if h.gone {
		return
	}
	s.registered[h.idx] = true
	now := timeOf(s.now)
	self := s.trackerPeer(h)
	cands := s.candBuf[:0] // the policy does not keep it (tracker.Policy)
	for i, ok := range s.registered {
		if ok && i != h.idx {
			cands = append(cands, s.trackerPeer(s.hosts[i]))
		}
	}
	s.candBuf = cands
	out := s.policy.Handout(now, self, cands, NumWant)
	ids := make([]int32, 0, len(out))
	for _, p := range out {
		if i := hostOf(p.Addr); int(i) < len(s.hosts) && int(i) != h.idx {
			ids = append(ids, i)
		}
	}
	h.handouts.push(ids)
	s.schedule(event{at: s.now + s.lat, kind: evPeers, h: h})
}

// trackerPeer is what the tracker stores for h: its address, and the
// counters of its last announce (approximated by its current ones).
func (s *simulation) trackerPeer(h *host) tracker.Peer {
	p := tracker.Peer{Addr: peerAddr(h.idx)}
	p.ID[0], p.ID[1], p.ID[2], p.ID[3] = 'S', byte(h.idx>>16), byte(h.idx>>8), byte(h.idx)
	p.Zone = s.rackZone(h) // racks.go
	p.Left = h.core.BytesLeft() * s.lay.scale
	if !h.origin {
		p.Downloaded = (s.lay.modelTotal - h.core.BytesLeft()) * s.lay.scale
	}
	return p
}

// dialMore dials candidates while h is below the client's bounds on
// connections and half-open dials, like the runtime on every tick and
// every tracker response.
func (s *simulation) dialMore(h *host) {
	if h.gone {
		return
	}
	for k := range h.cands {
		if h.open+h.half >= MaxPeers || h.half >= MaxHalfOpen {
			return
		}
		cd := &h.cands[k]
		if cd.connected || s.now < cd.nextTry || h.banned[cd.host] || h.peerOf[cd.host] != nil {
			continue
		}
		if h.core.Complete() && cd.failures > 0 {
			continue
		}
		cd.connected = true
		cd.nextTry = s.now + int64(30*time.Second)
		h.half++
		c := &conn{h: h, peer: s.hosts[cd.host], state: dialing, dialed: true}
		h.peerOf[cd.host] = c
		// TCP's handshake and the dialer's BitTorrent handshake: the
		// acceptor sees it after one and a half round trips.
		s.schedule(event{at: s.now + 3*s.lat, kind: evHandshake, h: c.peer, c: c})
	}
}

// accept runs at the acceptor a when the handshake of dial d arrives.
func (s *simulation) accept(a *host, d *conn) {
	from := int32(d.h.idx)
	refuse := a.gone || a.banned[from] || a.open >= MaxPeers
	if old := a.peerOf[from]; old != nil && !refuse {
		// Already connected, or both dialed at once: the lower index's dial
		// wins, so both ends keep the same connection.
		refuse = old.state == open || d.h.idx > a.idx
	}
	if refuse {
		s.sendCtrl(ctrl{kind: ctrlRefuse, to: d})
		return
	}
	c := &conn{h: a, peer: d.h, state: open, remote: d}
	a.conns = append(a.conns, c)
	c.id = swarmID(len(a.conns))
	a.peerOf[from] = c
	a.open++
	// The reply handshake goes first, then the core's opening messages.
	s.sendCtrl(ctrl{kind: ctrlAccept, to: d, from: c})
	s.addPeer(c)
}

// established runs at the dialer when the acceptor's handshake arrives.
func (s *simulation) established(d, remote *conn) {
	h := d.h
	if d.state != dialing {
		return
	}
	h.half--
	if h.gone || h.open >= MaxPeers || h.peerOf[int32(d.peer.idx)] != d {
		d.state = closed
		if remote.state == open {
			s.sendCtrl(ctrl{kind: ctrlFin, to: remote})
		}
		return
	}
	d.state, d.remote = open, remote
	h.conns = append(h.conns, d)
	d.id = swarmID(len(h.conns))
	h.open++
	if cd := h.candidate(int32(d.peer.idx)); cd != nil {
		cd.failures = 0
	}
	s.addPeer(d)
}

// addPeer tells c's core about the new connection and sends our extended
// handshake after the core's first message, as the runtime does.
func (s *simulation) addPeer(c *conn) {
	c.h.core.AddPeer(timeOf(s.now), c.id, peerInfo)
	s.process(c.h)
	s.send(c, ctrlMsg{typ: extendedType, data: s.extHS})
}

// dialFailed runs at the dialer when the acceptor refused.
func (s *simulation) dialFailed(d *conn) {
	h := d.h
	if d.state != dialing {
		return
	}
	d.state = closed
	h.half--
	p := int32(d.peer.idx)
	if h.peerOf[p] == d {
		delete(h.peerOf, p)
	}
	if cd := h.candidate(p); cd != nil {
		cd.connected = false
		cd.failures++
		cd.nextTry = s.now + int64(min(cd.failures, 6))*int64(5*time.Second)
	}
}
