package dht

import (
	"net/netip"
	"slices"
	"time"
)

// Lookup parameters.
const (
	Alpha            = 3 // parallel queries per lookup (Kademlia's α)
	maxLookupCands   = 8 * K
	maxLookupQueries = 256 // queries one lookup may send in total
	MaxLookupPeers   = 1024
)

const (
	candNew = iota
	candInFlight
	candReplied
	candFailed
)

type candidate struct {
	NodeInfo
	dist    ID // XOR distance to the target; all ones while the ID is unknown
	idKnown bool
	state   int
	token   string
	pinned  bool // queried whatever its distance; see Lookup.Pin
}

// LookupResult is a node that answered a lookup, with the get_peers token
// it issued (empty for find_node).
type LookupResult struct {
	NodeInfo
	Token string
}

// Lookup is the state machine of one iterative Kademlia lookup, for
// find_node or get_peers (BEP 5). It decides whom to query next; the caller
// sends the queries and reports each reply or failure. It never holds more
// than maxLookupCands candidates (plus the few pinned ones) or
// MaxLookupPeers peers, sends at most maxLookupQueries queries, and stops
// at its deadline. It is not safe for concurrent use.
type Lookup struct {
	self, target ID
	deadline     time.Time
	cands        []candidate
	sent         int
	peers        []netip.AddrPort
	peerSet      map[netip.AddrPort]struct{}
}

// NewLookup starts a lookup for target on behalf of node self. Seeds with a
// zero ID are bootstrap addresses whose ID is learnt from their reply.
func NewLookup(self, target ID, seeds []NodeInfo, deadline time.Time) *Lookup {
	l := &Lookup{self: self, target: target, deadline: deadline, peerSet: map[netip.AddrPort]struct{}{}}
	for _, s := range seeds {
		l.add(s, !s.ID.IsZero(), false)
	}
	return l
}

// Pin adds nodes that the lookup queries whatever their distance to the
// target, and waits for before it is done. A get_peers lookup pins the
// bootstrap nodes: in a young network they are the only nodes a peer
// that announced early could reach, and the nodes that joined since are
// closer to the info hash, so a plain lookup would never ask them.
func (l *Lookup) Pin(nodes []NodeInfo) {
	for _, n := range nodes {
		l.add(n, !n.ID.IsZero(), true)
	}
}

func unmapAddrPort(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

func (l *Lookup) add(n NodeInfo, idKnown, pinned bool) {
	if !n.Addr.IsValid() || n.Addr.Port() == 0 || !n.Addr.Addr().Unmap().Is4() || (idKnown && n.ID == l.self) {
		return
	}
	n.Addr = unmapAddrPort(n.Addr)
	for i, c := range l.cands {
		if c.Addr == n.Addr || (idKnown && c.idKnown && c.ID == n.ID) {
			l.cands[i].pinned = l.cands[i].pinned || pinned
			return
		}
	}
	c := candidate{NodeInfo: n, idKnown: idKnown, pinned: pinned}
	c.dist = n.ID.Xor(l.target)
	if !idKnown {
		c.dist = allOnes
	}
	i, _ := slices.BinarySearchFunc(l.cands, c.dist, func(a candidate, d ID) int { return cmpID(a.dist, d) })
	if i >= maxLookupCands && !pinned {
		return
	}
	l.cands = slices.Insert(l.cands, i, c)
	for len(l.cands) > maxLookupCands {
		j := len(l.cands) - 1
		for j >= 0 && (l.cands[j].state == candInFlight || l.cands[j].pinned) {
			j--
		}
		if j < 0 {
			break
		}
		l.cands = slices.Delete(l.cands, j, j+1)
	}
}

var allOnes = func() ID {
	var id ID
	for i := range id {
		id[i] = 0xff
	}
	return id
}()

func cmpID(a, b ID) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

// window returns the indexes of the K closest candidates that have not
// failed: the set the lookup tries to have answer.
func (l *Lookup) window() []int {
	var w []int
	for i := range l.cands {
		if l.cands[i].state != candFailed {
			w = append(w, i)
			if len(w) == K {
				break
			}
		}
	}
	return w
}

// InFlight returns the number of queries sent and not yet answered.
func (l *Lookup) InFlight() int {
	n := 0
	for _, c := range l.cands {
		if c.state == candInFlight {
			n++
		}
	}
	return n
}

// Next returns the nodes to query now, keeping at most Alpha in flight,
// and marks them in flight.
func (l *Lookup) Next(now time.Time) []NodeInfo {
	if l.Done(now) {
		return nil
	}
	var out []NodeInfo
	free := Alpha - l.InFlight()
	for _, i := range append(l.pinnedNew(), l.window()...) {
		if free <= 0 || l.sent >= maxLookupQueries {
			break
		}
		if c := &l.cands[i]; c.state == candNew {
			c.state = candInFlight
			out = append(out, c.NodeInfo)
			free--
			l.sent++
		}
	}
	return out
}

// Done reports whether the lookup is over: its deadline passed, its query
// budget is spent with nothing in flight, or the K closest live candidates
// have all answered.
func (l *Lookup) Done(now time.Time) bool {
	if !now.Before(l.deadline) {
		return true
	}
	inflight := l.InFlight()
	if l.sent >= maxLookupQueries && inflight == 0 {
		return true
	}
	for _, i := range append(l.pinnedNew(), l.window()...) {
		if l.cands[i].state != candReplied {
			return l.cands[i].state == candNew && l.sent >= maxLookupQueries && inflight == 0
		}
	}
	for _, c := range l.cands {
		if c.pinned && c.state == candInFlight {
			return false
		}
	}
	return true
}

// pinnedNew returns the indexes of pinned candidates not yet queried.
func (l *Lookup) pinnedNew() []int {
	var out []int
	for i := range l.cands {
		if l.cands[i].pinned && l.cands[i].state == candNew {
			out = append(out, i)
		}
	}
	return out
}

func (l *Lookup) inFlightAt(addr netip.AddrPort) *candidate {
	for i := range l.cands {
		if l.cands[i].Addr == addr && l.cands[i].state == candInFlight {
			return &l.cands[i]
		}
	}
	return nil
}

// OnReply records a response from addr carrying the responder's ID, the
// closer nodes it returned, the peers (get_peers values) and its token. A
// reply whose ID differs from the one we were told is treated as a
// failure and its contents are ignored.
func (l *Lookup) OnReply(addr netip.AddrPort, id ID, nodes []NodeInfo, values []netip.AddrPort, token string) {
	c := l.inFlightAt(addr)
	if c == nil {
		return
	}
	if (c.idKnown && c.ID != id) || id == l.self {
		c.state = candFailed
		return
	}
	c.state, c.token = candReplied, token
	if !c.idKnown {
		c.ID, c.idKnown, c.dist = id, true, id.Xor(l.target)
		slices.SortStableFunc(l.cands, func(a, b candidate) int { return cmpID(a.dist, b.dist) })
	}
	for _, n := range nodes {
		l.add(n, true, false)
	}
	for _, p := range values {
		if len(l.peers) >= MaxLookupPeers {
			break
		}
		if _, dup := l.peerSet[p]; !dup && p.IsValid() && p.Port() != 0 {
			l.peerSet[p] = struct{}{}
			l.peers = append(l.peers, p)
		}
	}
}

// OnFailure records that the query to addr timed out or returned an error.
func (l *Lookup) OnFailure(addr netip.AddrPort) {
	if c := l.inFlightAt(addr); c != nil {
		c.state = candFailed
	}
}

// Closest returns the up to K closest nodes that answered, nearest first,
// with their tokens: the nodes to announce to after get_peers.
func (l *Lookup) Closest() []LookupResult {
	var out []LookupResult
	for _, c := range l.cands {
		if c.state == candReplied {
			out = append(out, LookupResult{NodeInfo: c.NodeInfo, Token: c.token})
			if len(out) == K {
				break
			}
		}
	}
	return out
}

// AnnounceTargets returns the nodes to send announce_peer to after a
// get_peers lookup: the K closest that answered with a token, and the
// pinned nodes that did, so that a peer stays findable through the
// bootstrap nodes that newcomers ask first.
func (l *Lookup) AnnounceTargets() []LookupResult {
	var out []LookupResult
	for _, r := range l.Closest() {
		if r.Token != "" {
			out = append(out, r)
		}
	}
	for _, c := range l.cands {
		if c.pinned && c.state == candReplied && c.token != "" &&
			!slices.ContainsFunc(out, func(r LookupResult) bool { return r.Addr == c.Addr }) {
			out = append(out, LookupResult{NodeInfo: c.NodeInfo, Token: c.token})
		}
	}
	return out
}

// Peers returns the distinct peers the lookup has collected.
func (l *Lookup) Peers() []netip.AddrPort { return slices.Clone(l.peers) }
