package peers

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/shoal-p2p/shoal/handover"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/zone"
)

// ConnID is the runtime's handle of one connection, the same handle the
// scheduling core knows it by.
type ConnID = swarm.ConnID

// Defaults applied by New for zero Config fields.
const (
	DefaultMaxPeers      = 80
	DefaultMaxHalfOpen   = 16
	DefaultMaxCandidates = 4096
	DefaultPEXInterval   = time.Minute // BEP 11: at most one message a minute
	DefaultEvictIdle     = 5 * time.Second
	// NumWant is how many peers an announce asks a tracker for.
	NumWant = 50
	// StarvedPeers: with fewer connections than this a downloading torrent
	// is starved, and asks trackers and the DHT more often.
	StarvedPeers = 5
	// MaxBans bounds the ban keys one torrent remembers; past it the oldest
	// ban is forgotten.
	MaxBans = 4096
	// ClientName is the "v" of our BEP 10 handshakes, in the client and the
	// simulator alike.
	ClientName = "Shoal 0.1"
)

// ErrInvalidConfig is wrapped by New when the Config is inconsistent.
var ErrInvalidConfig = errors.New("peers: invalid config")

// ErrContract is wrapped by the panic raised when the runtime breaks the
// Ready/Advance contract (stepping the manager while a batch is out, or
// advancing without one). It is a bug in the caller, never caused by
// input. It is handover.ErrContract.
var ErrContract = handover.ErrContract

// Config describes one torrent's peer management.
type Config struct {
	// PeerID is ours: a handshake carrying it is a connection to ourselves.
	PeerID [20]byte
	// MaxPeers bounds the connections, dials in flight included (default
	// DefaultMaxPeers).
	MaxPeers int
	// MaxHalfOpen bounds the dials in flight (default DefaultMaxHalfOpen).
	MaxHalfOpen int
	// MaxCandidates bounds the addresses remembered (default
	// DefaultMaxCandidates).
	MaxCandidates int
	// Trackers is how many trackers to announce to; Announce actions name
	// them 0 to Trackers-1.
	Trackers int
	// DHT makes the manager look up and announce the torrent on the DHT.
	DHT bool
	// PEX makes it exchange peers with peers that speak ut_pex (never for a
	// private torrent, BEP 27).
	PEX bool
	// Metadata says the torrent is a magnet still fetching its info
	// dictionary (BEP 9); MetadataDone ends that phase.
	Metadata bool
	// Complete says we have every piece already (a seed).
	Complete bool
	// PEXInterval is the shortest time between two PEX messages to one peer
	// (default DefaultPEXInterval).
	PEXInterval time.Duration
	// EvictIdle is how long a connection must have been idle before a
	// newcomer may take its slot (default DefaultEvictIdle).
	EvictIdle time.Duration
	// Seed seeds the manager's random source.
	Seed int64
	// Zone is our location label (package zone, e.g. "dc1/row4/rack12"),
	// the same as the core's (swarm.Config.Zone). With it, peers whose
	// extended handshake names another zone are far, and while we
	// download at most MaxFar of them that are not seeds are kept (see
	// far.go). Empty: no location, no far peers.
	Zone string
	// MaxFar bounds the far connections kept while downloading, seeds
	// not counted (default DefaultMaxFar; negative: no bound). It matters
	// only with a Zone.
	MaxFar int
}

// Manager is the peer state of one torrent. Create it with New, step it with
// its event methods and take its decisions with Ready and Advance.
type Manager struct {
	cfg   Config
	rng   *rand.Rand
	start time.Time

	// Candidates. Invariants (checkInvariants): cands and candList hold the
	// same candidates, candList[i].idx == i; halfOpen counts those dialing,
	// halfPEX those dialing with dialPEX; pexCands counts the PEX-only ones
	// and pexBySrc splits them by source.
	cands    map[netip.AddrPort]*candidate
	candList []*candidate // deterministic iteration order
	seq      uint64       // candidates learnt so far
	pexCands int
	pexBySrc map[netip.AddrPort]int
	buckets  map[netip.AddrPort]*bucket // dial rate per PEX source
	halfOpen int
	halfPEX  int
	scratch  []*candidate // dialMore's buffer
	dhtFound bool         // a DHT lookup brought a peer (metadata phase cadence)

	// Connections. Invariants: conns, connList and byPeerID hold the same
	// connections (one per peer id), connList[i].idx == i; a connected
	// candidate's conn stands for it; asking counts the conns asked.
	conns    map[ConnID]*conn
	connList []*conn
	byPeerID map[[20]byte]*conn
	byListen map[netip.AddrPort]*conn // by listen address, where known
	recent   []recentConn             // the last closed connections, for a late Ban
	asking   int
	far      int // conns whose extended handshake named another zone (far.go)

	// Bans: keys in bans and banOrder alike (oldest first), at most MaxBans.
	bans     map[string]banEntry
	banOrder []string

	trackers []trackerState
	dht      dhtState
	stopped  bool

	out handover.Queue[Action] // actions decided, handed out by Ready
}

// New returns a Manager for a torrent added at now. Its first batch
// (announces, lookups) is ready at once.
func New(now time.Time, cfg Config) (*Manager, error) {
	if cfg.MaxPeers < 0 || cfg.MaxHalfOpen < 0 || cfg.MaxCandidates < 0 || cfg.Trackers < 0 ||
		cfg.PEXInterval < 0 || cfg.EvictIdle < 0 {
		return nil, fmt.Errorf("%w: negative bound", ErrInvalidConfig)
	}
	if err := zone.Check(cfg.Zone); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.MaxFar == 0 {
		cfg.MaxFar = DefaultMaxFar
	}
	if cfg.MaxPeers == 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	if cfg.MaxHalfOpen == 0 {
		cfg.MaxHalfOpen = DefaultMaxHalfOpen
	}
	if cfg.MaxCandidates == 0 {
		cfg.MaxCandidates = DefaultMaxCandidates
	}
	if cfg.PEXInterval == 0 {
		cfg.PEXInterval = DefaultPEXInterval
	}
	if cfg.EvictIdle == 0 {
		cfg.EvictIdle = DefaultEvictIdle
	}
	m := &Manager{
		cfg:      cfg,
		out:      handover.Queue[Action]{Name: "peers"},
		rng:      rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9ee25)),
		start:    now,
		cands:    make(map[netip.AddrPort]*candidate),
		pexBySrc: make(map[netip.AddrPort]int),
		buckets:  make(map[netip.AddrPort]*bucket),
		conns:    make(map[ConnID]*conn),
		byPeerID: make(map[[20]byte]*conn),
		byListen: make(map[netip.AddrPort]*conn),
		bans:     make(map[string]banEntry),
		trackers: make([]trackerState, cfg.Trackers),
	}
	for i := range m.trackers {
		m.trackers[i].next = now
	}
	m.dht.nextLookup, m.dht.nextAnnounce, m.dht.gap = now, now, dhtAnnounceFirst
	m.timers(now)
	return m, nil
}

// Config returns the configuration with defaults applied, as the current
// phase has it (MetadataDone and Completed change Metadata, Complete, DHT
// and PEX).
func (m *Manager) Config() Config { return m.cfg }

// Ready returns the actions decided since the last Advance, in order. The
// runtime performs all of them (or starts them: a dial runs in the
// background), then calls Advance; the slice is valid until then. No event
// may be stepped in between: results come back as later events.
func (m *Manager) Ready() []Action { return m.out.Ready() }

// HasReady reports whether Ready would return actions.
func (m *Manager) HasReady() bool { return m.out.HasReady() }

// Advance acknowledges the batch Ready returned.
func (m *Manager) Advance() { m.out.Advance() }

// step guards every event: stepping while a batch is out breaks the
// contract, since the batch's results must arrive as later events.
func (m *Manager) step() { m.out.Step() }

// emit queues an action.
func (m *Manager) emit(a Action) { m.out.Push(a) }

// Tick lets time pass: due redials, announces, lookups and PEX messages go
// out. Call it about every second, and at Wake.
func (m *Manager) Tick(now time.Time) {
	m.step()
	if m.stopped {
		return
	}
	m.expireBans(now)
	m.timers(now)
	m.sendPEX(now)
	m.dialMore(now)
}

// Wake returns the earliest time a tracker or DHT timer is due, zero if
// none; the runtime ticks the manager then as well as every second.
func (m *Manager) Wake() time.Time {
	var w time.Time
	earlier := func(t time.Time) {
		if w.IsZero() || t.Before(w) {
			w = t
		}
	}
	if m.stopped {
		return w
	}
	for i := range m.trackers {
		if !m.trackers[i].busy {
			earlier(m.trackers[i].next)
		}
	}
	if m.cfg.DHT {
		if !m.dht.lookupBusy && !m.cfg.Complete {
			earlier(m.dht.nextLookup)
		}
		if !m.dht.announceBusy && !m.cfg.Metadata {
			earlier(m.dht.nextAnnounce)
		}
	}
	return w
}

// NumConns returns the number of accepted connections.
func (m *Manager) NumConns() int { return len(m.conns) }

// Starved reports whether the torrent has too few connections for its
// needs: fewer than StarvedPeers while downloading, or any while fetching
// metadata.
func (m *Manager) Starved() bool {
	if m.cfg.Metadata {
		return true
	}
	return !m.cfg.Complete && len(m.conns) < StarvedPeers
}

// Stats counts the manager's state, for progress lines and tests.
type Stats struct {
	Candidates    int // addresses remembered
	PEXCandidates int // of which learnt only from PEX
	Conns         int // accepted connections
	HalfOpen      int // dials in flight
	Bans          int // ban keys held
	Far           int // accepted connections whose handshake named another zone
	FarCounted    int // of which not seeds (the far bound's count)
}

// Stats returns the manager's counters.
func (m *Manager) Stats() Stats {
	return Stats{Candidates: len(m.cands), PEXCandidates: m.pexCands, Conns: len(m.conns),
		HalfOpen: m.halfOpen, Bans: len(m.bans), Far: m.far, FarCounted: m.farCounted()}
}

// Addresses returns every remembered address that is not our own, in the
// order they were learnt.
func (m *Manager) Addresses() []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(m.candList))
	for _, cd := range m.candList {
		if !cd.self {
			out = append(out, cd.addr)
		}
	}
	return out
}
