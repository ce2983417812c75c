package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	randv2 "math/rand/v2"
	"net/netip"
	"time"

	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/tracker"
	"github.com/shoal-p2p/shoal/wire"
)

// ErrIncomplete is returned with the report when some receivers that did
// not churn had not finished by Config.MaxTime.
var ErrIncomplete = errors.New("sim: receivers did not finish")

// epoch is simulated time zero as the cores see it.
var epoch = time.Unix(1_000_000_000, 0).UTC()

// simulation is the state of one run.
type simulation struct {
	cfg    Config
	lay    layout
	rng    *rand.Rand
	policy tracker.Policy
	lat    int64 // one-way latency, ns
	now    int64
	seq    uint64

	hosts  []*host // hosts[0] is the origin
	events eventHeap
	ctrls  fifo[ctrl]
	extHS  []byte // our BEP 10 handshake payload (hosts with a zone have their own)

	racks      *racks         // nil unless Config.RackSize
	registered []bool         // hosts the tracker knows
	candBuf    []tracker.Peer // reused by trackerAnnounce
	tpeers     []tracker.Peer // each host's tracker entry (trackerPeer)
	tpFresh    []bool         // whether tpeers[i] is current
	originSent []int64
	originOut  int
	// holders counts, per piece, the receivers present that verified it,
	// and fragile the pieces held by fewer than originLeaveCopies of them
	// (Config.OriginLeaves waits for none).
	holders []int32
	fragile int

	receiversLeft int // receivers that neither finished nor left
	finished      int
	churned       int
	deliveries    int64

	trace *trace // where the time goes, for the report's Diagnosis
}

// Run simulates the distribution described by cfg and returns its report.
// When some receivers did not finish by MaxTime the report is still
// returned, with an error wrapping ErrIncomplete. Cancelling ctx stops the
// run (checked every 100 ms of simulated time) with ctx's error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	lay, err := makeLayout(&cfg)
	if err != nil {
		return nil, err
	}
	s := &simulation{cfg: cfg, lay: lay, rng: newRand(cfg.Seed), lat: int64(cfg.Latency)}
	s.policy = cfg.Policy
	if s.policy == nil {
		prng := randv2.New(randv2.NewPCG(uint64(cfg.Seed), 0x5eed))
		s.policy = tracker.NewDefaultPolicy(prng, tracker.NewHandoutBudget(HandoutBudget, AnnounceInterval, 0))
	}
	if err := s.build(); err != nil {
		return nil, err
	}
	maxTime := int64(cfg.MaxTime)
	if maxTime == 0 {
		maxTime = int64(120*time.Second) + int64(100*floor(&cfg, s.hosts)*1e9)
	}
	if err := s.loop(ctx, maxTime); err != nil {
		return nil, fmt.Errorf("simulation stopped at %v: %w", time.Duration(s.now), err)
	}
	rep := s.report()
	if rep.Incomplete > 0 {
		return rep, fmt.Errorf("%w: %d of %d after %v simulated", ErrIncomplete, rep.Incomplete, cfg.Peers, time.Duration(s.now))
	}
	return rep, nil
}

// build creates the hosts and schedules their first events.
func (s *simulation) build() error {
	cfg, lay := &s.cfg, s.lay
	n := cfg.Peers + 1
	// The runtime advertises reqq 512 and pipelines at most 256 requests
	// per peer; with coarse blocks keep those caps in bytes, but never
	// below a few blocks.
	maxReq := max(4, swarm.DefaultMaxRequestsPerPeer/int(lay.scale))
	maxQueued := max(8, swarm.DefaultMaxQueuedUploads/int(lay.scale))
	payload, err := wire.ExtendedHandshake{M: map[string]int{}, V: peers.ClientName, Reqq: maxQueued, Port: listenPort}.Marshal()
	if err != nil {
		return fmt.Errorf("encode extended handshake: %w", err)
	}
	s.extHS = payload
	slow := make([]bool, n)
	numSlow := int(cfg.SlowFraction * float64(cfg.Peers))
	for _, i := range s.rng.Perm(cfg.Peers)[:numSlow] {
		slow[i+1] = true
	}
	churnAt := make([]int, n)
	numChurn := int(cfg.Churn * float64(cfg.Peers))
	for _, i := range s.rng.Perm(cfg.Peers)[:numChurn] {
		frac := 0.1 + 0.8*s.rng.Float64()
		churnAt[i+1] = max(1, int(frac*float64(lay.numPieces)))
	}
	scale := float64(lay.scale)
	s.racks = newRacks(cfg, n, lay.scale)
	for i := 0; i < n; i++ {
		h := &host{idx: i, origin: i == 0, churnAt: churnAt[i]}
		up, down := cfg.Link, cfg.Link
		switch {
		case i == 0:
			up, down = cfg.OriginLink, math.Inf(1)
		case slow[i]:
			up, down = cfg.SlowLink, cfg.SlowLink
		}
		h.upReal, h.downReal = up, down
		h.up, h.down = up/scale/1e9, down/scale/1e9
		sc := swarm.Config{
			NumPieces:          lay.numPieces,
			PieceLength:        lay.modelPiece,
			TotalLength:        lay.modelTotal,
			Choker:             swarm.Fleet,
			Fast:               true,
			MaxRequestsPerPeer: maxReq,
			MaxQueuedUploads:   maxQueued,
			Seed:               cfg.Seed*1_000_003 + int64(i),
		}
		if err := s.zoneHost(h, &sc, maxQueued); err != nil { // racks.go
			return err
		}
		if i == 0 {
			sc.Have = make([]bool, lay.numPieces)
			for k := range sc.Have {
				sc.Have[k] = true
			}
			sc.InitialSeeding = true
		}
		core, err := swarm.New(sc)
		if err != nil {
			return fmt.Errorf("host %d: %w", i, err)
		}
		h.core = core
		s.hosts = append(s.hosts, h)
	}
	s.registered = make([]bool, n)
	s.originSent = make([]int64, lay.numPieces)
	s.holders = make([]int32, lay.numPieces)
	s.fragile = lay.numPieces
	s.receiversLeft = cfg.Peers
	// The origin announces first; receivers follow in random order.
	s.schedule(event{at: 0, kind: evJoin, h: s.hosts[0]})
	for k, i := range s.rng.Perm(cfg.Peers) {
		at := int64(0)
		if cfg.JoinSpread > 0 {
			at = int64(cfg.JoinSpread) * int64(k) / int64(cfg.Peers)
		}
		s.schedule(event{at: at, kind: evJoin, h: s.hosts[i+1]})
	}
	// Each host ticks once a second at its own phase, as independent
	// processes would.
	for _, h := range s.hosts {
		h.nextTick = s.rng.Int63n(int64(time.Second))
		s.schedule(event{at: h.nextTick, kind: evTick, h: h})
	}
	s.trace = newTrace(s)
	if s.racks != nil {
		s.racks.track(lay.numPieces, s.trace.bin)
	}
	s.schedule(event{at: 0, kind: evSample})
	return nil
}

// schedule queues a timed event.
func (s *simulation) schedule(e event) {
	s.seq++
	e.seq = s.seq
	s.events.push(e)
}

// timeOf converts simulated nanoseconds to the core's clock.
func timeOf(ns int64) time.Time { return epoch.Add(time.Duration(ns)) }

// loop runs events until every receiver finished or left, or maxTime, or
// ctx is done.
func (s *simulation) loop(ctx context.Context, maxTime int64) error {
	nextProgress := int64(0)
	for s.receiversLeft > 0 {
		useCtrl := s.ctrls.len() > 0 && (len(s.events) == 0 || s.ctrls.front().at <= s.events[0].at)
		if useCtrl {
			if s.ctrls.front().at > maxTime {
				return nil
			}
			c := s.ctrls.pop()
			s.now = c.at
			s.deliver(c)
		} else {
			if len(s.events) == 0 || s.events[0].at > maxTime {
				return nil
			}
			e := s.events.pop()
			s.now = e.at
			s.handle(e)
		}
		if s.now >= nextProgress {
			if err := ctx.Err(); err != nil {
				return err
			}
			if s.cfg.Progress != nil {
				s.cfg.Progress(time.Duration(s.now), s.finished, s.cfg.Peers)
			}
			nextProgress = s.now + int64(100*time.Millisecond)
		}
	}
	return nil
}

// handle runs one timed event.
func (s *simulation) handle(e event) {
	h := e.h
	switch e.kind {
	case evTick:
		if h.gone {
			return
		}
		h.nextTick = s.now + int64(time.Second)
		h.core.Tick(timeOf(s.now))
		s.tickPeers(h)
		s.process(h)
		s.schedule(event{at: h.nextTick, kind: evTick, h: h})
	case evWake:
		if h.gone || h.mgr == nil || h.wakeAt != s.now {
			return
		}
		h.mgr.Tick(timeOf(s.now))
		h.stepped()
		s.process(h)
	case evJoin:
		s.join(h)
	case evAnnounce:
		s.trackerAnnounce(h)
	case evPeers:
		s.trackerReply(h)
	case evFin:
		s.deliver(ctrl{kind: ctrlFin, to: e.c})
	case evUpWake:
		if h.upWakeAt == s.now {
			h.upWakeAt = 0
		}
		if !h.busy && !h.gone {
			s.startUpload(h)
		}
	case evSample:
		s.trace.sample(s)
		s.schedule(event{at: s.now + s.trace.bin, kind: evSample})
	case evHandshake:
		s.accept(h, e.c)
	case evUpDone:
		s.upDone(h)
	case evArrive:
		c := e.c
		if c.state != open {
			return
		}
		s.deliveries++
		if s.racks != nil {
			s.racks.arrived(c.h.idx, s.now)
		}
		c.h.core.ReceiveBlock(timeOf(s.now), c.id, e.spec, blockPayload)
		s.process(c.h)
	}
}

// deliver hands a control delivery to its receiving end.
func (s *simulation) deliver(d ctrl) {
	c := d.to
	switch d.kind {
	case ctrlMessage:
		if c.state != open {
			return
		}
		if d.msg.typ == extendedType && d.msg.index == wire.ExtendedHandshakeID {
			s.extendedArrived(c)
		}
		if s.racks != nil {
			s.racks.observe(c.peer.idx, c.h.idx, &d.msg, s.now)
		}
		c.h.core.Receive(timeOf(s.now), c.id, d.msg.message())
		s.process(c.h)
	case ctrlAccept:
		s.established(c, d.from)
	case ctrlRefuse:
		s.dialFailed(c)
	case ctrlFin:
		if c.state != open {
			return
		}
		s.closeConn(c, false)
		c.h.core.RemovePeer(timeOf(s.now), c.id)
		c.h.mgr.Closed(timeOf(s.now), c.id)
		c.h.stepped()
		s.process(c.h)
	}
}

// peerAddr is the address host i listens on, as the tracker hands it out.
func peerAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), listenPort)
}

// hostOf is the host index behind a peerAddr.
func hostOf(a netip.AddrPort) int32 {
	b := a.Addr().As4()
	return int32(b[1])<<16 | int32(b[2])<<8 | int32(b[3])
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
