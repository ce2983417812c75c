package tracker

import (
	"context"
	"encoding/hex"
	"errors"
	"net/netip"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
	"github.com/shoal-p2p/shoal/zone"
)

// refusal is a request the tracker turns down: reason is shown to the
// peer (a BEP 3 failure reason or a BEP 15 error), metric labels it in
// shoal_tracker_errors_total.
type refusal struct {
	reason, metric string
}

var (
	errInternal    = &refusal{"internal error", "store"}
	errRateLimited = &refusal{"rate limited: announce less often", "rate_limited"}
)

// announceInput is one announce, whichever protocol carried it.
type announceInput struct {
	query announceQuery
	// src is the address the request came from.
	src netip.Addr
	// key is the announce key from the URL path or "key" parameter.
	key   string
	proto string
	// family, if valid, restricts handed-out peers to src's IP family
	// (a UDP reply can carry only one).
	sameFamily bool
}

// tenantSwarm resolves the announce key to the store key of the swarm,
// refusing unknown keys on a private tracker.
func (s *Server) tenantSwarm(key string, infoHash [20]byte) ([20]byte, *refusal) {
	if s.cfg.Keys == nil {
		return infoHash, nil
	}
	tenant, err := s.cfg.Keys.Tenant(key)
	switch {
	case errors.Is(err, ErrMissingKey):
		return infoHash, &refusal{"private tracker: announce key required (use http://HOST/KEY/announce)", "missing_key"}
	case err != nil:
		return infoHash, &refusal{"private tracker: unknown announce key", "unknown_key"}
	}
	return swarmID(tenant, infoHash), nil
}

// announce records one announce in the store and picks the peers to hand
// out; the caller encodes the reply for its protocol.
func (s *Server) announce(ctx context.Context, in announceInput) (reply, *refusal) {
	q := in.query
	ih, ref := s.tenantSwarm(in.key, q.InfoHash)
	if ref != nil {
		return reply{}, ref
	}
	// The label is the host's own claim: it orders the handout and
	// nothing else (no key, tenant, bound or ban depends on it).
	if err := zone.Check(q.Zone); err != nil {
		return reply{}, &refusal{err.Error(), "bad_zone"}
	}
	ip := in.src
	// Only a local caller (a proxy or a test harness) may name another IP.
	if ip.IsLoopback() && q.IP.IsValid() {
		ip = q.IP
	}
	self := Peer{ID: q.PeerID, Addr: netip.AddrPortFrom(ip, q.Port), Left: q.Left, Downloaded: q.Downloaded, Key: q.Key, Zone: q.Zone}
	if zi, ok := s.cfg.Store.(ZoneIndexer); !ok || !zi.IndexesZones() {
		self.Zone = "" // the store cannot find its rack: a plain handout
	}

	now := s.cfg.Now()
	var err error
	var warning string
	if q.Event == trackerclient.EventStopped {
		// A stopped from a peer never seen (Transmission sends one) is fine.
		err = s.cfg.Store.Remove(ctx, ih, self, now)
	} else {
		err = s.cfg.Store.Put(ctx, ih, self, now)
		if err == nil && q.Event == trackerclient.EventCompleted {
			err = s.cfg.Store.Completed(ctx, ih)
		}
	}
	if reason, ok := notListed(err); ok {
		// Still hand out peers; the peer just is not listed itself.
		warning = "tracker: " + err.Error() + "; not listed"
		s.metrics.fail(reason)
		err = nil
	}
	if err != nil {
		s.cfg.Logger.Error("tracker: store update", "err", err)
		return reply{}, errInternal
	}
	n := 0
	if q.Event != trackerclient.EventStopped {
		n = s.numWant(q)
	}
	buf := s.samples.Get().(*[]Peer)
	defer s.samples.Put(buf)
	swarm, st, err := s.candidates(ctx, ih, self, n, in.sameFamily, now, (*buf)[:0])
	if cap(swarm) <= maxPooledSample {
		*buf = swarm[:0]
	}
	if err != nil {
		s.cfg.Logger.Error("tracker: store read", "err", err)
		return reply{}, errInternal
	}

	rep := reply{Interval: s.cfg.Interval, MinInterval: s.cfg.MinInterval, Warning: warning,
		Complete: st.Complete, Incomplete: st.Incomplete}
	candidates := swarm[:0]
	for _, p := range swarm {
		if p.ID == self.ID || p.Addr == self.Addr {
			continue
		}
		if in.sameFamily && p.Addr.Addr().Is4() != ip.Is4() {
			continue
		}
		candidates = append(candidates, p)
	}
	if n > 0 {
		rep.Peers = s.cfg.Policy.Handout(now, self, candidates, n)
		rep.Peers = rep.Peers[:min(len(rep.Peers), n)]
	}
	s.metrics.announce(in.proto, q.Event)
	s.metrics.handout.Observe(float64(len(rep.Peers)))
	s.cfg.Logger.Debug("tracker: announce", "proto", in.proto, "info_hash", hex.EncodeToString(q.InfoHash[:]),
		"peer", self.Addr, "event", q.Event, "left", q.Left, "handed_out", len(rep.Peers))
	return rep, nil
}

// maxPooledSample bounds the buffers kept for reuse: a sample is a few
// times numwant, and a whole swarm read for a policy that cannot plan is
// not worth keeping.
const maxPooledSample = 4096

// candidates returns the peers the policy chooses from for self, who is to
// get n peers, and the swarm's counts: a sample the store draws as the
// policy plans it, or, for a policy that cannot plan, the whole swarm.
// Peers are appended to dst.
func (s *Server) candidates(ctx context.Context, ih [20]byte, self Peer, n int, sameFamily bool, now time.Time, dst []Peer) ([]Peer, SwarmStats, error) {
	sp, ok := s.cfg.Policy.(SamplingPolicy)
	if !ok && n > 0 {
		all, err := s.cfg.Store.Peers(ctx, ih, now)
		return all, countPeers(all), err
	}
	var d Draw
	if ok {
		d = sp.Plan(self, n)
	}
	if sameFamily {
		d.Family = IPv6Only
		if self.Addr.Addr().Is4() {
			d.Family = IPv4Only
		}
	}
	return s.cfg.Store.Sample(ctx, ih, d, now, dst)
}

// notListed says whether err is a store's refusal to list a peer that is
// still served (a bound, a peer ID taken), and its metric label.
func notListed(err error) (string, bool) {
	for _, r := range [...]struct {
		err    error
		metric string
	}{{ErrSwarmFull, "swarm_full"}, {ErrTooManyTorrents, "too_many_torrents"},
		{ErrAddressFull, "address_full"}, {ErrPeerIDTaken, "peer_id_taken"}} {
		if errors.Is(err, r.err) {
			return r.metric, true
		}
	}
	return "", false
}

// numWant is how many peers to hand out for q.
func (s *Server) numWant(q announceQuery) int {
	if !q.NumWantSet {
		return s.cfg.MaxNumWant
	}
	return min(q.NumWant, s.cfg.MaxNumWant)
}

// scrape returns the counts of each swarm named, under the key's tenant.
func (s *Server) scrape(ctx context.Context, key string, hashes [][20]byte, proto string) ([]SwarmStats, *refusal) {
	out := make([]SwarmStats, 0, len(hashes))
	now := s.cfg.Now()
	for _, h := range hashes {
		ih, ref := s.tenantSwarm(key, h)
		if ref != nil {
			return nil, ref
		}
		st, err := s.cfg.Store.Scrape(ctx, ih, now)
		if err != nil {
			s.cfg.Logger.Error("tracker: store scrape", "err", err)
			return nil, errInternal
		}
		out = append(out, st)
	}
	s.metrics.scrapes.WithLabelValues(proto).Inc()
	return out, nil
}

// secondsDuration converts whole seconds to a Duration.
func secondsDuration(secs int64) time.Duration { return time.Duration(secs) * time.Second }
