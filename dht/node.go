package dht

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/ratelimit"
)

// Defaults for Config fields left zero.
const (
	DefaultQueryTimeout    = 5 * time.Second
	DefaultLookupTimeout   = 30 * time.Second
	DefaultMaxPending      = 256
	DefaultRefreshInterval = time.Minute
	DefaultRateLimit       = 20 // queries per second per source IP
	DefaultRateBurst       = 50
	maxRateSources         = 4096
)

// Sentinel errors callers may branch on.
var (
	ErrClosed         = errors.New("dht: node closed")
	ErrTimeout        = errors.New("dht: query timed out")
	ErrTooManyPending = errors.New("dht: too many outstanding queries")
	ErrNoNodes        = errors.New("dht: no nodes to query")
	ErrAnnounceFailed = errors.New("dht: no node accepted the announce")
)

// Config configures a Node. Zero fields get defaults.
type Config struct {
	ID              ID        // node ID; loaded from StateFile or random if zero
	Transport       Transport // packet transport; if nil, a UDP socket on ListenAddr
	ListenAddr      string    // used when Transport is nil, e.g. ":6881"
	Bootstrap       []string  // "host:port" of nodes to join through
	StateFile       string    // routing table saved here on Close, loaded by New
	Clock           Clock     // defaults to SystemClock
	Rand            *rand.Rand
	Logger          *slog.Logger
	QueryTimeout    time.Duration
	LookupTimeout   time.Duration // bound on one whole iterative lookup
	MaxPending      int           // outstanding queries we send
	MaxInfoHashes   int           // peer store bound
	MaxPeersPerHash int           // peer store bound
	RateLimit       float64       // incoming queries per second per IP
	RateBurst       float64
	RefreshInterval time.Duration // how often stale buckets are checked
}

// Stats are counters and sizes of a node, for metrics and tests.
type Stats struct {
	Nodes        int // routing table contacts
	Pending      int // outstanding queries
	InfoHashes   int // info hashes in the peer store
	StoredPeers  int // peers in the peer store
	PacketsIn    int64
	PacketsOut   int64
	Malformed    int64 // packets that failed to parse
	RateLimited  int64 // queries dropped by the per-source limit
	Unexpected   int64 // responses matching no outstanding query
	Timeouts     int64
	PendingFull  int64 // queries refused because MaxPending was reached
	QueriesIn    int64
	Announces    int64 // announce_peer queries accepted
	BadTokens    int64
	ReadOnlySeen int64 // queries from BEP 43 read-only nodes
}

// Node is a DHT node: it answers queries from other nodes and runs lookups
// for its owner. Create it with New, call Start, and Close it when done.
type Node struct {
	cfg   Config
	id    ID
	tr    Transport
	clock Clock
	log   *slog.Logger

	mu      sync.Mutex
	rnd     *rand.Rand
	table   *RoutingTable
	srv     responder
	limiter *ratelimit.PerSource
	pending map[string]*pendingQuery
	boot    []netip.AddrPort // resolved Config.Bootstrap addresses
	stats   Stats
	closed  bool
	stopRef func() bool

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

type pendingQuery struct {
	to    netip.AddrPort
	reply chan Msg
}

// New creates a node, opening its socket and loading its saved routing
// table. It does not send anything until Start and Bootstrap.
func New(cfg Config) (*Node, error) {
	cfg = withDefaults(cfg)
	saved, err := loadState(cfg.StateFile)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, rnd: cfg.Rand, done: make(chan struct{}),
		pending: map[string]*pendingQuery{}}
	n.id = cfg.ID
	if n.id.IsZero() {
		n.id = saved.ID
	}
	if n.id.IsZero() {
		n.id = RandomID(n.rnd)
	}
	now := n.clock.Now()
	n.table = NewRoutingTable(n.id)
	for _, c := range saved.Nodes {
		n.table.Insert(c, false, now)
	}
	n.srv = responder{self: n.id, table: n.table, tokens: NewTokenManager(n.rnd, now),
		peers: NewPeerStore(cfg.MaxInfoHashes, cfg.MaxPeersPerHash), rnd: n.rnd}
	n.limiter = ratelimit.NewPerSource(cfg.RateLimit, int(cfg.RateBurst), maxRateSources)
	n.tr = cfg.Transport
	if n.tr == nil {
		if n.tr, err = ListenUDP(cfg.ListenAddr); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Rand == nil {
		var seed [32]byte
		crand.Read(seed[:])
		cfg.Rand = rand.New(rand.NewChaCha8(seed))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = DefaultRateBurst
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	return cfg
}

// ID returns the node's ID.
func (n *Node) ID() ID { return n.id }

// Addr returns the transport's local address.
func (n *Node) Addr() net.Addr { return n.tr.LocalAddr() }

// Start launches the goroutine that reads packets and the periodic bucket
// refresh. Close stops them.
func (n *Node) Start() {
	n.wg.Add(1)
	go n.readLoop()
	n.mu.Lock()
	n.armRefresh()
	n.mu.Unlock()
}

// Close stops the node, closes its transport and saves its routing table
// to StateFile. Lookups in progress return ErrClosed.
func (n *Node) Close() error {
	var err error
	n.once.Do(func() {
		n.mu.Lock()
		n.closed = true
		if n.stopRef != nil {
			n.stopRef()
		}
		n.mu.Unlock()
		close(n.done)
		err = n.tr.Close()
		n.wg.Wait()
		if serr := n.SaveState(); serr != nil && err == nil {
			err = serr
		}
	})
	return err
}

// Stats returns current sizes and counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.stats
	s.Nodes, s.Pending = n.table.Len(), len(n.pending)
	s.InfoHashes, s.StoredPeers = n.srv.peers.InfoHashes(), n.srv.peers.Len()
	return s
}

// Closest returns up to k contacts from the routing table nearest target.
func (n *Node) Closest(target ID, k int) []NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.table.Closest(target, k, n.clock.Now())
}

// AddNode offers a contact to the routing table as if it had queried us,
// e.g. one learnt from a BitTorrent PORT message (BEP 5); it is pinged
// before it can displace anyone.
func (n *Node) AddNode(ni NodeInfo) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.insertLocked(ni, false)
}

// goLocked starts f as a goroutine owned by the node unless it is closing.
// n.mu must be held.
func (n *Node) goLocked(f func()) bool {
	if n.closed {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// insertLocked adds a contact and pings whoever it may replace.
func (n *Node) insertLocked(ni NodeInfo, answered bool) {
	ping, ok := n.table.Insert(ni, answered, n.clock.Now())
	if ok && len(n.pending) < n.cfg.MaxPending/2 {
		n.goLocked(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n.query(ctx, ping, Msg{Y: TypeQuery, Q: MethodPing})
		})
	}
}

func (n *Node) send(m Msg, to netip.AddrPort) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.stats.PacketsOut++
	n.mu.Unlock()
	if err := n.tr.WriteTo(b, to); err != nil {
		return fmt.Errorf("send %s to %s: %w", m.Q, to, err)
	}
	return nil
}

// String describes the node for logs.
func (n *Node) String() string { return fmt.Sprintf("dht node %s at %s", n.id.String()[:8], n.Addr()) }
