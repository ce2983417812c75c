package tracker

import (
	"crypto/rand"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	// MaxPeersPerAddr bounds the peers one address (an IPv4 address, an
	// IPv6 /64) holds in one swarm; default 16 ([DefaultAddrLimit]),
	// negative for no bound. Ignored when Store is set (the store's own
	// AddrLimit applies).
	MaxPeersPerAddr int
	// AddrLimitExempt are prefixes the per-address bound spares (their
	// peers are neither bounded nor displaced); nil means the loopback
	// addresses 127.0.0.1 and ::1, where tests, the demo and the bench run
	// every peer; an empty, non-nil slice spares nothing. Ignored when
	// Store is set.
	AddrLimitExempt []netip.Prefix
	// HandoutBudget is how many times one peer may be handed out per
	// Interval by the default policy; default 4*MaxNumWant, negative for
	// no bound. Ignored when Policy is set.
	HandoutBudget int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand feeds the default handout policy and seeds the default store's
	// sampling; default a generator seeded from the clock.
	Rand *mrand.Rand
	// Logger receives the server's logs; default slog.Default().
	Logger *slog.Logger
	// Store keeps the swarms; default a [MemoryStore] with the bounds and
	// PeerTTL above.
	Store Store
	// Policy picks the peers handed out; default a [DefaultPolicy] on Rand.
	Policy Policy
	// Keys, if set, makes the tracker private: announces and scrapes must
	// carry a known key. Nil serves everyone.
	Keys *Keys
	// RateLimit bounds requests per source address; nil for no bound.
	RateLimit *SourceLimiter
	// ConnIDSecret keys the UDP connection IDs; default 32 random bytes.
	// Trackers behind one address must share it.
	ConnIDSecret []byte
	// Channels configures the release channels and the fleet page (see
	// channelhttp.go); the zero value keeps them in memory and refuses
	// every publish.
	Channels ChannelConfig
}

// Defaults for [ServerConfig].
const (
	DefaultInterval           = 30 * time.Second
	DefaultMaxNumWant         = 50
	DefaultMaxTorrents        = 100_000
	DefaultMaxPeersPerTorrent = 20_000
)

// addrLimit is the per-address bound cfg asks for.
func (cfg ServerConfig) addrLimit() AddrLimit {
	l := DefaultAddrLimit
	if cfg.MaxPeersPerAddr != 0 {
		l.Max = cfg.MaxPeersPerAddr
	}
	if cfg.AddrLimitExempt != nil {
		l.Exempt = cfg.AddrLimitExempt
	}
	return l
}

// Server is a BitTorrent tracker. As an http.Handler it serves announce
// (BEP 3, BEP 23, BEP 7) and scrape (BEP 48) at /announce and /scrape, or
// /KEY/announce and /KEY/scrape for a private tracker, plus /metrics
// (Prometheus) and /healthz; [Server.ServeUDP] serves BEP 15 on a packet
// connection. It is safe for concurrent use.
type Server struct {
	cfg     ServerConfig
	connIDs *ConnIDs
	metrics *metrics
	promh   http.Handler
	// samples recycles the buffers announces draw candidates into.
	samples sync.Pool
	// channels serves /v1/channels..., /v1/fleet and the fleet page at /.
	channels *channelAPI
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
	if cfg.HandoutBudget == 0 {
		cfg.HandoutBudget = 4 * cfg.MaxNumWant
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rng := cfg.Rand
	if rng == nil {
		seed := uint64(cfg.Now().UnixNano())
		rng = mrand.New(mrand.NewPCG(seed, seed>>32|seed<<32))
	}
	if cfg.Store == nil {
		// The store draws from a generator of its own, seeded from rng so
		// a test's seed fixes both.
		cfg.Store = NewMemoryStoreWith(MemoryStoreConfig{TTL: cfg.PeerTTL, MaxTorrents: cfg.MaxTorrents,
			MaxPeersPerTorrent: cfg.MaxPeersPerTorrent, AddrLimit: cfg.addrLimit(),
			Rand: mrand.New(mrand.NewPCG(rng.Uint64(), rng.Uint64()))})
	}
	if cfg.Policy == nil {
		cfg.Policy = NewDefaultPolicy(rng, NewHandoutBudget(cfg.HandoutBudget, cfg.Interval, 0))
	}
	if len(cfg.ConnIDSecret) == 0 {
		cfg.ConnIDSecret = make([]byte, 32)
		rand.Read(cfg.ConnIDSecret)
	}
	s := &Server{cfg: cfg, connIDs: NewConnIDs(cfg.ConnIDSecret, 0)}
	s.samples.New = func() any { return new([]Peer) }
	s.metrics = newMetrics(cfg.Store, cfg.Now)
	s.promh = promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	s.channels = newChannelAPI(s, cfg.Channels)
	return s
}

// ServeHTTP routes the tracker's endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
		return
	case "/metrics":
		s.promh.ServeHTTP(w, r)
		return
	}
	endpoint, key := splitTrackerPath(r.URL.Path)
	if endpoint == "" {
		s.channels.ServeHTTP(w, r) // channel endpoints, the fleet page, or 404
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		s.cfg.Logger.Warn("tracker: unparseable remote address", "remote", r.RemoteAddr)
		s.failHTTP(w, &refusal{"cannot determine peer address", "bad_request"})
		return
	}
	src := remote.Addr().Unmap().WithZone("")
	if !s.cfg.RateLimit.Allow(src, s.cfg.Now()) {
		s.failHTTP(w, errRateLimited)
		return
	}
	if endpoint == "scrape" {
		s.serveHTTPScrape(w, r, key)
		return
	}
	s.serveHTTPAnnounce(w, r, src, key)
}

// serveHTTPAnnounce answers one announce. Refusals are bencoded failure
// reasons with status 200, as clients expect.
func (s *Server) serveHTTPAnnounce(w http.ResponseWriter, r *http.Request, src netip.Addr, pathKey string) {
	q, err := parseAnnounceQuery(r.URL.RawQuery)
	if err != nil {
		s.failHTTP(w, &refusal{err.Error(), "bad_request"})
		return
	}
	key := pathKey
	if key == "" {
		key = q.Key
	}
	rep, ref := s.announce(r.Context(), announceInput{query: q, src: src, key: key, proto: "http"})
	if ref != nil {
		s.failHTTP(w, ref)
		return
	}
	rep.Compact = q.Compact
	body, err := rep.marshal()
	if err != nil {
		s.cfg.Logger.Error("tracker: encode reply", "err", err)
		s.failHTTP(w, errInternal)
		return
	}
	writeBencode(w, body)
}

func (s *Server) failHTTP(w http.ResponseWriter, ref *refusal) {
	s.metrics.fail(ref.metric)
	writeBencode(w, marshalFailure(ref.reason))
}

func writeBencode(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}
