package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// The systems of the seed's comparison ("the four ways to do the job"),
// as [ParseSystem] names them.
const (
	SystemShoal      = "shoal"      // the swarm: Run
	SystemSingle     = "single"     // one origin sends every receiver the whole file
	SystemReplicated = "replicated" // replicated:K: K origins, each serves N/K receivers the whole file
	SystemSharded    = "sharded"    // sharded:K: K origins, each holds 1/K of the file; every receiver fetches every shard
)

// ErrUnknownSystem is wrapped by ParseSystem for a name it does not know.
var ErrUnknownSystem = errors.New("unknown system")

// System is one way to distribute the file, as named on the command line
// ("shoal", "single", "replicated:10", "sharded:10").
type System struct {
	Name string // as given
	Kind string // one of the System* constants
	K    int    // origins (1 for single and shoal)
}

// ParseSystem parses a system name. K must be 1 to 10,000.
func ParseSystem(name string) (System, error) {
	kind, arg, hasK := strings.Cut(name, ":")
	sys := System{Name: name, Kind: kind, K: 1}
	switch kind {
	case SystemShoal, SystemSingle:
		if hasK {
			return sys, fmt.Errorf("%w %q: %s takes no :K", ErrUnknownSystem, name, kind)
		}
		return sys, nil
	case SystemReplicated, SystemSharded:
		k, err := strconv.Atoi(arg)
		if !hasK || err != nil || k < 1 || k > 10000 {
			return sys, fmt.Errorf("%w %q: want %s:K with K origins, 1 to 10000", ErrUnknownSystem, name, kind)
		}
		sys.K = k
		return sys, nil
	}
	return sys, fmt.Errorf("%w %q (want shoal, single, replicated:K or sharded:K)", ErrUnknownSystem, name)
}

// RunSystem runs one system of the comparison on cfg's hosts and links:
// "shoal" is [Run]; the others are client-server transfers simulated on
// the same link model (see RunOrigins).
func RunSystem(ctx context.Context, cfg Config, sys System) (*Report, error) {
	if sys.Kind == SystemShoal {
		rep, err := Run(ctx, cfg)
		if rep != nil {
			rep.System = sys.Name
		}
		return rep, err
	}
	return RunOrigins(ctx, cfg, sys)
}

// RunOrigins simulates a client-server system: K origins, each with the
// origin's upload (Config.OriginLink), send the file to the receivers over
// the same links the swarm has (every receiver's download link, latency,
// racks' uplinks and core), with no receiver uploading anything:
//
//   - single: one origin sends every receiver the whole file;
//   - replicated:K: origin k holds the whole file and serves receivers
//     k, k+K, k+2K, ... (its share of them);
//   - sharded:K: origin k holds the k-th of K equal shards and every
//     receiver fetches every shard, from all K origins at once.
//
// Each receiver's request reaches its origins after TCP's handshake and
// the request (one and a half round trips); an origin's upload link then
// sends blocks of the swarm's simulated block size, one at a time,
// round-robin over the transfers still going (many TCP streams sharing one
// link), and a receiver's download link serves arriving blocks one after
// another, as in the swarm's model. Origins sit in racks 0, 1, 2, ... in
// turn. Slow receivers are chosen as in Run; churn, the origin leaving and
// join spread do not apply. The floor reported is the job's (one origin),
// so every system of a comparison is measured against the same one; the
// origin egress is every origin's, over F.
func RunOrigins(ctx context.Context, cfg Config, sys System) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if sys.Kind != SystemSingle && sys.Kind != SystemReplicated && sys.Kind != SystemSharded {
		return nil, fmt.Errorf("%w %q: not a client-server system", ErrUnknownSystem, sys.Name)
	}
	lay, err := makeLayout(&cfg)
	if err != nil {
		return nil, err
	}
	K := max(sys.K, 1)
	o := &originsRun{cfg: cfg, sys: sys, lay: lay, lat: int64(cfg.Latency)}
	o.build(K)
	if err := o.run(ctx); err != nil {
		return nil, fmt.Errorf("%s stopped at %v: %w", sys.Name, time.Duration(o.now), err)
	}
	return o.report(), nil
}

// originsRun is the state of one client-server run. Hosts 0..K-1 are the
// origins, K.. the receivers; the simulation's host type carries their
// links and racks.
type originsRun struct {
	cfg   Config
	sys   System
	lay   layout
	lat   int64
	now   int64
	hosts []*host
	sim   simulation // the network part only: racks, latency, now
	// senders are the origins with transfers left, by when their upload
	// link finishes the block it is sending.
	senders   senderHeap
	left      []int64 // modelled bytes each receiver still awaits
	finishAt  []int64 // when each receiver got its last byte
	sent      int64   // modelled bytes the origins sent
	delivered int64   // blocks delivered
}

// transfer is one stream: an origin sending one receiver a byte range.
type transfer struct {
	to   int   // receiver's host index
	left int64 // modelled bytes not yet sent
}

// sender is an origin's upload link with its transfers, served in turn.
type sender struct {
	h     *host
	xfers []transfer
	next  int   // the transfer whose block goes next
	start int64 // when the link started sending
	sent  int64 // modelled bytes put on the link, this block included
	done  int64 // when the block now on the link has left it
	cur   int   // that block's transfer
	size  int64 // and its size
	index int   // in the heap
}

func (o *originsRun) build(K int) {
	cfg, lay := &o.cfg, o.lay
	n := K + cfg.Peers
	scale := float64(lay.scale)
	// Slow receivers as Run picks them (its first draw from the seed).
	slow := make([]bool, cfg.Peers)
	for _, i := range newRand(cfg.Seed).Perm(cfg.Peers)[:int(cfg.SlowFraction*float64(cfg.Peers))] {
		slow[i] = true
	}
	for i := 0; i < n; i++ {
		h := &host{idx: i, origin: i < K}
		up, down := cfg.Link, cfg.Link
		switch {
		case i < K:
			up, down = cfg.OriginLink, math.Inf(1)
		case slow[i-K]:
			up, down = cfg.SlowLink, cfg.SlowLink
		}
		h.upReal, h.downReal = up, down
		h.up, h.down = up/scale/1e9, down/scale/1e9
		o.hosts = append(o.hosts, h)
	}
	o.sim = simulation{cfg: *cfg, lay: lay, lat: o.lat}
	if rk := newRacks(cfg, cfg.Peers+1, lay.scale); rk != nil {
		// Receivers keep their racks from Run; origin k goes to rack k mod
		// the racks.
		rk.of = make([]int32, n)
		for i := range n {
			if i < K {
				rk.of[i] = int32(i % rk.count)
			} else {
				rk.of[i] = int32((i - K) / cfg.RackSize)
			}
		}
		o.sim.racks = rk
	}
	o.left = make([]int64, n)
	o.finishAt = make([]int64, n)
	start := 3 * o.lat // TCP's handshake, then the request
	shard := (lay.modelTotal + int64(K) - 1) / int64(K)
	for k := range K {
		sd := &sender{h: o.hosts[k], cur: -1}
		for r := K; r < n; r++ {
			var size int64
			switch o.sys.Kind {
			case SystemSharded:
				size = max(0, min(shard, lay.modelTotal-int64(k)*shard))
			default:
				if (r-K)%K == k {
					size = lay.modelTotal
				}
			}
			if size > 0 {
				sd.xfers = append(sd.xfers, transfer{to: r, left: size})
				o.left[r] += size
			}
		}
		if len(sd.xfers) > 0 {
			sd.start = start
			o.startBlock(sd)
			heap.Push(&o.senders, sd)
		}
	}
}

// blockSize is the simulated block size, in modelled bytes.
func (o *originsRun) blockSize() int64 { return wire.BlockSize }

// startBlock puts the next transfer's next block on sd's link.
func (o *originsRun) startBlock(sd *sender) {
	if len(sd.xfers) == 0 {
		sd.cur = -1
		return
	}
	if sd.next >= len(sd.xfers) {
		sd.next = 0
	}
	x := &sd.xfers[sd.next]
	sd.cur, sd.size = sd.next, min(o.blockSize(), x.left)
	sd.next++
	// From the bytes sent so far, so that rounding does not add up over
	// millions of blocks: the link never beats its rate.
	sd.sent += sd.size
	sd.done = sd.start + int64(math.Ceil(float64(sd.sent)/sd.h.up))
}

// run sends every block, earliest link first.
func (o *originsRun) run(ctx context.Context) error {
	nextCheck := int64(0)
	for o.senders.Len() > 0 {
		sd := o.senders[0]
		o.now = sd.done
		if o.now >= nextCheck {
			if err := ctx.Err(); err != nil {
				return err
			}
			nextCheck = o.now + int64(100*time.Millisecond)
		}
		x := &sd.xfers[sd.cur]
		to := o.hosts[x.to]
		o.sim.now = o.now
		at := o.sim.blockArrival(sd.h, to, 0, float64(sd.size))
		to.downFree = at
		o.sent += sd.size
		o.delivered++
		x.left -= sd.size
		o.left[x.to] -= sd.size
		if o.left[x.to] == 0 {
			o.finishAt[x.to] = at
		}
		if x.left == 0 {
			// The transfer is done: drop it, keeping the turn order.
			sd.xfers = append(sd.xfers[:sd.cur], sd.xfers[sd.cur+1:]...)
			if sd.next > sd.cur {
				sd.next--
			}
		}
		o.startBlock(sd)
		if sd.cur < 0 {
			heap.Pop(&o.senders)
		} else {
			heap.Fix(&o.senders, 0)
		}
	}
	return nil
}

func (o *originsRun) report() *Report {
	cfg := &o.cfg
	K := max(o.sys.K, 1)
	r := &Report{
		System: o.sys.Name, Peers: cfg.Peers, SizeBytes: cfg.Size, LinkBytesPerS: cfg.Link,
		OriginLinkBytesPerS: cfg.OriginLink, LatencyS: cfg.Latency.Seconds(),
		PieceLength: o.lay.pieceLength, Pieces: o.lay.numPieces, BlockBytes: 16 << 10 * o.lay.scale,
		Seed: cfg.Seed, SlowFraction: cfg.SlowFraction, SimulatedS: time.Duration(o.now).Seconds(),
		Deliveries: o.delivered,
	}
	if cfg.SlowFraction > 0 {
		r.SlowLink = cfg.SlowLink
	}
	// The job's floor: one origin, as in the swarm's run of the comparison.
	job := []*host{{upReal: cfg.OriginLink}}
	job = append(job, o.hosts[K:]...)
	r.FloorS = floor(cfg, job)
	if o.sim.racks != nil {
		r.FloorS = max(r.FloorS, rackFloor(cfg, job, o.sim.racks))
	}
	r.SingleSourceS = float64(cfg.Peers) * float64(cfg.Size) / cfg.OriginLink
	r.OriginEgressRatio = float64(o.sent*o.lay.scale) / float64(cfg.Size)
	r.FinishS = make([]float64, 0, cfg.Peers)
	for _, at := range o.finishAt[K:] {
		r.FinishS = append(r.FinishS, time.Duration(at).Seconds())
	}
	sort.Float64s(r.FinishS)
	if n := len(r.FinishS); n > 0 {
		r.TLastS = r.FinishS[n-1]
		r.P50S = percentile(r.FinishS, 0.5)
		r.P90S = percentile(r.FinishS, 0.9)
		r.P99S = percentile(r.FinishS, 0.99)
		r.Efficiency = r.FloorS / r.TLastS
	}
	if rk := o.sim.racks; rk != nil {
		r.RackReport = rk.report(cfg, o.lay.scale, "origins")
		r.RackReport.FloorKumarRossS = floor(cfg, job)
		r.RackReport.FloorUplinksS = rackFloor(cfg, job, rk)
	}
	return r
}

// senderHeap orders origins by when their link is next free.
type senderHeap []*sender

func (h senderHeap) Len() int { return len(h) }
func (h senderHeap) Less(i, j int) bool {
	if h[i].done != h[j].done {
		return h[i].done < h[j].done
	}
	return h[i].h.idx < h[j].h.idx
}
func (h senderHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *senderHeap) Push(x any) {
	sd := x.(*sender)
	sd.index = len(*h)
	*h = append(*h, sd)
}
func (h *senderHeap) Pop() any {
	old := *h
	sd := old[len(old)-1]
	*h = old[:len(old)-1]
	return sd
}
