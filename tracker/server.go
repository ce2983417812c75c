package tracker

import (
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"time"
)

// ServerConfig configures a [Server]. The zero value is usable: every
// zero field takes the default documented on it.
type ServerConfig struct {
	// Interval is the re-announce interval told to peers; default 30s,
	// short so a fleet's swarm fills quickly.
	Interval time.Duration
	// MinInterval is the shortest re-announce interval peers may use;
	// default Interval/2, and never more than Interval.
	MinInterval time.Duration
	// PeerTTL is how long a peer stays listed without re-announcing;
	// default 3*Interval.
	PeerTTL time.Duration
	// MaxNumWant caps the peers handed out per announce and is also the
	// number handed out when the peer does not say; default 50.
	MaxNumWant int
	// MaxTorrents bounds the swarms tracked; default 100,000.
	MaxTorrents int
	// MaxPeersPerTorrent bounds each swarm; default 20,000.
	MaxPeersPerTorrent int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand feeds the default handout policy; default a generator seeded
	// from the clock. Ignored when Policy is set.
	Rand *rand.Rand
	// Logger receives the server's logs; default slog.Default().
	Logger *slog.Logger
	// Store keeps the swarms; default a [MemoryStore] with the bounds and
	// PeerTTL above.
	Store Store
	// Policy picks the peers handed out; default a [DefaultPolicy] on Rand.
	Policy Policy
}

// Defaults for [ServerConfig].
const (
	DefaultInterval           = 30 * time.Second
	DefaultMaxNumWant         = 50
	DefaultMaxTorrents        = 100_000
	DefaultMaxPeersPerTorrent = 20_000
)

// Server is an HTTP BitTorrent tracker. It serves GET /announce (BEP 3,
// BEP 23, BEP 7) and GET /healthz; every other path is 404. It is safe for
// concurrent use and holds no goroutines of its own.
type Server struct {
	cfg ServerConfig
}

// NewServer returns a Server for cfg with defaults filled in.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = cfg.Interval / 2
	}
	cfg.MinInterval = min(cfg.MinInterval, cfg.Interval)
	if cfg.PeerTTL <= 0 {
		cfg.PeerTTL = 3 * cfg.Interval
	}
	if cfg.MaxNumWant <= 0 {
		cfg.MaxNumWant = DefaultMaxNumWant
	}
	if cfg.MaxTorrents <= 0 {
		cfg.MaxTorrents = DefaultMaxTorrents
	}
	if cfg.MaxPeersPerTorrent <= 0 {
		cfg.MaxPeersPerTorrent = DefaultMaxPeersPerTorrent
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore(cfg.PeerTTL, cfg.MaxTorrents, cfg.MaxPeersPerTorrent)
	}
	if cfg.Policy == nil {
		rng := cfg.Rand
		if rng == nil {
			seed := uint64(cfg.Now().UnixNano())
			rng = rand.New(rand.NewPCG(seed, seed>>32|seed<<32))
		}
		cfg.Policy = NewDefaultPolicy(rng)
	}
	return &Server{cfg: cfg}
}

// ServeHTTP routes the tracker's endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/announce":
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.serveAnnounce(w, r)
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	default:
		http.NotFound(w, r)
	}
}

// serveAnnounce records one announce and answers it. Refusals are
// bencoded failure reasons with status 200, as clients expect.
func (s *Server) serveAnnounce(w http.ResponseWriter, r *http.Request) {
	q, err := parseAnnounceQuery(r.URL.RawQuery)
	if err != nil {
		s.fail(w, err.Error())
		return
	}
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		s.cfg.Logger.Warn("tracker: unparseable remote address", "remote", r.RemoteAddr)
		s.fail(w, "cannot determine peer address")
		return
	}
	ip := remote.Addr().Unmap().WithZone("")
	// Only a local caller (a proxy or a test harness) may name another IP.
	if ip.IsLoopback() && q.IP.IsValid() {
		ip = q.IP
	}
	self := Peer{ID: q.PeerID, Addr: netip.AddrPortFrom(ip, q.Port), Left: q.Left, Downloaded: q.Downloaded}

	ctx, now := r.Context(), s.cfg.Now()
	var warning string
	if q.Event == EventStopped {
		err = s.cfg.Store.Remove(ctx, q.InfoHash, q.PeerID, now)
	} else {
		err = s.cfg.Store.Put(ctx, q.InfoHash, self, now)
	}
	switch {
	case errors.Is(err, ErrTooManyTorrents), errors.Is(err, ErrSwarmFull):
		// Still hand out peers; the peer just is not listed itself.
		warning = "tracker: " + err.Error() + "; not listed"
	case err != nil:
		s.cfg.Logger.Error("tracker: store update", "err", err)
		s.fail(w, "internal error")
		return
	}
	swarm, err := s.cfg.Store.Peers(ctx, q.InfoHash, now)
	if err != nil {
		s.cfg.Logger.Error("tracker: store read", "err", err)
		s.fail(w, "internal error")
		return
	}

	rep := reply{Interval: s.cfg.Interval, MinInterval: s.cfg.MinInterval, Compact: q.Compact, Warning: warning}
	candidates := swarm[:0]
	for _, p := range swarm {
		if p.Seeder() {
			rep.Complete++
		} else {
			rep.Incomplete++
		}
		if p.ID != self.ID && p.Addr != self.Addr {
			candidates = append(candidates, p)
		}
	}
	if q.Event != EventStopped {
		rep.Peers = s.cfg.Policy.Handout(self, candidates, s.numWant(q))
		rep.Peers = rep.Peers[:min(len(rep.Peers), s.numWant(q))]
	}
	body, err := rep.marshal()
	if err != nil {
		s.cfg.Logger.Error("tracker: encode reply", "err", err)
		s.fail(w, "internal error")
		return
	}
	s.cfg.Logger.Debug("tracker: announce", "info_hash", hex.EncodeToString(q.InfoHash[:]), "peer", self.Addr,
		"event", q.Event, "left", q.Left, "handed_out", len(rep.Peers))
	writeBencode(w, body)
}

// numWant is how many peers to hand out for q.
func (s *Server) numWant(q announceQuery) int {
	if !q.NumWantSet {
		return s.cfg.MaxNumWant
	}
	return min(q.NumWant, s.cfg.MaxNumWant)
}

func (s *Server) fail(w http.ResponseWriter, reason string) {
	writeBencode(w, marshalFailure(reason))
}

func writeBencode(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}
