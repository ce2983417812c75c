package bench

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFloor(t *testing.T) {
	for _, tc := range []struct {
		name        string
		f, us, d, u float64
		n           int
		want        float64
	}{
		{"equal hosts: about F/u", 64e6, 20e6, 20e6, 20e6, 30, 3.2},
		{"slow origin dominates", 100, 1, 100, 100, 10, 100},
		{"slow download dominates", 100, 100, 2, 100, 10, 50},
		{"swarm upload dominates", 100, 10, 1000, 1, 1000, 100 * 1000 / 1010.0},
	} {
		if got := Floor(tc.f, tc.us, tc.d, tc.u, tc.n); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: Floor = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := SingleSource(64e6, 20e6, 30); got != 96 {
		t.Errorf("SingleSource = %v, want 96", got)
	}
}

func TestPercentileAndFill(t *testing.T) {
	r := Result{Peers: 10, SizeBytes: 1e8, FloorS: 5, FinishS: []float64{10, 1, 2, 3, 4, 5, 6, 7, 8, 9}}
	r.fill(3e8, 20)
	if r.TLastS != 10 || r.P50S != 5 || r.P90S != 9 {
		t.Errorf("T_last %v p50 %v p90 %v, want 10 5 9", r.TLastS, r.P50S, r.P90S)
	}
	if r.Efficiency != 0.5 || r.OriginEgressRatio != 3 || r.CPUSPerGB != 20 {
		t.Errorf("efficiency %v egress %v cpu/GB %v, want 0.5 3 20", r.Efficiency, r.OriginEgressRatio, r.CPUSPerGB)
	}
	if r.FinishS[0] != 10 {
		t.Error("fill reordered the finish times, which are per receiver")
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestMediansInterleavedRuns(t *testing.T) {
	rs := []Result{
		{System: Shoal, Run: 1, TLastS: 5, Efficiency: 0.8, FinishS: []float64{5}},
		{System: HTTP, Run: 1, TLastS: 90, Efficiency: 0.1},
		{System: Shoal, Run: 2, TLastS: 4, Efficiency: 1.0, FinishS: []float64{4}},
		{System: HTTP, Run: 2, TLastS: 96, Efficiency: 0.2},
		{System: Shoal, Run: 3, TLastS: 9, Efficiency: 0.4, FinishS: []float64{9}},
	}
	ms := Medians(rs)
	if len(ms) != 2 || ms[0].System != Shoal || ms[1].System != HTTP {
		t.Fatalf("got %+v, want shoal then http", ms)
	}
	if ms[0].Runs != 3 || ms[0].TLastS != 5 || ms[0].Efficiency != 0.8 || ms[0].Typical.Run != 1 {
		t.Errorf("shoal median %+v, want 3 runs, T_last 5, efficiency 0.8 from run 1", ms[0])
	}
	if ms[1].TLastS != 93 || math.Abs(ms[1].Efficiency-0.15) > 1e-12 {
		t.Errorf("http median T_last %v efficiency %v, want 93 and 0.15", ms[1].TLastS, ms[1].Efficiency)
	}
}

func TestFileServerAndFetch(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	sum, err := Generate(src, 300_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := NewFileServer(src, 0)
	served := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	go func() { served <- srv.Serve(sctx, ln) }()
	url := "http://" + ln.Addr().String() + "/x"
	for i, limit := range []float64{0, 3e6} {
		out := filepath.Join(dir, "out"+strconv.Itoa(i))
		n, err := Fetch(ctx, url, out, limit)
		if err != nil || n != 300_000 {
			t.Fatalf("fetch with limit %v: %d bytes, %v", limit, n, err)
		}
		if err := Verify(out, sum); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Sent(); got != 600_000 {
		t.Errorf("server counted %d bytes sent, want 600000", got)
	}
	stop()
	if err := <-served; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

func TestFetchRejectsShortBody(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, "only this")
	})}
	go hs.Serve(ln)
	defer hs.Close()
	out := filepath.Join(t.TempDir(), "out")
	_, err = Fetch(context.Background(), "http://"+ln.Addr().String()+"/", out, 0)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: got %v, want ErrUnexpectedEOF", err)
	}
	_, err = Fetch(context.Background(), "http://"+ln.Addr().String()+"/missing\x7f", out, 0)
	if err == nil {
		t.Error("bad URL accepted")
	}
}

func TestFileServerLimitsRate(t *testing.T) {
	// 256 kB at 1 MB/s cannot arrive in much less than 0.25 s (minus one
	// burst); this is the property the HTTP comparator relies on.
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if _, err := Generate(src, 256_000, 4); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go NewFileServer(src, 1e6).Serve(ctx, ln)
	start := time.Now()
	if _, err := Fetch(ctx, "http://"+ln.Addr().String()+"/", filepath.Join(dir, "out"), 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("256 kB at 1 MB/s took %v, want at least 0.2s", d)
	}
}

func TestWriteSVG(t *testing.T) {
	rs := []Result{
		{System: Shoal, Peers: 3, SizeBytes: 4e6, LinkBytesPerS: 4e6, OriginBytesPerS: 4e6, FloorS: 1, SingleSourceS: 3, TLastS: 1.4, FinishS: []float64{1.2, 1.4, 1.3}},
		{System: HTTP, Peers: 3, SizeBytes: 4e6, LinkBytesPerS: 4e6, OriginBytesPerS: 4e6, FloorS: 1, SingleSourceS: 3, TLastS: 3, FinishS: []float64{3, 3, 3}},
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, rs); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	paths := 0
	for {
		tok, err := dec.Token()
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
	if paths != 2 {
		t.Errorf("%d curves, want 2", paths)
	}
	for _, want := range []string{"floor 1.0s", "single source 3.0s", ">shoal<", ">http<"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if err := WriteSVG(io.Discard, nil); err == nil {
		t.Error("empty results drew a chart")
	}
}
