package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/shoal-p2p/shoal/dht"
)

// reservedDHT is the handshake bit saying we run a DHT node (BEP 5: the
// last bit of the reserved bytes).
const reservedDHT = 0x01

// DHT timing: a torrent is announced at start, again after
// dhtAnnounceFirst, and then at doubling intervals up to dhtAnnounceEvery;
// a download looks up peers often while it has few. The early re-announces
// matter in a young network: an announce reaches the K nodes closest to
// the info hash that exist at the time, and nodes that join later and are
// closer would otherwise not learn of us for a quarter of an hour.
const (
	dhtAnnounceFirst = 5 * time.Second
	dhtAnnounceEvery = 15 * time.Minute
	dhtAnnounceEarly = 2 * time.Minute // announce every dhtAnnounceFirst this long
	dhtRetry         = 2 * time.Second
	dhtNoNodesRetry  = 250 * time.Millisecond // the node is still joining
	dhtLookupFew     = 5 * time.Second
	dhtLookupMany    = 2 * time.Minute
	dhtLookupMagnet  = 2 * time.Second // while a magnet has no metadata
	dhtLookupNone    = time.Second     // while a magnet has found no peer at all
)

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

// dhtLoop announces the torrent on the DHT at start and every
// dhtAnnounceEvery, and while downloading looks up peers for it, often
// while it has few.
func (t *Torrent) dhtLoop() {
	defer t.wg.Done()
	node := t.c.dht
	port := t.c.listenPort()
	var nextAnnounce time.Time
	gap := dhtAnnounceFirst
	for {
		wait := dhtLookupMany
		st := t.Stats()
		if !st.Complete {
			// Peers go to the torrent as replies bring them, not when the
			// lookup ends (which may wait for slow nodes to time out).
			_, err := node.GetPeersFunc(t.ctx, t.mi.InfoHash, func(peers []netip.AddrPort) {
				t.post(event{kind: evPeers, addrs: addrStrings(peers)})
			})
			if t.ctx.Err() != nil {
				return
			}
			if errors.Is(err, dht.ErrNoNodes) {
				wait = dhtNoNodesRetry
			} else if err != nil {
				wait = dhtRetry
			} else if st.Peers < 5 {
				wait = dhtLookupFew
			}
		}
		if !time.Now().Before(nextAnnounce) {
			err := node.Announce(t.ctx, t.mi.InfoHash, port, false)
			switch {
			case t.ctx.Err() != nil:
				return
			case errors.Is(err, dht.ErrNoNodes):
				nextAnnounce = time.Now().Add(dhtNoNodesRetry) // still joining
			case err != nil:
				t.log.Debug("dht announce", "err", err)
				nextAnnounce = time.Now().Add(dhtRetry)
			case st.Peers == 0 || time.Since(t.added) < dhtAnnounceEarly:
				// Early on, and while nobody has found us, nodes keep
				// joining: those that stored our announce may no longer be
				// the closest to the hash, so announce again soon.
				nextAnnounce = time.Now().Add(dhtAnnounceFirst)
			default:
				nextAnnounce = time.Now().Add(gap)
				gap = min(2*gap, dhtAnnounceEvery)
			}
		}
		wait = min(wait, time.Until(nextAnnounce))
		if !t.sleep(wait) {
			return
		}
	}
}

// sleep waits d or until the torrent stops; false if it stopped.
func (t *Torrent) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// addrStrings formats addresses for the candidate list.
func addrStrings(as []netip.AddrPort) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// dhtPeers runs get_peers lookups for ih until ctx ends, sending what it
// finds to found as soon as a reply brings it; used while a magnet fetches
// its metadata. Until the first peer it looks again every dhtLookupNone.
func dhtPeers(ctx context.Context, node *dht.Node, ih [20]byte, found func([]string)) {
	somePeer := false
	for {
		_, err := node.GetPeersFunc(ctx, ih, func(peers []netip.AddrPort) {
			somePeer = true
			found(addrStrings(peers))
		})
		if ctx.Err() != nil {
			return
		}
		wait := dhtLookupMagnet
		if !somePeer {
			wait = dhtLookupNone
		}
		if errors.Is(err, dht.ErrNoNodes) {
			wait = dhtNoNodesRetry // still joining
		} else if err != nil {
			wait = dhtRetry
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
