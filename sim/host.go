package sim

import (
	"net/netip"
	"time"

	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// host is one simulated machine: its two machines (the scheduling core and
// the peer manager, as in the client), its links and its connections.
type host struct {
	// The fields every delivery to the host reads (deliver, process,
	// armWake) come first, so that they share the struct's first cache
	// lines: a large run's deliveries land on hosts whose structs are cold.
	core *swarm.Swarm
	mgr  *peers.Manager // from the host's join on
	// mgrStepped says h.mgr was stepped (an event method ran) since
	// process last asked it for actions, and wakeStale since armWake last
	// read its Wake: between steps the manager has no actions and its
	// Wake is unchanged, so process and armWake skip it then (a Have
	// delivery, most of a large run's events, steps only the core, and the
	// manager is one more cold struct per delivery). See stepped.
	mgrStepped, wakeStale bool
	busyP                 bool // process is running for this host
	gone                  bool
	leaving               bool
	churnAt               int       // leave after this many verified pieces (0: never)
	wake                  time.Time // h.mgr.Wake() as of the last read
	nextTick              int64     // when h's next tick is scheduled
	wakeAt                int64     // when an evWake for h is scheduled, if after now
	later                 []later   // process's queue of work between batches

	idx    int
	facts  []swarm.PeerFact
	origin bool
	extHS  []byte // its BEP 10 handshake payload if it has a zone (nil: simulation.extHS)
	// Link rates in modelled bytes per nanosecond.
	up, down         float64
	upReal, downReal float64 // real bytes per second, for the floor

	conns []*conn // connections that reached a handshake, by ConnID-1

	// Upload link: connections with queued blocks, served round-robin.
	rr      fifo[*conn]
	busy    bool
	cur     *conn
	curSpec swarm.BlockSpec
	// downFree is when the download link finishes its last queued block.
	downFree int64
	upWakeAt int64 // when a scheduled evUpWake runs (0: none)

	handouts fifo[[]int32]    // tracker responses in flight, in order
	addrBuf  []netip.AddrPort // trackerReply's buffer

	done       bool
	finishedAt int64
	lost       int32 // connections closed because the other end left (Config.Churn)
}

// connState is the life cycle of one end of a connection.
type connState uint8

const (
	dialing     connState = iota // the dialer's end, before the verdict
	handshaking                  // the handshake is done; the peer manager decides
	open
	closed
)

// conn is one end of a connection between two hosts.
type conn struct {
	h, peer *host
	id      swarm.ConnID // assigned when established on this end
	state   connState
	dialed  bool  // this end dialed
	remote  *conn // the other end, once it exists
	// q holds what this end sends: blocks, and control messages queued
	// behind blocks (a control message with nothing ahead of it leaves at
	// once).
	q    fifo[outItem]
	inRR bool
	// lastArrive is when the last block sent to this end arrives; a close
	// of the other end reaches it no earlier (TCP delivers data before FIN).
	lastArrive int64
}

// outItem is a queued outgoing block or control message.
type outItem struct {
	block bool
	spec  swarm.BlockSpec
	msg   ctrlMsg
}

// ctrlKind says what a control delivery is.
type ctrlKind uint8

const (
	ctrlMessage ctrlKind = iota // a wire message
	ctrlAccept                  // the acceptor's handshake reply: the dial succeeded
	ctrlRefuse                  // the acceptor closed the new connection
	ctrlFin                     // the other end closed the connection
)

// ctrlMsg is a compact wire message: the fields the core reads.
type ctrlMsg struct {
	typ                  wire.MessageType
	index, begin, length uint32
	data                 []byte // bitfield or extended payload
}

func compact(m wire.Message) ctrlMsg {
	c := ctrlMsg{typ: m.Type, index: m.Index, begin: m.Begin, length: m.Length}
	switch m.Type {
	case wire.Bitfield:
		c.data = m.Bitfield
	case wire.Extended:
		c.index = uint32(m.ExtendedID)
		c.data = m.ExtendedPayload
	}
	return c
}

func (c ctrlMsg) message() wire.Message {
	m := wire.Message{Type: c.typ, Index: c.index, Begin: c.begin, Length: c.length}
	switch c.typ {
	case wire.Bitfield:
		m.Bitfield = c.data
	case wire.Extended:
		m.Index, m.ExtendedID, m.ExtendedPayload = 0, uint8(c.index), c.data
	}
	return m
}

// ctrl is a control delivery in flight. Every one takes exactly the
// latency, so they arrive in the order they were sent and need no heap.
type ctrl struct {
	at   int64
	kind ctrlKind
	to   *conn // the receiving end (for ctrlAccept/Refuse: the dialer's end)
	from *conn // for ctrlAccept: the acceptor's end
	msg  ctrlMsg
}

// stepped notes that h's peer manager was stepped: call it at every call
// of one of its event methods (Connected, Tick, Closed, ...), since process
// asks the manager for actions, and armWake for its Wake, only after one.
func (h *host) stepped() { h.mgrStepped, h.wakeStale = true, true }

// checkMgrSkips makes process and armWake verify, where they skip the peer
// manager, that it had no actions and an unchanged Wake (tests set it: a
// missing stepped call would lose the manager's actions).
var checkMgrSkips = false

// lookup returns h's open connection with id c, or nil.
func (h *host) lookup(c swarm.ConnID) *conn {
	if cn := h.lookupAny(c); cn != nil && cn.state == open {
		return cn
	}
	return nil
}

// lookupAny returns h's connection with id c in any state, or nil.
func (h *host) lookupAny(c swarm.ConnID) *conn {
	if c == 0 || int(c) > len(h.conns) {
		return nil
	}
	return h.conns[c-1]
}
