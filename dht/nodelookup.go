package dht

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

type lookupReply struct {
	to  NodeInfo
	msg Msg
	err error
}

// lookup runs one iterative lookup for target from the routing table plus
// extra seeds, with at most Alpha queries in flight, until the Lookup says
// it is done or LookupTimeout passes. A get_peers lookup also asks the
// bootstrap nodes (see Lookup.Pin) and, when found is not nil, hands it
// each batch of new peers as soon as a reply brings them. It returns ctx's
// error only when the caller cancelled.
func (n *Node) lookup(ctx context.Context, target ID, getPeers bool, extra []NodeInfo, found func([]netip.AddrPort)) (*Lookup, error) {
	n.mu.Lock()
	now := n.clock.Now()
	seeds := append(n.table.Closest(target, 2*K, now), extra...)
	var pins []NodeInfo
	if getPeers {
		pins = n.bootContactsLocked(now)
	}
	n.mu.Unlock()
	if len(seeds) == 0 {
		return nil, ErrNoNodes
	}
	l := NewLookup(n.id, target, seeds, now.Add(n.cfg.LookupTimeout))
	l.Pin(pins)
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := n.clock.AfterFunc(n.cfg.LookupTimeout, cancel)
	defer stop()

	q := Msg{Y: TypeQuery, Q: MethodFindNode, A: Args{Target: target}}
	if getPeers {
		q = Msg{Y: TypeQuery, Q: MethodGetPeers, A: Args{InfoHash: target}}
	}
	replies := make(chan lookupReply)
	inflight := 0
	for {
		for _, to := range l.Next(n.clock.Now()) {
			inflight++
			go func() {
				m, err := n.query(qctx, to, q)
				replies <- lookupReply{to, m, err}
			}()
		}
		if inflight == 0 {
			break
		}
		r := <-replies
		inflight--
		if r.err != nil {
			l.OnFailure(r.to.Addr)
		} else {
			nodes, _ := DecodeNodes(r.msg.R.Nodes) // a bad list only loses its nodes
			had := len(l.peers)
			l.OnReply(r.to.Addr, r.msg.R.ID, nodes, r.msg.R.Values, r.msg.R.Token)
			if found != nil && len(l.peers) > had {
				found(slices.Clone(l.peers[had:]))
			}
		}
		if l.Done(n.clock.Now()) || qctx.Err() != nil {
			cancel()
			for ; inflight > 0; inflight-- {
				<-replies
			}
			break
		}
	}
	n.log.Debug("dht lookup done", "target", target.String()[:8], "get_peers", getPeers, "queries", l.sent,
		"peers", len(l.peers), "took", n.clock.Now().Sub(now))
	select {
	case <-n.done:
		return l, ErrClosed
	default:
	}
	return l, ctx.Err()
}

// GetPeers runs an iterative get_peers lookup for infoHash (BEP 5) and
// returns the peers found, possibly none.
func (n *Node) GetPeers(ctx context.Context, infoHash [20]byte) ([]netip.AddrPort, error) {
	return n.GetPeersFunc(ctx, infoHash, nil)
}

// GetPeersFunc is GetPeers that also calls found, from the lookup's
// goroutine, with each batch of peers not seen before in this lookup as
// soon as a reply brings them: a caller waiting for any peer need not wait
// for the lookup to converge (or for slow nodes to time out). found must
// not block for long.
func (n *Node) GetPeersFunc(ctx context.Context, infoHash [20]byte, found func([]netip.AddrPort)) ([]netip.AddrPort, error) {
	l, err := n.lookup(ctx, infoHash, true, nil, found)
	if err != nil {
		return nil, fmt.Errorf("dht get_peers %x: %w", infoHash[:4], err)
	}
	return l.Peers(), nil
}

// Announce looks up infoHash and then sends announce_peer, with the token
// each issued, to the K closest nodes that answered and to the bootstrap
// nodes the lookup asked (BEP 5; see Lookup.AnnounceTargets). With
// impliedPort the receivers record the UDP source port of our queries
// instead of port. It fails only when no node accepted the announce.
func (n *Node) Announce(ctx context.Context, infoHash [20]byte, port int, impliedPort bool) error {
	l, err := n.lookup(ctx, infoHash, true, nil, nil)
	if err != nil {
		return fmt.Errorf("dht announce %x: %w", infoHash[:4], err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	var lastErr error
	for _, r := range l.AnnounceTargets() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := Msg{Y: TypeQuery, Q: MethodAnnouncePeer,
				A: Args{InfoHash: infoHash, Port: port, ImpliedPort: impliedPort, Token: r.Token}}
			_, err := n.query(ctx, r.NodeInfo, q)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				lastErr = err
				return
			}
			accepted++
		}()
	}
	wg.Wait()
	if accepted == 0 {
		return fmt.Errorf("dht announce %x: %w (last error: %v)", infoHash[:4], ErrAnnounceFailed, lastErr)
	}
	return nil
}

// Bootstrap joins the network: it resolves Config.Bootstrap and runs a
// find_node lookup for our own ID through them and the saved table, which
// fills the routing table with the nodes that answer.
func (n *Node) Bootstrap(ctx context.Context) error {
	var seeds []NodeInfo
	var errs []error
	for _, hp := range n.cfg.Bootstrap {
		addrs, err := resolve(ctx, hp)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range addrs {
			seeds = append(seeds, NodeInfo{Addr: a})
		}
	}
	n.mu.Lock()
	for _, s := range seeds {
		if a := unmapAddrPort(s.Addr); !slices.Contains(n.boot, a) {
			n.boot = append(n.boot, a)
		}
	}
	n.mu.Unlock()
	if _, err := n.lookup(ctx, n.id, false, seeds, nil); err != nil {
		return fmt.Errorf("dht bootstrap: %w", errors.Join(append(errs, err)...))
	}
	if n.Stats().Nodes == 0 {
		return fmt.Errorf("dht bootstrap: %w", errors.Join(append(errs, ErrNoNodes)...))
	}
	return nil
}

// bootContactsLocked returns the routing table's live contacts at a
// bootstrap address, which get_peers lookups pin. n.mu must be held.
func (n *Node) bootContactsLocked(now time.Time) []NodeInfo {
	if len(n.boot) == 0 {
		return nil
	}
	var out []NodeInfo
	for _, c := range n.table.Contacts() {
		if slices.Contains(n.boot, c.Addr) && c.State(now) != Bad {
			out = append(out, c.NodeInfo)
		}
	}
	return out
}

func resolve(ctx context.Context, hostport string) ([]netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return []netip.AddrPort{ap}, nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("bootstrap node %q: %w", hostport, err)
	}
	pn, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return nil, fmt.Errorf("bootstrap node %q: %w", hostport, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return nil, fmt.Errorf("bootstrap node %q: %w", hostport, err)
	}
	var out []netip.AddrPort
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(pn)))
	}
	return out, nil
}

// armRefresh schedules the next maintenance pass. n.mu must be held.
func (n *Node) armRefresh() {
	if n.closed {
		return
	}
	n.stopRef = n.clock.AfterFunc(n.cfg.RefreshInterval, n.refresh)
}

// refresh expires stored peers and refreshes up to two stale buckets with
// a find_node for a random ID in their range (BEP 5); with a near-empty
// table it bootstraps again.
func (n *Node) refresh() {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.clock.Now()
	n.srv.peers.Expire(now)
	stale := n.table.StaleBuckets(now)
	if len(stale) > 2 {
		stale = stale[:2]
	}
	for _, i := range stale {
		n.table.Touch(i, now)
		target := RandomIDInBucket(n.rnd, n.id, i)
		n.goLocked(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n.lookup(ctx, target, false, nil, nil)
		})
	}
	if n.table.Len() < K && len(n.cfg.Bootstrap) > 0 {
		n.goLocked(func() { n.Bootstrap(context.Background()) })
	}
	n.armRefresh()
}
