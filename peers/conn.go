package peers

import (
	"net/netip"
	"time"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// Handshake is what the runtime knows of a connection whose BitTorrent
// handshake (BEP 3) just completed.
type Handshake struct {
	// Conn is the handle the runtime gave the connection.
	Conn ConnID
	// Dialed is the address we dialled (the Addr of a Dial action); the zero
	// AddrPort for an incoming connection.
	Dialed netip.AddrPort
	// Remote is the connection's remote address.
	Remote netip.AddrPort
	// Wire is the peer's handshake: its peer id and reserved bits.
	Wire wire.Handshake
}

// ExtendedInfo is what a peer's BEP 10 handshake said.
type ExtendedInfo struct {
	// ListenPort is the port it accepts connections on ("p"), 0 if unsaid.
	ListenPort int
	// PEX says it speaks ut_pex (BEP 11).
	PEX bool
	// Metadata says it serves the info dictionary (ut_metadata, BEP 9).
	Metadata bool
	// Zone is the location label it announced ("shoal_zone", checked by
	// the wire parser), empty if none: with Config.Zone, another label
	// makes the peer far (far.go).
	Zone string
}

// conn is one accepted connection.
type conn struct {
	id     ConnID
	idx    int // in Manager.connList
	peerID [20]byte
	dialed netip.AddrPort // zero if incoming
	remote netip.AddrPort
	listen netip.AddrPort // dialed, or remote IP + BEP 10 port; zero until known
	cand   *candidate     // the candidate it stands for, if any
	at     time.Time      // when it was accepted

	// From the core (Facts).
	moved      int64
	lastActive time.Time
	fact       swarm.PeerFact

	// From its extended handshake.
	extGot    bool
	far       bool // it named another zone than ours (far.go)
	metadata  bool
	pex       *pexState // nil unless both sides exchange peers
	lastPEXIn time.Time
	asked     bool // asked for the metadata
}

// recentConn keeps who a closed connection was, for a Ban that arrives
// after the close (a piece failing once its sender left).
type recentConn struct {
	id                     ConnID
	peerID                 [20]byte
	dialed, listen, remote netip.AddrPort
}

// maxRecent bounds how many closed connections can still be banned.
const maxRecent = 64

// Connected reports a completed handshake. The manager answers with Accept,
// or with Close (ourselves, banned, a duplicate that loses, or no slot),
// possibly closing another connection: the duplicate that loses, or the
// least useful one to make room.
func (m *Manager) Connected(now time.Time, h Handshake) {
	m.step()
	h.Dialed, h.Remote = normal(h.Dialed), normal(h.Remote)
	var cd *candidate
	if h.Dialed.IsValid() {
		if cd = m.cands[h.Dialed]; cd != nil && cd.state == dialing {
			m.dialEnded(cd)
			cd.state = idle
		} else {
			cd = nil
		}
	}
	refuse := func(reason string, retry time.Duration) {
		m.emit(Action{Kind: Close, Conn: h.Conn, Reason: reason})
		if cd != nil {
			cd.nextTry = now.Add(retry)
		}
		m.dialMore(now)
	}
	if m.stopped {
		m.emit(Action{Kind: Close, Conn: h.Conn, Reason: "torrent stopped"})
		return
	}
	if h.Wire.PeerID == m.cfg.PeerID {
		// A tracker handed us our own address, maybe through a NAT: never
		// dial it again, and ban nothing.
		if cd != nil {
			cd.self = true
		}
		refuse("connection to ourselves", 0)
		return
	}
	c := &conn{id: h.Conn, peerID: h.Wire.PeerID, dialed: h.Dialed, remote: h.Remote, listen: h.Dialed,
		cand: cd, at: now, lastActive: now}
	if m.isBanned(now, m.connKeys(c)...) {
		refuse("banned", candidateNever)
		return
	}
	if m.cfg.Metadata && !h.Wire.SupportsExtended() {
		if cd != nil {
			cd.failures++
			cd.metaFail++
		}
		refuse("peer does not speak the extension protocol (BEP 10)", redialDelay(cd.failuresOr(1)))
		return
	}
	if old := m.byPeerID[c.peerID]; old != nil {
		if !m.newWins(old, c) {
			// The old connection stands for this address too.
			if cd != nil {
				m.link(old, cd)
			}
			m.emit(Action{Kind: Close, Conn: h.Conn, Reason: "duplicate connection"})
			return
		}
		if old.cand != nil && c.cand == nil {
			c.cand = old.cand
			old.cand = nil
		} else if old.cand != nil {
			// Two addresses of one peer: leave the other one alone a while.
			old.cand.nextTry = now.Add(redialMax)
		}
		if !c.listen.IsValid() {
			c.listen = old.listen
		}
		m.drop(old)
		m.emit(Action{Kind: Close, Conn: old.id, Reason: "duplicate connection"})
	}
	if len(m.conns) >= m.cfg.MaxPeers {
		v := m.leastUseful(now)
		if v == nil {
			refuse("too many peers", refusedRetry)
			return
		}
		if v.cand != nil {
			v.cand.nextTry = now.Add(evictedRetry)
		}
		m.drop(v)
		m.emit(Action{Kind: Close, Conn: v.id, Reason: "evicted: idle, to admit a new peer"})
	}
	m.admit(c)
	m.emit(Action{Kind: Accept, Conn: c.id})
	if cd != nil {
		// The dial's half-open slot is free: fill it now, not at the next
		// tick (which can come a second later, after a whole transfer on a
		// fast network).
		m.dialMore(now)
	}
}

// failuresOr returns cd's failures, or n for no candidate.
func (cd *candidate) failuresOr(n int) int {
	if cd == nil {
		return n
	}
	return cd.failures
}

// newWins resolves two connections to one peer id: both ends keep the one
// opened by the peer with the lower id. Of two opened the same way the new
// one stays: the side that opened both has given up the old one (a
// restart, a metadata connection handed over), which we may not have
// noticed yet.
func (m *Manager) newWins(old, c *conn) bool {
	oldOurs, newOurs := old.dialed.IsValid(), c.dialed.IsValid()
	if oldOurs == newOurs {
		return true
	}
	ourLower := string(m.cfg.PeerID[:]) < string(c.peerID[:])
	return newOurs == ourLower
}

// admit registers an accepted connection.
func (m *Manager) admit(c *conn) {
	c.idx = len(m.connList)
	m.conns[c.id] = c
	m.connList = append(m.connList, c)
	m.byPeerID[c.peerID] = c
	if c.listen.IsValid() {
		m.byListen[c.listen] = c
	}
	if c.cand != nil {
		m.link(c, c.cand)
	}
}

// link makes candidate cd stand for connection c.
func (m *Manager) link(c *conn, cd *candidate) {
	cd.state, cd.conn = connected, c.id
	c.cand = cd
	if c.extGot {
		cd.far = c.far
	}
	if !c.listen.IsValid() {
		c.listen = cd.addr
		m.byListen[cd.addr] = c
	}
}

// drop forgets a connection, remembering its ban keys a while, and frees
// its candidate (the caller sets when it may be dialled again).
func (m *Manager) drop(c *conn) {
	if len(m.recent) == maxRecent {
		copy(m.recent, m.recent[1:])
		m.recent = m.recent[:maxRecent-1]
	}
	m.recent = append(m.recent, recentConn{id: c.id, peerID: c.peerID, dialed: c.dialed, listen: c.listen, remote: c.remote})
	delete(m.conns, c.id)
	last := m.connList[len(m.connList)-1]
	m.connList[c.idx] = last
	last.idx = c.idx
	m.connList = m.connList[:len(m.connList)-1]
	if m.byPeerID[c.peerID] == c {
		delete(m.byPeerID, c.peerID)
	}
	if c.listen.IsValid() && m.byListen[c.listen] == c {
		delete(m.byListen, c.listen)
	}
	if c.asked {
		m.asking--
	}
	if c.far {
		m.far--
	}
	if cd := c.cand; cd != nil && cd.state == connected && cd.conn == c.id {
		cd.state = idle
	}
}

// Closed reports that a connection ended (either side closed it, or it
// failed). The address it stands for is redialled after 1 s if the
// connection lasted, or backs off as after a failed dial if it did not.
func (m *Manager) Closed(now time.Time, id ConnID) {
	m.step()
	c := m.conns[id]
	if c == nil {
		return
	}
	m.drop(c)
	if cd := c.cand; cd != nil {
		if now.Sub(c.at) >= shortLived {
			cd.failures = 0
			cd.nextTry = now.Add(redialFirst)
		} else {
			cd.failures++
			cd.nextTry = now.Add(redialDelay(cd.failures))
		}
	}
	m.dialMore(now)
}

// Extended reports a peer's BEP 10 handshake: where it listens, whether it
// exchanges peers, whether it serves metadata and its zone. A far peer
// beyond the far bound is closed at once, or makes room by closing a less
// useful far one (far.go); with a Zone, step Facts just before, so the
// manager knows whether the peer is a seed and what the others hold.
func (m *Manager) Extended(now time.Time, id ConnID, e ExtendedInfo) {
	m.step()
	c := m.conns[id]
	if c == nil || c.extGot {
		return
	}
	c.extGot = true
	if e.ListenPort > 0 && e.ListenPort < 1<<16 && !c.listen.IsValid() {
		c.listen = netip.AddrPortFrom(c.remote.Addr(), uint16(e.ListenPort))
		if other := m.byListen[c.listen]; other == nil {
			m.byListen[c.listen] = c
		}
		if cd := m.cands[c.listen]; cd != nil && cd.state == idle {
			m.link(c, cd)
		}
	}
	if m.isFar(e.Zone) {
		c.far = true
		m.far++
	}
	if c.cand != nil {
		c.cand.far = c.far
	}
	if c.far {
		m.capFar(now)
		if m.conns[id] != c {
			m.dialMore(now)
			return // closed: one far peer too many
		}
	}
	if e.PEX && m.cfg.PEX {
		c.pex = newPEXState()
	}
	c.metadata = e.Metadata
	if m.cfg.Metadata {
		if !e.Metadata {
			m.metadataFailed(now, c, "peer does not serve metadata (no ut_metadata)")
			return
		}
		m.askMore()
	}
	if c.pex != nil {
		m.sendPEXTo(now, c, m.currentPeers())
	}
}

// Facts reports the core's view of every connection's usefulness (call it
// on every tick): a connection that moved payload or has requests pending
// either way is active; one that moved payload makes its address known to
// work; a far peer that stops being a seed counts against the far bound
// again (far.go).
func (m *Manager) Facts(now time.Time, facts []swarm.PeerFact) {
	m.step()
	for _, f := range facts {
		c := m.conns[f.Conn]
		if c == nil {
			continue
		}
		if f.Moved != c.moved || f.Pending {
			c.lastActive = now
		}
		if f.Moved > 0 && c.cand != nil {
			c.cand.good = true
		}
		c.moved = f.Moved
		c.fact = f
	}
	if m.far > m.cfg.MaxFar {
		m.capFar(now)
	}
}

// leastUseful returns the connection a newcomer may replace: among those
// idle for at least EvictIdle, the one with no pieces we need, then never
// unchoked us, then not interested in ours, then idle longest. Nil if none
// is idle enough.
func (m *Manager) leastUseful(now time.Time) *conn {
	return m.leastOf(func(c *conn) bool { return now.Sub(c.lastActive) >= m.cfg.EvictIdle },
		func(c, v *conn) bool {
			if !c.lastActive.Equal(v.lastActive) {
				return c.lastActive.Before(v.lastActive)
			}
			return c.id < v.id
		})
}

// leastOf returns, among the connections that may go, the least useful
// one (usefulness), ties broken by worse(c, v): c should go before v. Nil
// if none may go.
func (m *Manager) leastOf(mayGo func(*conn) bool, worse func(c, v *conn) bool) *conn {
	var v *conn
	for _, c := range m.connList {
		if !mayGo(c) {
			continue
		}
		if v == nil {
			v = c
			continue
		}
		if sc, sv := usefulness(c), usefulness(v); sc != sv {
			if sc < sv {
				v = c
			}
		} else if worse(c, v) {
			v = c
		}
	}
	return v
}
