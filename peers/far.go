package peers

import "time"

// Far peers. With Config.Zone set, a connection whose BEP 10 handshake
// names another zone (ExtendedInfo.Zone) is far: its bytes cross the
// racks' oversubscribed uplinks. While we download, we keep at most
// MaxFar far connections that are not seeds; past that the least useful
// far connection is closed (see capFar), and addresses known to be far
// are not dialled while the far slots are full. Peers without a label,
// and every peer of a host without one, are never far, so a fleet
// without labels is unchanged. Far seeds (peers with every piece: a
// plain origin, hosts of other racks that completed) do not count: they
// are where a rack's missing pieces come from, and the core asks a far
// peer only for what the rack lacks (swarm locality). An origin under
// initial seeding hides its pieces, so it is no seed here, but having
// pieces we need and having unchoked us it ranks first among the far
// peers kept. A seed of ours keeps every connection: the downloaders'
// own bounds limit what it sends into each rack.

// DefaultMaxFar is the default of Config.MaxFar. With racks of R hosts
// that each keep k far links to uniformly chosen other racks, a rack has
// about k·R links out (40 hosts and k = 4: 160, about 6 to each of 24
// other racks): the graph of racks stays an expander, and a piece any
// rack holds is one far link from some host of every other rack (the
// core's rendezvous owner asks for it, or a rack neighbour that sees it
// steps in, see swarm locality). More did not pay in the simulator: 8
// gave 1.297 s and 1.29 F into a rack against 1.307 s and 1.28 F with 4
// (N = 1,000, 5 GB, 25 racks of 40 at 4:1).
const DefaultMaxFar = 4

// farRetry is how long an address whose connection we closed as one far
// peer too many is left alone, even when a far slot frees up.
const farRetry = time.Minute

// isFar reports whether a peer that announced label is far from us.
func (m *Manager) isFar(label string) bool {
	return m.cfg.Zone != "" && label != "" && label != m.cfg.Zone
}

// FactsFirst reports whether the caller should step Facts, with the
// core's current view, just before Extended(e): a far peer's handshake
// makes the manager choose which far peers to keep (capFar), and it
// judges them on their facts (a far peer's bitfield, whether it unchoked
// us). Stepping Facts at other times is harmless, only not needed.
func (m *Manager) FactsFirst(e ExtendedInfo) bool {
	return m.isFar(e.Zone)
}

// farCapped reports whether the far bound applies: we have a zone and a
// bound, and are downloading.
func (m *Manager) farCapped() bool {
	return m.cfg.Zone != "" && m.cfg.MaxFar >= 0 && !m.cfg.Complete
}

// farCounted returns how many far connections count against MaxFar (far
// and not seeds, as far as the last Facts told).
func (m *Manager) farCounted() int {
	if m.far <= m.cfg.MaxFar {
		return m.far // the seeds among them cannot matter
	}
	n := 0
	for _, c := range m.connList {
		if c.far && !c.fact.Seed {
			n++
		}
	}
	return n
}

// farFull reports whether no further far connection may be kept.
func (m *Manager) farFull() bool {
	return m.farCapped() && m.farCounted() >= m.cfg.MaxFar
}

// capFar closes the least useful far connections while more than MaxFar
// count: among the far ones that are not seeds, one without pieces we
// need first, then one that never unchoked us, then one not interested
// in ours, then the newest (an established link keeps its pipelines).
func (m *Manager) capFar(now time.Time) {
	if !m.farCapped() {
		return
	}
	for n := m.farCounted(); n > m.cfg.MaxFar; n-- {
		v := m.leastOf(func(c *conn) bool { return c.far && !c.fact.Seed },
			func(c, v *conn) bool {
				if !c.at.Equal(v.at) {
					return c.at.After(v.at) // the newest goes first
				}
				return c.id > v.id
			})
		if v.cand != nil {
			v.cand.nextTry = now.Add(farRetry)
		}
		m.drop(v)
		m.emit(Action{Kind: Close, Conn: v.id, Reason: "far peer beyond the far bound"})
	}
}

// usefulness ranks a connection for keeping: pieces we need count most,
// then having unchoked us, then wanting ours.
func usefulness(c *conn) int {
	s := 0
	if c.fact.Interesting {
		s += 4
	}
	if c.fact.UnchokedUs {
		s += 2
	}
	if c.fact.Interested {
		s++
	}
	return s
}
