package client

import (
	"io"
	"net/netip"
	"sync"
	"time"
)

// Bounds on incoming connections that have not finished their BitTorrent
// handshake. Such a connection has proved nothing: it may be a real peer
// about to send its handshake, or a socket an attacker holds open to use up
// our budget. The bounds keep the cost of the second kind fixed and make sure
// it never locks out the first.
const (
	// maxPendingHandshakes bounds incoming handshakes in progress: each
	// costs a goroutine and a socket.
	maxPendingHandshakes = 128
	// maxPendingPerIP bounds the handshakes in progress from one source
	// address, so that one host can use at most an eighth of the budget.
	maxPendingPerIP = 16
	// maxPendingPerLoopbackIP is the same bound on a loopback source: a test
	// or demo fleet runs every peer on 127.0.0.1, and a hundred of them
	// starting at once all dial the origin in the same few milliseconds.
	maxPendingPerLoopbackIP = 64
	// handshakeStartTimeout bounds the wait for the first 48 bytes of a
	// peer's handshake (protocol, reserved bits, info hash). Real clients
	// send it as soon as the connection opens, so a few seconds of silence
	// mark a connection that is only holding a slot.
	handshakeStartTimeout = 5 * time.Second
)

// handshakeGate admits incoming connections into the bounded set of
// handshakes in progress. When the set is full the newcomer is never the one
// refused: it displaces the oldest pending connection from its own source
// address when that address is at its bound; else the oldest pending
// connection among the addresses holding at least their fair share of the
// budget (its size over the number of addresses pending). So an attacker's
// connections, from however many addresses and however fast it reopens
// them, displace each other before those of an address with fewer in
// progress (an honest peer has one or two), while among addresses that all
// hold many (test fleets on one loopback address) the oldest goes first,
// and a handshake on its way through is younger than a held socket. A
// connection that finished its handshake (and left the gate) is never
// touched. The gate has no clock: age is admission order. Its methods are
// safe for concurrent use.
type handshakeGate struct {
	maxTotal     int
	maxPerIP     func(netip.Addr) int
	mu           sync.Mutex
	seq          uint64
	pending      map[uint64]pendingConn // by admission sequence
	perIP        map[netip.Addr]int
	displacedCnt int // connections closed to make room, for tests and logs
}

// pendingConn is one connection in the gate.
type pendingConn struct {
	ip netip.Addr
	c  io.Closer
}

// newHandshakeGate returns a gate holding at most maxTotal connections, and
// at most maxPerIP(ip) from one address.
func newHandshakeGate(maxTotal int, maxPerIP func(netip.Addr) int) *handshakeGate {
	return &handshakeGate{
		maxTotal: maxTotal,
		maxPerIP: maxPerIP,
		pending:  make(map[uint64]pendingConn),
		perIP:    make(map[netip.Addr]int),
	}
}

// defaultPerIP is the per-address bound of the Client's gate.
func defaultPerIP(a netip.Addr) int {
	if a.IsLoopback() {
		return maxPendingPerLoopbackIP
	}
	return maxPendingPerIP
}

// admit enters c, from ip, into the gate and returns its ticket for done.
// If the gate was full it returns the closer of the connection displaced to
// make room, which the caller must close.
func (g *handshakeGate) admit(ip netip.Addr, c io.Closer) (ticket uint64, displaced io.Closer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	victim, found := uint64(0), false
	switch {
	case g.perIP[ip] >= g.maxPerIP(ip):
		victim, found = g.oldest(func(p pendingConn) bool { return p.ip == ip })
	case len(g.pending) >= g.maxTotal:
		fair := (len(g.pending) + len(g.perIP) - 1) / len(g.perIP)
		victim, found = g.oldest(func(p pendingConn) bool { return g.perIP[p.ip] >= fair })
	}
	if found {
		displaced = g.pending[victim].c
		g.remove(victim)
		g.displacedCnt++
	}
	g.seq++
	g.pending[g.seq] = pendingConn{ip: ip, c: c}
	g.perIP[ip]++
	return g.seq, displaced
}

// done takes a connection out of the gate: its handshake finished or
// failed. A displaced connection's ticket is already gone; done ignores it.
func (g *handshakeGate) done(ticket uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.pending[ticket]; ok {
		g.remove(ticket)
	}
}

// counts returns how many connections are pending, how many of them are
// from ip, and how many were displaced so far.
func (g *handshakeGate) counts(ip netip.Addr) (pending, fromIP, displaced int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending), g.perIP[ip], g.displacedCnt
}

// oldest returns the ticket of the earliest admitted connection that match
// accepts. The gate is small (maxTotal), so a scan is cheap.
func (g *handshakeGate) oldest(match func(pendingConn) bool) (uint64, bool) {
	best, found := uint64(0), false
	for t, p := range g.pending {
		if match(p) && (!found || t < best) {
			best, found = t, true
		}
	}
	return best, found
}

func (g *handshakeGate) remove(ticket uint64) {
	ip := g.pending[ticket].ip
	delete(g.pending, ticket)
	if g.perIP[ip]--; g.perIP[ip] <= 0 {
		delete(g.perIP, ip)
	}
}
