package peers

import (
	"net/netip"
	"slices"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// pexState is what we told one peer by ut_pex (BEP 11) and when we may
// tell it more.
type pexState struct {
	told     map[netip.AddrPort]bool // peers it last heard of as added
	nextSend time.Time
}

func newPEXState() *pexState { return &pexState{told: make(map[netip.AddrPort]bool)} }

// next returns the message to send at now, given the peers we are connected
// to (their listen addresses and flags), or ok=false when it is too early
// or there is nothing new. The first message may go at once; later ones at
// most every interval. Peers beyond the per-message bounds wait for the
// next message.
func (s *pexState) next(now time.Time, current map[netip.AddrPort]wire.PEXFlags, interval time.Duration) (wire.PEXMessage, bool) {
	if now.Before(s.nextSend) {
		return wire.PEXMessage{}, false
	}
	var msg wire.PEXMessage
	for _, a := range sortedAddrs(current) {
		if len(msg.Added) == pexMaxAdded {
			break
		}
		if !s.told[a] {
			msg.Added = append(msg.Added, wire.PEXPeer{Addr: a, Flags: current[a]})
		}
	}
	for _, a := range sortedAddrs(s.told) {
		if len(msg.Dropped) == pexMaxDropped {
			break
		}
		if _, ok := current[a]; !ok {
			msg.Dropped = append(msg.Dropped, a)
		}
	}
	if len(msg.Added) == 0 && len(msg.Dropped) == 0 {
		return wire.PEXMessage{}, false
	}
	for _, p := range msg.Added {
		s.told[p.Addr] = true
	}
	for _, a := range msg.Dropped {
		delete(s.told, a)
	}
	s.nextSend = now.Add(interval)
	return msg, true
}

// sortedAddrs returns the keys of m in a stable order, so the peers that
// make a message's cut do not depend on map iteration.
func sortedAddrs[V any](m map[netip.AddrPort]V) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}

// currentPeers returns the listen addresses of our connections, flagged
// reachable for those we dialled.
func (m *Manager) currentPeers() map[netip.AddrPort]wire.PEXFlags {
	current := make(map[netip.AddrPort]wire.PEXFlags, len(m.connList))
	for _, c := range m.connList {
		if c.listen.IsValid() {
			var f wire.PEXFlags
			if c.dialed.IsValid() {
				f |= wire.PEXReachable
			}
			current[c.listen] = f
		}
	}
	return current
}

// sendPEX offers every ut_pex peer what changed since we last told it.
func (m *Manager) sendPEX(now time.Time) {
	if !m.cfg.PEX {
		return
	}
	var current map[netip.AddrPort]wire.PEXFlags
	for _, c := range m.connList {
		if c.pex == nil || now.Before(c.pex.nextSend) {
			continue
		}
		if current == nil {
			current = m.currentPeers()
		}
		m.sendPEXTo(now, c, current)
	}
}

// sendPEXTo sends c a PEX message if one is due, never naming c itself.
func (m *Manager) sendPEXTo(now time.Time, c *conn, current map[netip.AddrPort]wire.PEXFlags) {
	f, had := current[c.listen]
	if had {
		delete(current, c.listen)
	}
	if msg, ok := c.pex.next(now, current, m.cfg.PEXInterval); ok {
		m.emit(Action{Kind: SendPEX, Conn: c.id, PEX: msg})
	}
	if had {
		current[c.listen] = f
	}
}

// PEXReceived reports a ut_pex message from connection id. A peer sending
// faster than every PEXInterval/2 is ignored; its added peers (at most 50
// per message, as BEP 11 allows) become candidates under the PEX bounds:
// dialled last, in a bounded share of the table and of the dials in
// flight, at a bounded rate per source.
func (m *Manager) PEXReceived(now time.Time, id ConnID, msg wire.PEXMessage) {
	m.step()
	c := m.conns[id]
	if c == nil || !m.cfg.PEX || m.stopped {
		return
	}
	if !c.lastPEXIn.IsZero() && now.Sub(c.lastPEXIn) < m.cfg.PEXInterval/2 {
		return
	}
	c.lastPEXIn = now
	src := pexSource(c)
	for i, p := range msg.Added {
		if i == pexMaxAdded {
			break
		}
		m.addCandidate(now, FromPEX, src, p.Addr)
	}
	m.dialMore(now)
}

// pexSource names the source of a connection's PEX for the per-source
// bounds: its IP off loopback and private networks, else the connection's
// remote address.
func pexSource(c *conn) netip.AddrPort {
	if ip, ok := publicIP(c.remote); ok {
		return netip.AddrPortFrom(ip, 0)
	}
	return c.remote
}
