package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/shoal-p2p/shoal/dht"
	"github.com/shoal-p2p/shoal/peers"
)

// reservedDHT is the handshake bit saying we run a DHT node (BEP 5: the
// last bit of the reserved bytes).
const reservedDHT = 0x01

// Loopback rate limit of the DHT node: on 127.0.0.1 every node of a test
// swarm shares one source IP, which the per-IP limit of the public
// network would throttle.
const (
	dhtLoopbackRate  = 2000
	dhtLoopbackBurst = 4000
)

// startDHT opens and starts the Client's DHT node and joins the network in
// the background.
func (c *Client) startDHT() error {
	addr := c.cfg.DHTListenAddr
	if addr == "" {
		addr = c.ln.Addr().String() // the same port on UDP, as BEP 5 clients do
	}
	cfg := dht.Config{ListenAddr: addr, Bootstrap: c.cfg.DHTBootstrap, StateFile: c.cfg.DHTStateFile,
		Logger: c.log.With("component", "dht")}
	if isLoopbackAddr(addr) {
		cfg.RateLimit, cfg.RateBurst = dhtLoopbackRate, dhtLoopbackBurst
	}
	n, err := dht.New(cfg)
	if err != nil && c.cfg.DHTListenAddr == "" {
		// The UDP port twin of our TCP port is taken: any port will do.
		host, _, _ := net.SplitHostPort(addr)
		cfg.ListenAddr = net.JoinHostPort(host, "0")
		n, err = dht.New(cfg)
	}
	if err != nil {
		return fmt.Errorf("start dht: %w", err)
	}
	n.Start()
	c.dht = n
	if len(c.cfg.DHTBootstrap) > 0 || n.Stats().Nodes > 0 {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := n.Bootstrap(c.ctx); err != nil && c.ctx.Err() == nil {
				c.log.Warn("dht bootstrap", "err", err)
			}
		}()
	}
	return nil
}

// LoopbackDHTConfig returns dht.Config rate limits fit for a node that
// listens on loopback (see dhtLoopbackRate), leaving other addresses
// alone; `shoal dht` uses it for its standalone node.
func LoopbackDHTConfig(cfg dht.Config) dht.Config {
	if isLoopbackAddr(cfg.ListenAddr) {
		cfg.RateLimit, cfg.RateBurst = dhtLoopbackRate, dhtLoopbackBurst
	}
	return cfg
}

// isLoopbackAddr reports whether a host:port names a loopback address.
func isLoopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// usesDHT reports whether this torrent is on the Client's DHT (never for a
// private torrent, BEP 27).
func (t *Torrent) usesDHT() bool {
	return t.c.dht != nil && !t.mi.Info.Private && !t.opts.NoDHT
}

// startLookup performs the peer manager's Lookup: a get_peers lookup on
// the Client's node whose peers become candidates as the replies bring
// them, not when the lookup ends (which may wait for slow nodes to time
// out).
func (t *Torrent) startLookup() {
	if t.c.dht == nil {
		return
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		res := lookupPeers(t.ctx, t.c.dht, t.mi.InfoHash, func(as []netip.AddrPort) {
			t.post(candidatesEvent{src: peers.FromDHT, addrs: as})
		})
		if t.ctx.Err() == nil {
			t.post(lookupDoneEvent{res: res})
		}
	}()
}

// startDHTAnnounce performs the peer manager's AnnounceDHT: our TCP port
// for the torrent's info hash.
func (t *Torrent) startDHTAnnounce() {
	if t.c.dht == nil {
		return
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		err := t.c.dht.Announce(t.ctx, t.mi.InfoHash, t.c.listenPort(), false)
		if t.ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, dht.ErrNoNodes) {
			t.log.Debug("dht announce", "err", err)
		}
		t.post(dhtAnnouncedEvent{res: lookupResult(err)})
	}()
}

// lookupPeers runs one get_peers lookup, handing found the peers of each
// reply.
func lookupPeers(ctx context.Context, node *dht.Node, ih [20]byte, found func([]netip.AddrPort)) peers.LookupResult {
	_, err := node.GetPeersFunc(ctx, ih, func(ps []netip.AddrPort) {
		if len(ps) > 0 {
			found(append([]netip.AddrPort(nil), ps...))
		}
	})
	return lookupResult(err)
}

// lookupResult says what a DHT operation's error means to the peer
// manager.
func lookupResult(err error) peers.LookupResult {
	if errors.Is(err, dht.ErrNoNodes) {
		return peers.LookupResult{NoNodes: true}
	}
	return peers.LookupResult{Err: err}
}
