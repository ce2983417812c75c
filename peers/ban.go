package peers

import (
	"net/netip"
	"time"
)

// banEntry is one banned key.
type banEntry struct {
	until  time.Time // zero: for good
	reason string
}

// Ban key forms: "id:" + the 20 raw bytes of a peer id, "addr:" + host:port,
// "ip:" + an IP address.

// IDKey is the ban key of a peer id.
func IDKey(id [20]byte) string { return "id:" + string(id[:]) }

// AddrKeys returns the ban keys that stop a dial of addr: the address
// itself and, off loopback and private networks, its IP. On loopback and
// private networks many honest peers share an IP (a test swarm, hosts
// behind one NAT), so there only the address and the peer id are banned.
func AddrKeys(addr netip.AddrPort) []string { return addrKeys(normal(addr)) }

func addrKeys(addr netip.AddrPort) []string {
	keys := []string{"addr:" + addr.String()}
	if ip, ok := publicIP(addr); ok {
		keys = append(keys, "ip:"+ip.String())
	}
	return keys
}

// publicIP returns addr's IP if it is neither loopback nor private.
func publicIP(addr netip.AddrPort) (netip.Addr, bool) {
	a := addr.Addr().Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() {
		return netip.Addr{}, false
	}
	return a, true
}

// connKeys returns the keys a ban of c covers: its peer id, the address we
// dialled, the address it listens on (so an incoming peer can't come back
// under a fresh peer id), and its IP off loopback and private networks.
func (m *Manager) connKeys(c *conn) []string {
	keys := []string{IDKey(c.peerID)}
	if c.dialed.IsValid() {
		keys = append(keys, "addr:"+c.dialed.String())
	}
	if c.listen.IsValid() && c.listen != c.dialed {
		keys = append(keys, "addr:"+c.listen.String())
	}
	if ip, ok := publicIP(c.remote); ok {
		keys = append(keys, "ip:"+ip.String())
	}
	return keys
}

// isBanned reports whether any of keys is banned at now.
func (m *Manager) isBanned(now time.Time, keys ...string) bool {
	if len(m.bans) == 0 {
		return false
	}
	for _, k := range keys {
		if b, ok := m.bans[k]; ok && (b.until.IsZero() || now.Before(b.until)) {
			return true
		}
	}
	return false
}

// IsBanned reports whether any of keys is banned at now.
func (m *Manager) IsBanned(now time.Time, keys ...string) bool { return m.isBanned(now, keys...) }

// Ban bans the peer behind connection id, which misbehaved (the core's Ban
// action), until until (zero: for good). The connection may be gone
// already: the last closed connections' keys are remembered. The manager
// answers with RecordBan and, if it is still open, Close.
func (m *Manager) Ban(now time.Time, id ConnID, reason string, until time.Time) {
	m.step()
	var keys []string
	c := m.conns[id]
	if c != nil {
		keys = m.connKeys(c)
	} else {
		for i := len(m.recent) - 1; i >= 0; i-- {
			if r := m.recent[i]; r.id == id {
				keys = m.connKeys(&conn{peerID: r.peerID, dialed: r.dialed, listen: r.listen, remote: r.remote})
				break
			}
		}
	}
	if keys == nil {
		return
	}
	m.addBans(keys, until, reason)
	m.emit(Action{Kind: RecordBan, Keys: keys, Until: until, Reason: reason})
	if c != nil {
		m.drop(c)
		m.emit(Action{Kind: Close, Conn: id, Reason: "banned: " + reason})
	}
	m.closeBanned(now)
}

// BanKeys bans keys until until (zero: for good), as recorded by another
// torrent of the same runtime; open connections they cover are closed.
func (m *Manager) BanKeys(now time.Time, keys []string, until time.Time, reason string) {
	m.step()
	m.addBans(keys, until, reason)
	m.closeBanned(now)
}

// addBans stores keys, forgetting the oldest bans past MaxBans.
func (m *Manager) addBans(keys []string, until time.Time, reason string) {
	for _, k := range keys {
		if _, ok := m.bans[k]; !ok {
			m.banOrder = append(m.banOrder, k)
		}
		m.bans[k] = banEntry{until: until, reason: reason}
	}
	for len(m.banOrder) > MaxBans {
		delete(m.bans, m.banOrder[0])
		m.banOrder = m.banOrder[1:]
	}
}

// closeBanned closes every connection a ban now covers.
func (m *Manager) closeBanned(now time.Time) {
	for i := 0; i < len(m.connList); {
		c := m.connList[i]
		if m.isBanned(now, m.connKeys(c)...) {
			m.drop(c) // moves the last connection to i
			m.emit(Action{Kind: Close, Conn: c.id, Reason: "banned"})
			continue
		}
		i++
	}
}

// expireBans forgets bans whose time is up.
func (m *Manager) expireBans(now time.Time) {
	kept := m.banOrder[:0]
	for _, k := range m.banOrder {
		if b := m.bans[k]; !b.until.IsZero() && !now.Before(b.until) {
			delete(m.bans, k)
			continue
		}
		kept = append(kept, k)
	}
	clear(m.banOrder[len(kept):])
	m.banOrder = kept
}
