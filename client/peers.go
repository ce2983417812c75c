package client

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// handshaken is a connection whose handshake completed, waiting for the
// peer manager's verdict (Accept or Close).
type handshaken struct {
	nc     net.Conn
	hs     wire.Handshake
	dialed netip.AddrPort
}

// newManager returns a peer manager for one torrent of the Client, with
// the Client's bounds and peer id and every ban it holds.
func (c *Client) newManager(now time.Time, cfg peers.Config) (*peers.Manager, error) {
	cfg.PeerID = c.cfg.PeerID
	cfg.MaxPeers = c.cfg.MaxPeersPerTorrent
	cfg.MaxHalfOpen = c.cfg.MaxHalfOpen
	cfg.PEXInterval = c.pexEvery
	cfg.Zone = c.cfg.Zone // far peers past peers.DefaultMaxFar are closed while downloading
	cfg.Seed = rand.Int64()
	m, err := peers.New(now, cfg)
	if err != nil {
		return nil, err
	}
	type entry struct {
		key string
		ban
	}
	c.mu.Lock()
	bans := make([]entry, 0, len(c.banned.entries))
	for k, b := range c.banned.entries {
		if b.active(now) {
			bans = append(bans, entry{k, b})
		}
	}
	c.mu.Unlock()
	for _, b := range bans {
		m.BanKeys(now, []string{b.key}, b.until, b.reason)
	}
	return m, nil
}

// startDial runs the dialling side of a connection in the background, for
// the torrent loop and the metadata fetch alike: TCP, then the BitTorrent
// handshake (Client.dial). The peer manager decides on the result (its ban,
// self and duplicate checks), so both paths get the same rules.
func (c *Client) startDial(ctx context.Context, wg *sync.WaitGroup, ih metainfo.InfoHash, addr netip.AddrPort,
	connected func(net.Conn, wire.Handshake), failed func(error)) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, hs, err := c.dial(ctx, addr.String(), ih)
		if err != nil {
			failed(err)
			return
		}
		connected(nc, hs)
	}()
}

// resolvePeers turns "host:port" strings into addresses: IP literals at
// once, host names in the background; found gets them as they come.
// Names that do not resolve are logged and skipped.
func resolvePeers(ctx context.Context, wg *sync.WaitGroup, log *slog.Logger, addrs []string, found func([]netip.AddrPort)) {
	var lits []netip.AddrPort
	var names []string
	for _, a := range addrs {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			lits = append(lits, ap)
		} else {
			names = append(names, a)
		}
	}
	if len(lits) > 0 {
		found(lits)
	}
	for _, name := range names {
		host, port, err := net.SplitHostPort(name)
		if err != nil {
			log.Warn("bad peer address", "addr", name, "err", err)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			if err != nil {
				log.Warn("resolve peer", "addr", name, "err", err)
				return
			}
			p, err := net.LookupPort("tcp", port)
			if err != nil || p <= 0 || p > 65535 {
				log.Warn("bad peer port", "addr", name)
				return
			}
			out := make([]netip.AddrPort, 0, len(ips))
			for _, ip := range ips {
				out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(p)))
			}
			found(out)
		}()
	}
}

// remoteAddr returns a connection's remote address, unmapped.
func remoteAddr(nc net.Conn) netip.AddrPort {
	ap, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// onConnected hands a completed handshake to the peer manager, which
// answers with Accept or Close.
func (t *Torrent) onConnected(now time.Time, e connectedEvent) {
	t.nextID++
	id := t.nextID
	t.pending[id] = handshaken{nc: e.nc, hs: e.hs, dialed: e.dialed}
	t.mgr.Connected(now, peers.Handshake{Conn: id, Dialed: e.dialed, Remote: remoteAddr(e.nc), Wire: e.hs})
}

// doPeers performs one action of the peer manager.
func (t *Torrent) doPeers(now time.Time, a peers.Action) {
	switch a.Kind {
	case peers.Dial:
		addr := a.Addr
		t.c.startDial(t.ctx, &t.wg, t.mi.InfoHash, addr,
			func(nc net.Conn, hs wire.Handshake) { t.post(connectedEvent{nc: nc, hs: hs, dialed: addr}) },
			func(err error) {
				t.log.Debug("dial failed", "addr", addr, "err", err)
				t.post(dialFailedEvent{addr: addr})
			})
	case peers.Accept:
		h, ok := t.pending[a.Conn]
		if !ok {
			return
		}
		delete(t.pending, a.Conn)
		dialAddr := ""
		if h.dialed.IsValid() {
			dialAddr = h.dialed.String()
		}
		pc := newPeerConn(t, h.nc, h.hs, dialAddr)
		pc.id = a.Conn
		t.conns[pc.id] = pc
		t.wg.Add(2)
		go func() { defer t.wg.Done(); pc.readLoop(t.ctx) }()
		go func() { defer t.wg.Done(); pc.writeLoop(t.ctx) }()
		t.later = append(t.later, acceptedEvent{conn: pc})
	case peers.Close:
		if h, ok := t.pending[a.Conn]; ok {
			delete(t.pending, a.Conn)
			t.log.Debug("refused peer", "peer", h.nc.RemoteAddr(), "reason", a.Reason)
			h.nc.Close()
			return
		}
		if pc := t.conns[a.Conn]; pc != nil {
			t.log.Debug("close", "peer", pc, "reason", a.Reason)
			pc.close(a.Reason)
		}
	case peers.RecordBan:
		t.c.recordBan(t, a.Keys, a.Until, a.Reason)
	case peers.Announce:
		t.startAnnounce(a)
	case peers.Lookup:
		t.startLookup()
	case peers.AnnounceDHT:
		t.startDHTAnnounce()
	case peers.SendPEX:
		if pc := t.conns[a.Conn]; pc != nil {
			t.sendExt(pc, pc.ext.pexID, a.PEX.Marshal)
		}
	}
}

// onAccepted tells the core about an admitted connection and sends our
// extension handshakes.
func (t *Torrent) onAccepted(now time.Time, pc *peerConn) {
	if t.conns[pc.id] != pc {
		return
	}
	t.core.AddPeer(now, pc.id, swarm.PeerInfo{Fast: pc.hs.SupportsFast(), Extended: pc.hs.SupportsExtended(), ID: pc.hs.PeerID})
	// The core's opening message (Bitfield, HaveAll or HaveNone: BEP 6 wants
	// it first) goes before our extension handshakes.
	t.runCore(now)
	if pc.hs.SupportsExtended() {
		t.sendExtendedHandshake(pc)
	}
	t.sendPort(pc)
	t.mu.Lock()
	if t.stats.FirstPeerAfter == 0 {
		t.stats.FirstPeerAfter = max(now.Sub(t.added), time.Nanosecond)
	}
	t.mu.Unlock()
}

// onClosed forgets a connection in both machines.
func (t *Torrent) onClosed(now time.Time, pc *peerConn) {
	if t.conns[pc.id] != pc {
		return
	}
	delete(t.conns, pc.id)
	t.log.Debug("peer gone", "peer", pc, "reason", pc.closeReason())
	done := t.rc.sent[pc.id] != nil && t.peerLacksNothing(pc.id)
	t.core.RemovePeer(now, pc.id)
	t.peerGone(now, pc, done)
	t.mgr.Closed(now, pc.id)
}

// peerLacksNothing reports whether the peer has every piece (as far as
// the core knows), or we have every piece and the peer said it wants none
// of them: a peer that completed. The second case is how a seed learns it,
// since a peer sends no Have of a piece to a peer that has it. The loop
// only.
func (t *Torrent) peerLacksNothing(id swarm.ConnID) bool {
	t.facts = t.core.AppendPeerFacts(t.facts[:0])
	for _, f := range t.facts {
		if f.Conn == id {
			return f.Seed || (!f.Interested && t.core.Complete())
		}
	}
	return false
}

// recordBan keeps a ban in the Client's table and tells its other
// torrents, so a peer banned in one is refused in all.
func (c *Client) recordBan(from *Torrent, keys []string, until time.Time, reason string) {
	now := time.Now()
	c.mu.Lock()
	for _, k := range keys {
		c.banned.add(k, reason, until, now)
	}
	others := make([]*Torrent, 0, len(c.torrents))
	for _, t := range c.torrents {
		if t != from {
			others = append(others, t)
		}
	}
	c.mu.Unlock()
	for _, t := range others {
		ev := bannedEvent{keys: keys, until: until, reason: reason}
		select {
		case t.events <- ev:
		default:
			// Its queue is full: deliver without blocking this loop. Only
			// loops call recordBan, and Close stops them before c.wg.Wait.
			c.wg.Add(1)
			go func() { defer c.wg.Done(); t.post(ev) }()
		}
	}
}
