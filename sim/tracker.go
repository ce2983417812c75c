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
	self := s.trackerPeer(h)
	cands := s.candBuf[:0] // the policy does not keep it (tracker.Policy)
	for i, ok := range s.registered {
		if ok && i != h.idx {
			cands = append(cands, s.trackerPeer(s.hosts[i]))
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
	s.process(h)
}

// trackerPeer is what the tracker stores for h: its address, and the
// counters of its last announce (approximated by its current ones).
func (s *simulation) trackerPeer(h *host) tracker.Peer {
	p := tracker.Peer{Addr: peerAddr(h.idx), ID: peerID(h.idx)}
	p.Zone = s.rackZone(h) // racks.go
	p.Left = h.core.BytesLeft() * s.lay.scale
	if !h.origin {
		p.Downloaded = (s.lay.modelTotal - h.core.BytesLeft()) * s.lay.scale
	}
	return p
}
