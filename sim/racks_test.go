package sim

import (
	"context"
	"errors"
	"math"
	randv2 "math/rand/v2"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/tracker"
)

// racked is 3 racks of 30 receivers (more than the policy's Enough, so
// the rack alone fills a handout) on a 1 MB file at 20 MB/s, 4:1.
func racked(seed int64) Config {
	return Config{Peers: 90, Size: 1 << 20, Link: 20e6, Latency: time.Millisecond, PieceLength: 128 << 10, Seed: seed,
		RackSize: 30, RackUplink: 30 * 20e6 / 4}
}

// TestRacksLocalBeatsRandom: with racks behind 4:1 uplinks, hosts that
// announce their rack make the tracker keep most bytes inside racks; the
// same fleet handed out at random sends far more over the uplinks. Both
// complete, on or above the floor computed with the uplinks. (The policy
// adds no nearest far peers to small racks here, so the start of the run,
// when racks are still filling, does not blur the comparison.)
func TestRacksLocalBeatsRandom(t *testing.T) {
	cfg := racked(1)
	cfg.Policy = tracker.NewDefaultPolicyWith(randv2.New(randv2.NewPCG(1, 1)), nil, tracker.Locality{Outside: 0.02})
	local, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg = racked(1)
	cfg.RandomPeers = true
	random, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Report{local, random} {
		checkReport(t, r, 90)
		rr := r.RackReport
		if rr == nil || rr.Racks != 3 || rr.RackSize != 30 || rr.RackUplinkBytesPerS != 150e6 {
			t.Fatalf("rack report %+v", rr)
		}
		if r.FloorS < rr.FloorKumarRossS || r.FloorS < rr.FloorUplinksS {
			t.Errorf("floor %v below its parts %+v", r.FloorS, rr)
		}
		if rr.RackUplinkInRatioMax < rr.RackUplinkInRatioMean || rr.RackUplinkInBytesMax <= 0 {
			t.Errorf("rack ingress max %v mean %v", rr.RackUplinkInRatioMax, rr.RackUplinkInRatioMean)
		}
	}
	if local.RackReport.Policy != "local" || random.RackReport.Policy != "random" {
		t.Errorf("policies %q, %q", local.RackReport.Policy, random.RackReport.Policy)
	}
	// Each of the two racks without the origin must take in one copy at
	// least; at random about 2/3 of every receiver's bytes cross.
	l, r := local.RackReport.RackUplinkInRatioMean, random.RackReport.RackUplinkInRatioMean
	t.Logf("mean bytes into a rack: local %.2f F (T_last %.3fs), random %.2f F (T_last %.3fs)", l, local.TLastS, r, random.TLastS)
	if l >= r/3 || l < 2.0/3 {
		t.Errorf("mean bytes into a rack: local %.2f F, random %.2f F; want local well below random, at least 2/3 F", l, r)
	}
}

// TestRackFloor checks the uplink bounds against hand-computed cases.
func TestRackFloor(t *testing.T) {
	F, u := 1e9, 1e9
	for _, tc := range []struct {
		name               string
		peers, rack        int
		uplink, core, want float64
	}{
		// 4 racks of 10, uplink U = 10u/4: a rack's 10 receivers need
		// 10F from 10u inside plus U: 10/(10+2.5) = 0.8 s, below F/u; the
		// racks outside rack 0 need 30F from 30u + U: 30/32.5, still below.
		{"4:1 leaves the plain floor", 40, 10, 2.5e9, 0, 1.0},
		// A narrow uplink: each rack must take in F at U = u/2.
		{"narrow uplink", 40, 10, 0.5e9, 0, 2.0},
		// A core of 1.5u for 3 racks outside rack 0: 3F/1.5u.
		{"narrow core", 40, 10, 0, 1.5e9, 2.0},
		// Everyone in rack 0: no uplink is crossed.
		{"one rack", 10, 10, 0.1e9, 0.1e9, 1.0},
	} {
		cfg := Config{Peers: tc.peers, Size: int64(F), Link: u, OriginLink: u, RackSize: tc.rack, RackUplink: tc.uplink, CoreRate: tc.core}
		s := &simulation{cfg: cfg}
		for i := 0; i <= tc.peers; i++ {
			s.hosts = append(s.hosts, &host{idx: i, upReal: u, downReal: u})
		}
		rk := newRacks(&cfg, tc.peers+1, 1)
		got := max(floor(&cfg, s.hosts), rackFloor(&cfg, s.hosts, rk))
		if math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: floor %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestFIFOServerCarriesItsRate: a server fed by many slower streams at
// once carries its own rate, one fed by a single stream passes it on.
func TestFIFOServerCarriesItsRate(t *testing.T) {
	f := fifoServer{rate: 10} // bytes per ns
	const size, streams = 1000.0, 40
	var last int64
	for range streams {
		// Every stream delivers a block over [0, 1000] (1 byte/ns).
		_, end := f.pass(0, 1000, size)
		last = max(last, end)
	}
	if want := int64(streams * size / 10); last != want {
		t.Errorf("40 blocks of 1000 bytes through 10 bytes/ns ended at %d, want %d", last, want)
	}
	g := fifoServer{rate: 10}
	if start, end := g.pass(500, 1500, size); start != 500 || end != 1500 {
		t.Errorf("a slow stream through a fast server: [%d, %d], want [500, 1500]", start, end)
	}
	inf := fifoServer{rate: math.Inf(1)}
	if start, end := inf.pass(3, 7, size); start != 3 || end != 7 {
		t.Errorf("an unlimited server delayed a block to [%d, %d]", start, end)
	}
}

func TestInvalidRackConfig(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.RackSize = -1 },
		func(c *Config) { c.RackSize, c.RackUplink = 0, 1e9 },
		func(c *Config) { c.RackUplink = -1 },
		func(c *Config) { c.CoreRate = math.NaN() },
	} {
		cfg := racked(1)
		mod(&cfg)
		if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: err %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

// TestRacksCoreLocality: with the labels in the cores too (the default),
// far links carry what a rack cannot give itself, so fewer bytes enter a
// rack than when only the tracker sees the labels (HandoutOnly); both
// complete.
func TestRacksCoreLocality(t *testing.T) {
	var in [2]float64
	for k, handoutOnly := range []bool{false, true} {
		cfg := racked(1)
		cfg.HandoutOnly = handoutOnly
		r := runChecked(t, cfg, 90)
		in[k] = r.RackReport.RackUplinkInRatioMax
		t.Logf("handout only %v: T_last %.3fs, into a rack max %.2f F (mean %.2f F), policy %s", handoutOnly, r.TLastS,
			in[k], r.RackReport.RackUplinkInRatioMean, r.RackReport.Policy)
	}
	if in[0] >= in[1] {
		t.Errorf("into a rack: %.2f F with the cores' locality, %.2f F with the tracker's alone; want fewer", in[0], in[1])
	}
}

// TestRacksFarPeersBounded: hosts handed many peers of other racks (half
// of every handout) keep at most peers.DefaultMaxFar of them that are not
// seeds while they download (far seeds, such as hosts of other racks that
// completed, come on top). With the labels at the tracker only, the cores
// and managers know of no far peer.
func TestRacksFarPeersBounded(t *testing.T) {
	for _, handoutOnly := range []bool{false, true} {
		cfg := racked(1)
		cfg.HandoutOnly = handoutOnly
		cfg.Policy = tracker.NewDefaultPolicyWith(randv2.New(randv2.NewPCG(1, 1)), nil, tracker.Locality{Outside: 0.5})
		r := runChecked(t, cfg, 90)
		rr := r.RackReport
		t.Logf("handout only %v: far connections peak mean %.1f max %d (not seeds: %d), into a rack max %.2f F, T_last %.3fs",
			handoutOnly, rr.FarConnsPeakMean, rr.FarConnsPeakMax, rr.FarBoundPeak, rr.RackUplinkInRatioMax, r.TLastS)
		switch {
		case handoutOnly && rr.FarConnsPeakMax != 0:
			t.Errorf("labels at the tracker only: %d far connections known, want none", rr.FarConnsPeakMax)
		case !handoutOnly && (rr.FarBoundPeak > peers.DefaultMaxFar || rr.FarBoundPeak < 1):
			t.Errorf("far connections that are not seeds: up to %d, want 1 to %d", rr.FarBoundPeak, peers.DefaultMaxFar)
		}
	}
}

// TestRacksEntryAndUplinks: the racks' piece figures and uplink timeline
// add up. Every rack without the origin takes in each piece at least once
// while none of its receivers has it, so the timeline's bytes for unseen
// pieces come to at least one copy per such rack, and to no more than
// the bytes that entered; a rack takes in a piece no earlier than its
// first verification anywhere and no later than the run's end, and
// spreads it within the run.
func TestRacksEntryAndUplinks(t *testing.T) {
	cfg := racked(2)
	r := runChecked(t, cfg, 90)
	rr := r.RackReport
	if len(rr.Uplinks) == 0 || r.Diagnosis == nil {
		t.Fatalf("no uplink timeline (%d bins)", len(rr.Uplinks))
	}
	binBytes := rr.RackUplinkBytesPerS * r.Diagnosis.BinS * float64(rr.Racks)
	var unseen, busy float64
	for _, b := range rr.Uplinks {
		if b.InUnseen < 0 || b.InUnseen > b.InBusy+1e-9 || b.InBusy > 1+1e-9 {
			t.Fatalf("uplink bin %+v: want 0 <= unseen <= busy <= 1", b)
		}
		unseen += b.InUnseen * binBytes
		busy += b.InBusy * binBytes
	}
	F := float64(cfg.Size)
	in := rr.RackUplinkInRatioMean * F * float64(rr.Racks)
	t.Logf("unseen %.2f F, busy %.2f F, entered %.2f F; entry %+v, last rack %+v, spread %+v",
		unseen/F, busy/F, in/F, rr.EntryS, rr.EntryLastS, rr.SpreadS)
	if want := float64(rr.Racks-1) * F; unseen < want*0.999 || unseen > in*1.001 {
		t.Errorf("bytes into racks for unseen pieces %.3f F, want from %.0f F to the %.3f F that entered", unseen/F, want/F, in/F)
	}
	if math.Abs(busy-in) > 0.01*in {
		t.Errorf("uplink busy time carries %.3f F, want the %.3f F that entered", busy/F, in/F)
	}
	for _, q := range []Quantiles{rr.EntryS, rr.EntryLastS, rr.SpreadS} {
		if q.P50 < 0 || q.P50 > q.P99 || q.P99 > q.Max || q.Max > r.TLastS {
			t.Errorf("quantiles %+v: want 0 <= p50 <= p99 <= max <= T_last %.3f", q, r.TLastS)
		}
	}
	if rr.EntryLastS.Max <= 0 || rr.SpreadS.Max <= 0 {
		t.Errorf("last rack's entry %+v, spread %+v: want positive (3 racks of 30)", rr.EntryLastS, rr.SpreadS)
	}
	// What entered beyond one copy of each piece: every piece entered the
	// two racks without the origin at least once, and no rack took in
	// more first copies than the file.
	dup := (rr.DupHeldRatio + rr.DupFlightRatio) * F * float64(rr.Racks)
	if first := in - dup; first < float64(rr.Racks-1)*F*0.999 || first > float64(rr.Racks)*F*1.001 {
		t.Errorf("first copies into the racks %.3f F (entered %.3f F, duplicates %.3f F), want %d to %d F",
			first/F, in/F, dup/F, rr.Racks-1, rr.Racks)
	}
	if rr.DupHeldStart > rr.DupHeldRatio || rr.DupRatioMax < rr.DupHeldRatio+rr.DupFlightRatio-1e-9 {
		t.Errorf("duplicates %+v: want held-at-start <= held, max >= mean", rr)
	}
}

// TestRackDuplicates: the bytes of a piece beyond its first copy into a
// rack count as duplicates, held when a receiver of the rack had verified
// the piece (at the block's start too, or only by its end), in flight when
// none had.
func TestRackDuplicates(t *testing.T) {
	rk := &racks{count: 1, pieces: 1, firstIn: []int64{0}, holders: []int32{0}, pieceIn: []int64{0},
		dupHeld: []int64{0}, dupFlight: []int64{0}, dupHeldStart: []int64{0}}
	rk.countDup(0, 0, 100, 60, 0) // the first copy, in part
	rk.countDup(0, 0, 100, 60, 0) // 40 of the first copy, then 20 in flight
	if rk.dupFlight[0] != 20 || rk.dupHeld[0] != 0 {
		t.Fatalf("flight %d held %d, want 20 and 0", rk.dupFlight[0], rk.dupHeld[0])
	}
	rk.holders[0], rk.firstIn[0] = 1, 50
	rk.countDup(0, 0, 100, 30, 40) // verified after the block started
	rk.countDup(0, 0, 100, 10, 60) // verified before
	if rk.dupHeld[0] != 40 || rk.dupHeldStart[0] != 10 || rk.dupFlight[0] != 20 || rk.pieceIn[0] != 160 {
		t.Errorf("held %d (at start %d), flight %d, in %d: want 40 (10), 20, 160",
			rk.dupHeld[0], rk.dupHeldStart[0], rk.dupFlight[0], rk.pieceIn[0])
	}
}

// TestRackTail: the late rack's report names the rack of the last
// receiver, lists its last pieces latest first, and each piece's times
// are in order: a far peer had it (seen) before the rack's first copy,
// which came before its last.
func TestRackTail(t *testing.T) {
	r := runChecked(t, racked(2), 90)
	rt := r.RackReport.Tail
	if rt == nil || len(rt.Pieces) == 0 {
		t.Fatalf("no late rack: %+v", rt)
	}
	if rt.FinishS.Max != r.TLastS {
		t.Errorf("late rack %d finished by %.4f s, want T_last %.4f s", rt.Rack, rt.FinishS.Max, r.TLastS)
	}
	for k, p := range rt.Pieces {
		if k > 0 && p.FirstS > rt.Pieces[k-1].FirstS {
			t.Errorf("piece %d entered at %.4f s, after the one listed before it", p.Piece, p.FirstS)
		}
		if p.FirstS <= 0 || p.LastS < p.FirstS || p.AnyS > p.FirstS || p.Owner < 0 {
			t.Errorf("piece %+v: want 0 < any <= first <= last, an owner", p)
		}
		if p.SrcRack >= 0 && (p.SeenS <= 0 || p.SeenS > p.FirstS) {
			t.Errorf("piece %+v entered from rack %d: want a far peer seen with it before", p, p.SrcRack)
		}
	}
}
