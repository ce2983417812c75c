package sim

import (
	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/tracker"
)

// trackerAnnounce registers h with the tracker and hands it peers chosen by
// the policy from every other registered host; the reply reaches h after
// the latency.
func (s *simulation) trackerAnnounce(h *host) {
	if h.gone {
		return
	}
	s.registered[h.idx] = true
	now := timeOf(s.now)
	self := s.trackerPeer(h.idx)
	cands := s.candBuf[:0] // the policy does not keep it (tracker.Policy)
	for i, ok := range s.registered {
		if ok && i != h.idx {
			cands = append(cands, s.trackerPeer(i))
		}
	}
	s.candBuf = cands
	out := s.policy.Handout(now, self, cands, peers.NumWant)
	ids := make([]int32, 0, len(out))
	for _, p := range out {
		if i := hostOf(p.Addr); int(i) < len(s.hosts) && int(i) != h.idx {
			ids = append(ids, i)
		}
	}
	h.handouts.push(ids)
	s.schedule(event{at: s.now + s.lat, kind: evPeers, h: h})
}

// trackerReply hands h the next tracker reply in flight, as the runtime
// hands an announce's result to its peer manager.
func (s *simulation) trackerReply(h *host) {
	ids := h.handouts.pop()
	if h.gone || h.mgr == nil {
		return
	}
	addrs := h.addrBuf[:0]
	for _, i := range ids {
		addrs = append(addrs, peerAddr(int(i)))
	}
	h.addrBuf = addrs
	h.mgr.AnnounceDone(timeOf(s.now), 0, peers.AnnounceResult{Interval: AnnounceInterval, MinInterval: MinInterval, Peers: addrs})
	h.stepped()
	s.process(h)
}

// trackerPeer is what the tracker stores for host i: its address, and
// the counters of its last announce (approximated by its current ones).
// Every announce lists every registered host, so the entries are kept in
// s.tpeers and rebuilt only after the host's bytes left changed (a piece
// verified: trackerStale); reading thousands of cold cores per announce
// was most of an announce's cost at N = 10,000.
func (s *simulation) trackerPeer(i int) tracker.Peer {
	if s.tpeers == nil {
		s.tpeers = make([]tracker.Peer, len(s.hosts))
		s.tpFresh = make([]bool, len(s.hosts))
	}
	if !s.tpFresh[i] {
		s.tpeers[i], s.tpFresh[i] = s.makeTrackerPeer(s.hosts[i]), true
	}
	return s.tpeers[i]
}

// trackerStale notes that h's tracker entry must be rebuilt.
func (s *simulation) trackerStale(h *host) {
	if s.tpFresh != nil {
		s.tpFresh[h.idx] = false
	}
}

// makeTrackerPeer builds h's tracker entry.
func (s *simulation) makeTrackerPeer(h *host) tracker.Peer {
	p := tracker.Peer{Addr: peerAddr(h.idx), ID: peerID(h.idx)}
	p.Zone = s.rackZone(h) // racks.go
	p.Left = h.core.BytesLeft() * s.lay.scale
	if !h.origin {
		p.Downloaded = (s.lay.modelTotal - h.core.BytesLeft()) * s.lay.scale
	}
	return p
}
