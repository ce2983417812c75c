package client

import (
	"net/netip"
	"slices"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// PEX bounds of BEP 11: at most one message a minute to each peer, with at
// most 50 added and 50 dropped peers in it.
const (
	pexInterval   = time.Minute
	pexMaxAdded   = 50
	pexMaxDropped = 50
)

// pexState is what we told one peer by ut_pex (BEP 11) and when we may tell
// it more. It is pure: the caller gives it the time and the peers we are
// connected to, and sends the message it returns.
type pexState struct {
	told     map[netip.AddrPort]bool // peers the remote peer last heard as added
	nextSend time.Time
}

func newPEXState() *pexState { return &pexState{told: make(map[netip.AddrPort]bool)} }

// next returns the message to send at now, given the peers we are now
// connected to (their listen addresses and flags), or ok=false when it is
// too early or there is nothing new. The first message may go at once;
// later ones at most every interval. Peers beyond the per-message bounds
// wait for the next message.
func (s *pexState) next(now time.Time, current map[netip.AddrPort]wire.PEXFlags, interval time.Duration) (wire.PEXMessage, bool) {
	if now.Before(s.nextSend) {
		return wire.PEXMessage{}, false
	}
	var m wire.PEXMessage
	for _, a := range sortedAddrs(current) {
		if len(m.Added) == pexMaxAdded {
			break
		}
		if !s.told[a] {
			m.Added = append(m.Added, wire.PEXPeer{Addr: a, Flags: current[a]})
		}
	}
	for _, a := range sortedAddrs(s.told) {
		if len(m.Dropped) == pexMaxDropped {
			break
		}
		if _, ok := current[a]; !ok {
			m.Dropped = append(m.Dropped, a)
		}
	}
	if len(m.Added) == 0 && len(m.Dropped) == 0 {
		return wire.PEXMessage{}, false
	}
	for _, p := range m.Added {
		s.told[p.Addr] = true
	}
	for _, a := range m.Dropped {
		delete(s.told, a)
	}
	s.nextSend = now.Add(interval)
	return m, true
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
