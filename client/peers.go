package client

import (
	"time"

	"github.com/shoal-p2p/shoal/swarm"
)

// addCandidates remembers addresses to dial, up to a bound, and dials.
func (t *Torrent) addCandidates(now time.Time, addrs []string) {
	for _, a := range addrs {
		if _, ok := t.cands[a]; !ok && len(t.cands) < maxCandidates {
			t.cands[a] = &candidate{}
		}
	}
	t.dialMore(now)
}

// maxCandidates bounds the addresses a torrent remembers.
const maxCandidates = 4096

// connected registers a connection whose handshake completed.
func (t *Torrent) connected(now time.Time, ev event) {
	if ev.addr != "" {
		t.halfOpen--
	}
	cd := t.cands[ev.addr]
	if ev.hs.PeerID == t.c.cfg.PeerID {
		// A tracker handed us our own address: forget it, no ban.
		if cd != nil {
			cd.self = true
		}
		ev.nc.Close()
		return
	}
	pc := newPeerConn(t, ev.nc, ev.hs, ev.addr)
	if t.c.isBanned(banKeys(pc)...) {
		ev.nc.Close()
		return
	}
	if len(t.conns) >= t.c.cfg.MaxPeersPerTorrent {
		if cd != nil {
			cd.connected = false
			cd.nextTry = now.Add(5 * time.Second)
		}
		ev.nc.Close()
		return
	}
	if old := t.byPeerID[pc.peerID]; old != nil {
		// Both sides dialed each other. Keep the connection opened by the
		// peer with the lower id, so both ends keep the same one.
		weDialedNew := ev.addr != ""
		ourLower := string(t.c.cfg.PeerID[:]) < string(pc.peerID[:])
		if weDialedNew != ourLower {
			// Keep the old one; it now stands for this address too.
			if cd != nil {
				cd.connected = true
				if old.dialAddr == "" {
					old.dialAddr = ev.addr
				}
			}
			ev.nc.Close()
			return
		}
		if pc.dialAddr == "" {
			pc.dialAddr, old.dialAddr = old.dialAddr, ""
		}
		old.close("duplicate connection")
	}
	if cd != nil {
		cd.connected = true
		cd.failures = 0
	}
	t.nextID++
	pc.id = t.nextID
	t.conns[pc.id] = pc
	t.byPeerID[pc.peerID] = pc
	t.wg.Add(2)
	go func() { defer t.wg.Done(); pc.readLoop(t.ctx) }()
	go func() { defer t.wg.Done(); pc.writeLoop(t.ctx) }()
	t.core.AddPeer(now, pc.id, swarm.PeerInfo{Fast: pc.hs.SupportsFast(), Extended: pc.hs.SupportsExtended()})
	t.apply(nil)
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

// dialMore dials candidates while below the peer and half-open bounds.
func (t *Torrent) dialMore(now time.Time) {
	if t.ctx.Err() != nil {
		return
	}
	for addr, cd := range t.cands {
		if len(t.conns)+t.halfOpen >= t.c.cfg.MaxPeersPerTorrent || t.halfOpen >= t.c.cfg.MaxHalfOpen {
			return
		}
		if cd.connected || cd.self || now.Before(cd.nextTry) || t.c.isBanned(addrBanKeys(addr)...) {
			continue
		}
		if t.core.Complete() && cd.failures > 0 {
			continue
		}
		cd.connected = true // in flight; reset on failure
		cd.nextTry = now.Add(30 * time.Second)
		t.halfOpen++
		t.wg.Add(1)
		go func(addr string) {
			defer t.wg.Done()
			nc, hs, err := t.c.dial(t.ctx, addr, t.mi.InfoHash)
			if err != nil {
				t.log.Debug("dial failed", "addr", addr, "err", err)
				t.post(event{kind: evDialFailed, addr: addr})
				return
			}
			if !t.post(event{kind: evConnected, nc: nc, hs: hs, addr: addr}) {
				nc.Close()
			}
		}(addr)
	}
}
