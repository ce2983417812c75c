package sim

import (
	"net/netip"
	"time"

	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// The simulated transport of the peer manager's decisions. Every rule
// (whom to dial, when to redial, bounds, duplicates, bans, eviction,
// announce timing) is the peers.Manager's, as in the client; the simulator
// only moves handshakes: a dial's TCP and BitTorrent handshakes reach the
// acceptor after one and a half round trips, its verdict (an accepted
// handshake, or a close) reaches the dialer half a round trip later. A
// refusal reaches the dialer as a failed dial, which is how the manager
// treats a connection closed right after its handshake.

// handshakeReserved is what every simulated handshake says: like the
// runtime, every host speaks the fast extension (BEP 6) and the extension
// protocol (BEP 10).
var handshakeReserved = wire.DefaultReserved()

// listenPort is the port every simulated host listens on.
const listenPort = 6881

// join starts h's peer manager: it announces at once.
func (s *simulation) join(h *host) {
	cfg := peers.Config{PeerID: peerID(h.idx), Trackers: 1, Complete: h.core.Complete(), MaxPeers: s.cfg.MaxPeers,
		Seed: s.cfg.Seed*1_000_033 + int64(h.idx), Zone: s.coreZone(h)} // racks.go
	m, err := peers.New(timeOf(s.now), cfg)
	if err != nil {
		panic(err) // the config is built here: a bug, not input
	}
	h.mgr = m
	h.stepped()
	s.process(h)
}

// doPeers performs one action of h's peer manager. It steps no machine:
// what must reach a machine goes to h.later.
func (s *simulation) doPeers(h *host, a peers.Action) {
	switch a.Kind {
	case peers.Dial:
		p := hostOf(a.Addr)
		if int(p) >= len(s.hosts) || int(p) == h.idx {
			h.later = append(h.later, later{kind: laterDialFailed, addr: a.Addr})
			return
		}
		c := &conn{h: h, peer: s.hosts[p], state: dialing, dialed: true}
		s.schedule(event{at: s.now + 3*s.lat, kind: evHandshake, h: c.peer, c: c})
	case peers.Accept:
		c := h.lookupAny(a.Conn)
		if c == nil || c.state != handshaking {
			return
		}
		c.state = open
		if !c.dialed {
			// The acceptor answers with its handshake, then the core's
			// opening messages follow.
			s.sendCtrl(ctrl{kind: ctrlAccept, to: c.remote, from: c})
		}
		h.later = append(h.later, later{kind: laterAddPeer, c: c})
	case peers.Close:
		c := h.lookupAny(a.Conn)
		switch {
		case c == nil:
		case c.state == handshaking && !c.dialed:
			c.state = closed
			s.sendCtrl(ctrl{kind: ctrlRefuse, to: c.remote})
		case c.state == handshaking:
			c.state = closed
			if c.remote != nil && c.remote.state == open {
				s.sendCtrl(ctrl{kind: ctrlFin, to: c.remote})
			}
		case c.state == open:
			s.closeConn(c, true)
			h.later = append(h.later, later{kind: laterRemovePeer, c: c})
		}
	case peers.Announce:
		if a.Event != peers.EventStopped {
			s.schedule(event{at: s.now + s.lat, kind: evAnnounce, h: h})
		}
	}
}

// accept runs at the acceptor a when the handshake of dial d arrives.
func (s *simulation) accept(a *host, d *conn) {
	if a.gone || a.mgr == nil {
		s.sendCtrl(ctrl{kind: ctrlRefuse, to: d})
		return
	}
	c := &conn{h: a, peer: d.h, state: handshaking, remote: d}
	a.conns = append(a.conns, c)
	c.id = swarm.ConnID(len(a.conns))
	remote := netip.AddrPortFrom(peerAddr(d.h.idx).Addr(), uint16(40000+len(a.conns)%20000))
	a.mgr.Connected(timeOf(s.now), peers.Handshake{Conn: c.id, Remote: remote,
		Wire: wire.Handshake{Reserved: handshakeReserved, PeerID: peerID(d.h.idx)}})
	a.stepped()
	s.process(a)
}

// established runs at the dialer when the acceptor's handshake arrives.
func (s *simulation) established(d, remote *conn) {
	h := d.h
	if d.state != dialing {
		return
	}
	d.remote = remote
	if h.gone {
		d.state = closed
		s.sendCtrl(ctrl{kind: ctrlFin, to: remote})
		return
	}
	d.state = handshaking
	h.conns = append(h.conns, d)
	d.id = swarm.ConnID(len(h.conns))
	addr := peerAddr(d.peer.idx)
	h.mgr.Connected(timeOf(s.now), peers.Handshake{Conn: d.id, Dialed: addr, Remote: addr,
		Wire: wire.Handshake{Reserved: handshakeReserved, PeerID: peerID(d.peer.idx)}})
	h.stepped()
	s.process(h)
}

// dialFailed runs at the dialer when the acceptor refused.
func (s *simulation) dialFailed(d *conn) {
	if d.state != dialing {
		return
	}
	d.state = closed
	if !d.h.gone {
		d.h.mgr.DialFailed(timeOf(s.now), peerAddr(d.peer.idx))
		d.h.stepped()
		s.process(d.h)
	}
}

// addPeer tells c's core about the new connection and sends our extended
// handshake after the core's first message (BEP 6 wants Bitfield, HaveAll
// or HaveNone first), as the runtime does.
func (s *simulation) addPeer(c *conn) {
	h := c.h
	now := timeOf(s.now)
	info := peerInfo
	info.ID = peerID(c.peer.idx)
	h.core.AddPeer(now, c.id, info)
	s.runCore(h, now)
	hs := s.extHS
	if h.extHS != nil {
		hs = h.extHS
	}
	s.send(c, ctrlMsg{typ: extendedType, data: hs})
}

// extendedArrived tells the receiving end's peer manager what the other
// end's BEP 10 handshake says: where it listens and its zone (no ut_pex,
// no ut_metadata: the simulator models neither). Before a far peer's, the
// manager gets the core's current facts, as the runtime does, to choose
// which far peers to keep.
func (s *simulation) extendedArrived(c *conn) {
	h, now := c.h, timeOf(s.now)
	e := peers.ExtendedInfo{ListenPort: listenPort}
	if c.peer.extHS != nil {
		e.Zone = s.rackZone(c.peer)
	}
	if h.mgr.FactsFirst(e) {
		h.facts = h.core.AppendPeerFacts(h.facts[:0])
		h.mgr.Facts(now, h.facts)
	}
	h.mgr.Extended(now, c.id, e)
	h.stepped()
	s.farKnown(h) // racks.go
}

// tickPeers gives h's peer manager the core's usefulness facts and a tick.
func (s *simulation) tickPeers(h *host) {
	if h.mgr == nil {
		return
	}
	now := timeOf(s.now)
	h.facts = h.core.AppendPeerFacts(h.facts[:0])
	h.mgr.Facts(now, h.facts)
	h.mgr.Tick(now)
	h.stepped()
}

// peerID is host i's BitTorrent peer id: "S" and its index, so the lower
// index has the lower id.
func peerID(i int) [20]byte {
	var id [20]byte
	id[0], id[1], id[2], id[3] = 'S', byte(i>>16), byte(i>>8), byte(i)
	return id
}

// later is work found while performing a batch, done once the batch is
// acknowledged: the machines are stepped only between batches.
type later struct {
	kind   laterKind
	c      *conn
	addr   netip.AddrPort
	spec   swarm.BlockSpec
	piece  int
	conn   swarm.ConnID // of a ban
	reason string
	until  time.Time
}

type laterKind uint8

const (
	laterAddPeer    laterKind = iota // the core learns of an accepted connection
	laterRemovePeer                  // the core forgets a connection the manager closed
	laterClosed                      // the manager learns a connection closed
	laterBan                         // the manager bans the peer the core banned
	laterCompleted                   // the manager learns the download completed
	laterDialFailed                  // the manager learns a dial failed
	laterWritten                     // the core learns a block was written (at once: disks are free)
	laterVerified                    // the core learns a piece verified (at once: hashing is free)
)

// blockPayload stands for the bytes of every simulated block: the core
// hands it back in WriteBlock, and nothing is written.
var blockPayload = new(struct{})
