package sim

import (
	"context"
	"math"
	"testing"
)

// TestDiagnosisAddsUp checks the trace's accounting against the run: the
// three phases of each breakdown add up to the finish time minus the
// floor, the timeline's useful bytes add up to every receiver's copy, and
// every utilization is a fraction.
func TestDiagnosisAddsUp(t *testing.T) {
	cfg := small(1)
	cfg.Peers = 8
	r := runChecked(t, cfg, 8)
	d := r.Diagnosis
	if d == nil {
		t.Fatal("no diagnosis")
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6 {
			t.Errorf("%s = %.9f, want %.9f", what, got, want)
		}
	}
	lb, mb := d.LastBreakdown, d.MeanBreakdown
	near("last receiver's startup+steady+tail", lb.StartupS+lb.SteadyS+lb.TailS, r.TLastS-r.FloorS)
	mean := 0.0
	for _, f := range r.FinishS {
		mean += f
	}
	mean /= float64(len(r.FinishS))
	near("mean startup+steady+tail", mb.StartupS+mb.SteadyS+mb.TailS, mean-r.FloorS)
	if lb.StartupS <= 0 {
		t.Errorf("start-up %v: nothing arrives before the first round trips", lb.StartupS)
	}
	if !(d.FirstByte.P50 > 0 && d.FirstByte.Max <= d.FirstPiece.Max && d.FirstPiece.Max <= r.TLastS) {
		t.Errorf("first byte %+v, first piece %+v, T_last %v out of order", d.FirstByte, d.FirstPiece, r.TLastS)
	}
	if !(d.OriginFirstCopyS > 0 && d.OriginFirstCopyS <= r.TLastS && d.OriginIdleS >= 0 && d.OriginIdleS < d.OriginFirstCopyS) {
		t.Errorf("origin's first copy at %v with %v idle, T_last %v", d.OriginFirstCopyS, d.OriginIdleS, r.TLastS)
	}
	if !(d.PieceSpread.P50 > 0 && d.PieceSpread.Max <= r.TLastS) {
		t.Errorf("piece spread %+v", d.PieceSpread)
	}
	useful := 0.0
	for _, b := range d.Timeline {
		idle := b.UpIdleNothing + b.UpIdleHeld + b.UpIdleCongested
		for _, f := range []float64{b.OriginUp, b.RecvUp, b.RecvDown, b.UsefulDown, b.Done, b.Active, idle} {
			if f < 0 || f > 1+1e-9 {
				t.Fatalf("bin %+v: a fraction outside [0, 1]", b)
			}
		}
		useful += b.UsefulDown * cfg.Link * float64(cfg.Peers) * d.BinS
	}
	if want := float64(cfg.Peers) * float64(cfg.Size); math.Abs(useful-want) > 1e-6*want {
		t.Errorf("timeline's useful bytes %.0f, want every receiver's copy %.0f", useful, want)
	}
	if n := len(d.Timeline); n < timelineBins || float64(n)*d.BinS < r.TLastS {
		t.Errorf("%d bins of %vs do not cover T_last %v", n, d.BinS, r.TLastS)
	}
}

// TestClasses: with slow receivers the report judges each class against
// its own floor.
func TestClasses(t *testing.T) {
	cfg := small(2)
	cfg.Peers, cfg.SlowFraction, cfg.SlowLink = 10, 0.3, 4e6
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Classes) != 2 {
		t.Fatalf("classes %+v, want fast and slow", r.Classes)
	}
	F := float64(cfg.Size)
	fast, slow := r.Classes[0], r.Classes[1]
	if fast.Name != "fast" || fast.Hosts != 7 || fast.FloorS != F/cfg.Link {
		t.Errorf("fast class %+v, want 7 hosts with floor F/link = %v", fast, F/cfg.Link)
	}
	if slow.Name != "slow" || slow.Hosts != 3 || slow.FloorS != F/4e6 || slow.TLastS != r.TLastS {
		t.Errorf("slow class %+v, want 3 hosts with floor F/slow = %v finishing last at %v", slow, F/4e6, r.TLastS)
	}
	for _, c := range r.Classes {
		if c.Efficiency <= 0 || c.Efficiency > 1 || c.P99Ratio < 1 {
			t.Errorf("class %+v: efficiency must be in (0, 1] and p99 at or above the floor", c)
		}
	}
}

// TestMaxPeers: Config.MaxPeers bounds every host's connections, and the
// run still completes (over a chain of few connections).
func TestMaxPeers(t *testing.T) {
	cfg := small(3)
	cfg.Peers, cfg.MaxPeers = 8, 2
	r := runChecked(t, cfg, 8)
	if r.MaxPeers != 2 {
		t.Errorf("report says max_peers %d, want 2", r.MaxPeers)
	}
	for _, b := range r.Diagnosis.Timeline {
		if b.Conns > 2 {
			t.Fatalf("bin %+v: %v peers per receiver, want at most 2", b, b.Conns)
		}
	}
	for _, st := range r.Diagnosis.Slowest {
		if st.PeersMax > 2 {
			t.Errorf("host %d had %d peers, want at most 2", st.Host, st.PeersMax)
		}
	}
}

// TestFrontierLag: the timeline's lag behind the origin is never more than
// what the origin's upload could have released by the bin's start, never
// below one piece ahead of it (blocks of a piece still leaving count as
// held), and positive once pieces are out: receivers hold a piece only
// after it crossed two links.
func TestFrontierLag(t *testing.T) {
	cfg := small(4)
	cfg.Peers = 8
	r := runChecked(t, cfg, 8)
	piece := float64(cfg.PieceLength) / cfg.Link
	positive := 0
	for _, b := range r.Diagnosis.Timeline {
		if b.LagS > b.StartS+1e-9 || b.LagS < -piece-1e-9 {
			t.Errorf("bin at %vs: lag %vs, want within [-%v, %v]", b.StartS, b.LagS, piece, b.StartS)
		}
		if b.LagS > 0 {
			positive++
		}
	}
	if positive == 0 {
		t.Error("no bin shows the receivers behind the origin")
	}
}
