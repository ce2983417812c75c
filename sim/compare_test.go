package sim

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseSystem(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind string
		k    int
		ok   bool
	}{
		{"shoal", SystemShoal, 1, true},
		{"single", SystemSingle, 1, true},
		{"replicated:10", SystemReplicated, 10, true},
		{"sharded:3", SystemSharded, 3, true},
		{"sharded", "", 0, false},
		{"replicated:0", "", 0, false},
		{"replicated:x", "", 0, false},
		{"single:2", "", 0, false},
		{"http", "", 0, false},
	} {
		sys, err := ParseSystem(tc.name)
		if (err == nil) != tc.ok || (tc.ok && (sys.Kind != tc.kind || sys.K != tc.k || sys.Name != tc.name)) {
			t.Errorf("ParseSystem(%q) = %+v, %v", tc.name, sys, err)
		}
		if err != nil && !errors.Is(err, ErrUnknownSystem) {
			t.Errorf("ParseSystem(%q): %v is not ErrUnknownSystem", tc.name, err)
		}
	}
}

// TestOrigins: the client-server systems on the swarm's links take what
// their origins' uploads allow: single N·F/u_s, replicated and sharded
// N·F/(K·u_s), plus a round trip and a block; every origin byte is a
// receiver's, N copies in all.
func TestOrigins(t *testing.T) {
	cfg := Config{Peers: 12, Size: 3<<20 + 777, Link: 20e6, Latency: time.Millisecond, PieceLength: 256 << 10, Seed: 1}
	F, us, N := float64(cfg.Size), cfg.Link, float64(cfg.Peers)
	for _, tc := range []struct {
		name string
		want float64 // T_last, s
	}{
		{"single", N * F / us},
		{"replicated:4", N / 4 * F / us},
		{"replicated:5", 3 * F / us}, // 12 over 5 origins: some serve 3
		{"sharded:4", N * F / (4 * us)},
	} {
		sys, err := ParseSystem(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := RunSystem(context.Background(), cfg, sys)
		if err != nil {
			t.Fatal(err)
		}
		if r.System != tc.name || len(r.FinishS) != cfg.Peers || r.Incomplete != 0 {
			t.Fatalf("%s: report %+v", tc.name, r)
		}
		if slack := r.TLastS - tc.want; slack < 0 || slack > 0.01 || r.P99S > r.TLastS || r.P99S < r.P50S {
			t.Errorf("%s: T_last %.4fs, want %.4fs plus a round trip and a block", tc.name, r.TLastS, tc.want)
		}
		if math.Abs(r.OriginEgressRatio-N) > 1e-9 {
			t.Errorf("%s: origin egress %v F, want %v", tc.name, r.OriginEgressRatio, N)
		}
		if r.FloorS != max(F/us, N*F/(us+N*us)) || math.Abs(r.Efficiency-r.FloorS/r.TLastS) > 1e-12 {
			t.Errorf("%s: floor %v efficiency %v: want the job's floor", tc.name, r.FloorS, r.Efficiency)
		}
	}
	// A receiver slower than its share of the origin is held back by its
	// own link: 2 receivers from one origin, one on a quarter link.
	cfg.Peers, cfg.SlowFraction, cfg.SlowLink = 2, 0.5, 5e6
	r, err := RunSystem(context.Background(), cfg, System{Name: "single", Kind: SystemSingle, K: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.FinishS[0] < 2*F/us || r.TLastS < F/5e6 || r.TLastS > F/5e6+0.01 {
		t.Errorf("finish %v: want the fast one after 2F/u_s (sharing the origin) and the slow one at F/slow = %v", r.FinishS, F/5e6)
	}
}

// TestOriginsThroughRacks: receivers behind a narrow uplink are held to
// it, and their rack's ingress counts every copy.
func TestOriginsThroughRacks(t *testing.T) {
	cfg := Config{Peers: 8, Size: 1 << 20, Link: 20e6, Latency: time.Millisecond, PieceLength: 256 << 10, Seed: 1,
		RackSize: 4, RackUplink: 10e6}
	r, err := RunSystem(context.Background(), cfg, System{Name: "single", Kind: SystemSingle, K: 1})
	if err != nil {
		t.Fatal(err)
	}
	F := float64(cfg.Size)
	// Rack 1 takes in 4 copies at 10 MB/s; rack 0, with the origin, none.
	if rr := r.RackReport; rr == nil || rr.RackUplinkInBytesMax != 4*cfg.Size || rr.RackUplinkInRatioMean != 2 {
		t.Fatalf("rack report %+v", rr)
	}
	if want := 8 * F / 20e6; r.TLastS < want || r.TLastS < 4*F/10e6 {
		t.Errorf("T_last %v, want at least the origin's %v and rack 1's uplink %v", r.TLastS, want, 4*F/10e6)
	}
}

func TestWriteCompareSVG(t *testing.T) {
	cfg := small(1)
	var reps []*Report
	for _, name := range []string{"shoal", "single", "replicated:2", "sharded:2"} {
		sys, _ := ParseSystem(name)
		r, err := RunSystem(context.Background(), cfg, sys)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	var buf bytes.Buffer
	if err := WriteCompareSVG(&buf, reps); err != nil {
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
			t.Fatalf("not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "path" {
			paths++
		}
	}
	s := buf.String()
	if paths != 5 || !strings.Contains(s, "sharded:2: T_last") || !strings.Contains(s, "log scale") {
		t.Errorf("want axes and four curves with their legend, got %d paths:\n%s", paths, s)
	}
}
