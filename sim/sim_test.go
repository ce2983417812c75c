package sim

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	randv2 "math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/tracker"
)

// small is a 5-receiver run on a 3 MB file with a short last piece.
func small(seed int64) Config {
	return Config{Peers: 5, Size: 3<<20 + 12345, Link: 20e6, Latency: time.Millisecond,
		PieceLength: 256 << 10, Seed: seed}
}

// checkReport asserts what every complete run must satisfy.
// runChecked runs cfg and checks that its report is whole for receivers
// complete receivers (checkReport).
func runChecked(t *testing.T, cfg Config, receivers int) *Report {
	t.Helper()
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, r, receivers)
	return r
}

func checkReport(t *testing.T, r *Report, receivers int) {
	t.Helper()
	if r.Incomplete != 0 || len(r.FinishS) != receivers {
		t.Fatalf("%d finish times, %d incomplete; want %d complete", len(r.FinishS), r.Incomplete, receivers)
	}
	for i, f := range r.FinishS {
		if f <= 0 || f > r.TLastS || (i > 0 && f < r.FinishS[i-1]) {
			t.Fatalf("finish times %v not positive, ascending and at most T_last %v", r.FinishS, r.TLastS)
		}
	}
	if !(r.P50S <= r.P90S && r.P90S <= r.TLastS) {
		t.Errorf("p50 %v, p90 %v, T_last %v out of order", r.P50S, r.P90S, r.TLastS)
	}
	if r.Efficiency <= 0 || r.Efficiency > 1+1e-9 {
		t.Errorf("efficiency %v: must be in (0, 1], nothing beats the floor", r.Efficiency)
	}
	if r.TLastS < r.FloorS {
		t.Errorf("T_last %v below the floor %v", r.TLastS, r.FloorS)
	}
	if r.OriginEgressRatio < 1 && !r.OriginLeaves {
		t.Errorf("origin egress %v copies: every byte must leave the origin once", r.OriginEgressRatio)
	}
}

func TestSmallRunCompletes(t *testing.T) {
	cfg := small(1)
	r := runChecked(t, cfg, 5)
	F, u := float64(cfg.Size), cfg.Link
	if want := max(F/u, 5*F/(6*u)); r.FloorS != want {
		t.Errorf("floor %v, want %v", r.FloorS, want)
	}
	if r.SingleSourceS != 5*F/u {
		t.Errorf("single source %v, want %v", r.SingleSourceS, 5*F/u)
	}
	if r.System != "shoal-sim" || r.Pieces != 13 || r.BlockBytes != 16384 {
		t.Errorf("report header %+v", r)
	}
	// Initial seeding: with five receivers pulling from each other the
	// origin should not have to send anything near five copies.
	if r.OriginEgressRatio > 3 {
		t.Errorf("origin sent %.2f copies", r.OriginEgressRatio)
	}
}

func TestDeterministic(t *testing.T) {
	a, err := Run(context.Background(), small(7))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), small(7))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different reports:\n%+v\n%+v", a, b)
	}
	c, err := Run(context.Background(), small(8))
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.FinishS, c.FinishS) {
		t.Errorf("seeds 7 and 8 gave identical finish times %v", a.FinishS)
	}
}

func TestSlowHosts(t *testing.T) {
	cfg := small(2)
	cfg.Peers, cfg.SlowFraction, cfg.SlowLink = 10, 0.3, 4e6
	r := runChecked(t, cfg, 10)
	F := float64(cfg.Size)
	if r.FloorS != F/4e6 {
		t.Errorf("floor %v, want F/slow = %v", r.FloorS, F/4e6)
	}
	// Three hosts download at a fifth of the others' rate: the slowest
	// finishers must take at least F/slow, the others need not.
	if r.FinishS[6] >= F/4e6 || r.FinishS[7] < F/4e6 {
		t.Errorf("finish times %v: want exactly 3 at or after F/slow = %v", r.FinishS, F/4e6)
	}
}

func TestChurn(t *testing.T) {
	cfg := small(3)
	cfg.Peers, cfg.Churn = 10, 0.4
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Churned != 4 {
		t.Errorf("churned %d, want 4", r.Churned)
	}
	checkReport(t, r, 6)
}

func TestOriginLeaves(t *testing.T) {
	cfg := small(4)
	cfg.Peers = 8
	stays, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.OriginLeaves = true
	r := runChecked(t, cfg, 8)
	// The origin leaves once its first copy is out and every piece is at
	// two receivers: it sends at least a copy, and less than when it stays.
	if r.OriginEgressRatio < 1 || r.OriginEgressRatio >= stays.OriginEgressRatio {
		t.Errorf("origin egress %v copies leaving, %v staying: want at least 1 and less than staying",
			r.OriginEgressRatio, stays.OriginEgressRatio)
	}
}

func TestCoarseBlocks(t *testing.T) {
	cfg := small(5)
	cfg.BlocksPerPiece = 2
	r := runChecked(t, cfg, 5)
	if r.BlockBytes != 128<<10 {
		t.Errorf("block bytes %d, want 128 KiB (2 per 256 KiB piece)", r.BlockBytes)
	}
	// The automatic choice coarsens only past the budget.
	cfg.BlocksPerPiece, cfg.MaxBlockEvents = 0, 5*13*4
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.BlockBytes != 64<<10 {
		t.Errorf("block bytes %d, want 64 KiB (4 per piece fit the budget)", r.BlockBytes)
	}
}

// countingPolicy wraps the tracker's policy and counts handouts.
type countingPolicy struct {
	tracker.Policy
	calls atomic.Int64
}

func (p *countingPolicy) Handout(now time.Time, self tracker.Peer, c []tracker.Peer, n int) []tracker.Peer {
	p.calls.Add(1)
	if n != peers.NumWant {
		panic("handout size is not the client's numwant")
	}
	return p.Policy.Handout(now, self, c, n)
}

func TestUsesTrackerPolicy(t *testing.T) {
	cfg := small(6)
	cp := &countingPolicy{Policy: tracker.NewDefaultPolicy(randv2.New(randv2.NewPCG(1, 2)), nil)}
	cfg.Policy = cp
	runChecked(t, cfg, 5)
	if cp.calls.Load() < 6 {
		t.Errorf("policy consulted %d times, want one per host at least", cp.calls.Load())
	}
}

// TestOriginOnlyHandout: receivers only ever learn of the origin, so it
// must carry every byte, and every receiver must still finish.
func TestOriginOnlyHandout(t *testing.T) {
	cfg := small(6)
	cfg.Policy = onlyOrigin{}
	r := runChecked(t, cfg, 5)
	if r.OriginEgressRatio < 5 {
		t.Errorf("origin egress %v: with only the origin handed out it must send 5 copies", r.OriginEgressRatio)
	}
}

// onlyOrigin hands out nothing but the origin (host 0).
type onlyOrigin struct{}

func (onlyOrigin) Handout(_ time.Time, _ tracker.Peer, c []tracker.Peer, n int) []tracker.Peer {
	for _, p := range c {
		if hostOf(p.Addr) == 0 {
			return []tracker.Peer{p}
		}
	}
	return nil
}

func TestIncomplete(t *testing.T) {
	cfg := small(1)
	cfg.MaxTime = 50 * time.Millisecond
	r, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrIncomplete) || r == nil {
		t.Fatalf("err %v, report %v: want ErrIncomplete with a report", err, r)
	}
	if r.Incomplete != 5 || r.Efficiency != 0 {
		t.Errorf("incomplete %d efficiency %v, want 5 and 0", r.Incomplete, r.Efficiency)
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Peers = 0 },
		func(c *Config) { c.Size = 0 },
		func(c *Config) { c.Link = 0 },
		func(c *Config) { c.Churn = 1.5 },
		func(c *Config) { c.SlowFraction = 0.5 },
		func(c *Config) { c.Latency = -1 },
	} {
		cfg := small(1)
		mod(&cfg)
		if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: err %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

func TestWriteSVG(t *testing.T) {
	r, err := Run(context.Background(), small(1))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	paths := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, buf.String())
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "path" {
			paths++
		}
	}
	s := buf.String()
	if paths != 2 || !strings.Contains(s, "floor ") || !strings.Contains(s, "single source") {
		t.Errorf("want axes and CDF paths, a floor line and the single-source mark:\n%s", s)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, small(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}
