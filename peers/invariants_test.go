package peers

import "fmt"

// checkInvariants verifies the counters that must agree with the tables;
// the scripts and the randomized test call it after every event.
func (m *Manager) checkInvariants() error {
	nDialing, dialPEX, pexOnly := 0, 0, 0
	bySrc := map[any]int{}
	if len(m.cands) != len(m.candList) {
		return fmt.Errorf("%d candidates in the map, %d in the list", len(m.cands), len(m.candList))
	}
	for i, cd := range m.candList {
		if cd.idx != i || m.cands[cd.addr] != cd {
			return fmt.Errorf("candidate %v: index %d at %d, or not in the map", cd.addr, cd.idx, i)
		}
		switch cd.state {
		case dialing:
			nDialing++
			if cd.dialPEX {
				dialPEX++
			}
		case connected:
			c := m.conns[cd.conn]
			if c == nil || c.cand != cd {
				return fmt.Errorf("candidate %v connected to %d, which does not stand for it", cd.addr, cd.conn)
			}
		}
		if cd.pexOnly() {
			pexOnly++
			bySrc[cd.pexFrom]++
		}
	}
	if nDialing != m.halfOpen || dialPEX != m.halfPEX {
		return fmt.Errorf("half-open %d (PEX %d), but %d (%d) candidates dialing", m.halfOpen, m.halfPEX, nDialing, dialPEX)
	}
	if pexOnly != m.pexCands {
		return fmt.Errorf("pexCands %d, but %d PEX-only candidates", m.pexCands, pexOnly)
	}
	for src, n := range m.pexBySrc {
		if bySrc[src] != n {
			return fmt.Errorf("pexBySrc[%v] = %d, but %d candidates", src, n, bySrc[src])
		}
	}
	if m.halfOpen > m.cfg.MaxHalfOpen || len(m.conns) > m.cfg.MaxPeers {
		return fmt.Errorf("bounds broken: %d conns, %d half-open (max %d, %d)", len(m.conns), m.halfOpen, m.cfg.MaxPeers, m.cfg.MaxHalfOpen)
	}
	if len(m.cands) > m.cfg.MaxCandidates || m.pexCands > m.cfg.MaxCandidates/4 {
		return fmt.Errorf("%d candidates (%d PEX-only) past the bounds", len(m.cands), m.pexCands)
	}
	asked, far, farCounted := 0, 0, 0
	if len(m.conns) != len(m.connList) {
		return fmt.Errorf("%d conns in the map, %d in the list", len(m.conns), len(m.connList))
	}
	for i, c := range m.connList {
		if c.idx != i || m.conns[c.id] != c {
			return fmt.Errorf("conn %d: index %d at %d", c.id, c.idx, i)
		}
		if m.byPeerID[c.peerID] != c {
			return fmt.Errorf("conn %d not indexed by its peer id", c.id)
		}
		if c.asked {
			asked++
		}
		if c.far {
			far++
			if !c.fact.Seed {
				farCounted++
			}
		}
	}
	if far != m.far {
		return fmt.Errorf("far %d, but %d far conns", m.far, far)
	}
	if m.farCapped() && farCounted > m.cfg.MaxFar {
		return fmt.Errorf("%d far conns that are not seeds, bound %d", farCounted, m.cfg.MaxFar)
	}
	if len(m.byPeerID) != len(m.conns) {
		return fmt.Errorf("%d peer ids for %d conns", len(m.byPeerID), len(m.conns))
	}
	if asked != m.asking || m.asking > MaxMetadataAsks {
		return fmt.Errorf("asking %d, but %d conns asked", m.asking, asked)
	}
	if len(m.bans) != len(m.banOrder) || len(m.bans) > MaxBans {
		return fmt.Errorf("%d bans, %d in order", len(m.bans), len(m.banOrder))
	}
	return nil
}
