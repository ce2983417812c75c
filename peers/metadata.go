package peers

import "time"

// Metadata phase bounds (BEP 9).
const (
	// MaxMetadataAsks bounds the peers asked for the info dictionary at
	// once; each is asked for all of it (it is small, one honest peer
	// suffices).
	MaxMetadataAsks = 8
	// metadataAttempts bounds the times one address is asked.
	metadataAttempts = 5
	// metadataRetry is the least wait before asking an address again.
	metadataRetry = 3 * time.Second
)

// askMore asks connected peers that serve metadata, oldest first, while
// fewer than MaxMetadataAsks are asked.
func (m *Manager) askMore() {
	if !m.cfg.Metadata {
		return
	}
	for _, c := range m.connList {
		if m.asking >= MaxMetadataAsks {
			return
		}
		if c.extGot && c.metadata && !c.asked {
			c.asked = true
			m.asking++
			m.emit(Action{Kind: AskMetadata, Conn: c.id})
		}
	}
}

// MetadataFailed reports that connection id did not give us a copy of the
// info dictionary that verifies (it rejected, lied, stalled or closed). The
// peer is not believed: the connection is closed and its address asked
// again later, at most a few times.
func (m *Manager) MetadataFailed(now time.Time, id ConnID, reason string) {
	m.step()
	if c := m.conns[id]; c != nil && m.cfg.Metadata {
		m.metadataFailed(now, c, reason)
	}
}

func (m *Manager) metadataFailed(now time.Time, c *conn, reason string) {
	m.drop(c)
	m.emit(Action{Kind: Close, Conn: c.id, Reason: reason})
	if cd := c.cand; cd != nil {
		cd.failures++
		cd.metaFail++
		cd.nextTry = now.Add(max(metadataRetry, redialDelay(cd.failures)))
	}
	m.askMore()
	m.dialMore(now)
}

// MetadataDone ends a magnet's metadata phase: the runtime closed every
// connection and gave up every operation in flight, and now runs the
// torrent. Addresses that were connected are dialled again at once. A
// private torrent (BEP 27) forgets what the DHT and PEX taught it and uses
// neither from now on; complete says the data is all on disk already.
func (m *Manager) MetadataDone(now time.Time, private, complete bool) {
	m.step()
	m.cfg.Metadata = false
	if private {
		m.cfg.DHT, m.cfg.PEX = false, false
	}
	m.cfg.Complete = complete
	for _, c := range append([]*conn(nil), m.connList...) {
		m.drop(c)
	}
	m.recent = m.recent[:0]
	m.asking, m.halfOpen, m.halfPEX = 0, 0, 0
	for i := 0; i < len(m.candList); {
		cd := m.candList[i]
		if private && (cd.has(FromDHT) || cd.has(FromPEX)) && !cd.has(FromUser) && !cd.has(FromTracker) {
			m.forget(cd) // moves the last candidate to i
			continue
		}
		if cd.state != idle {
			cd.state, cd.nextTry = idle, now
		}
		cd.dialPEX, cd.metaFail = false, 0
		i++
	}
	for i := range m.trackers {
		m.trackers[i].busy = false
	}
	m.dht.lookupBusy, m.dht.announceBusy = false, false
	m.dht.nextAnnounce = now
	m.timers(now)
	m.dialMore(now)
}
