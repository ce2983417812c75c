package bench

import (
	"math"
	"strings"
	"testing"
)

// TestParseNetDev: the bridge-side counters of the hosts' veths, received
// bytes as the host's upload and sent bytes as its download; other
// interfaces are ignored.
func TestParseNetDev(t *testing.T) {
	text := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  123456     100    0    0    0     0          0         0   123456     100    0    0    0     0       0          0
sv42.0:    1000      10    0    0    0     0          0         0     2000      20    0    0    0     0       0          0
sv42.1: 5000000    4000    0    0    0     0          0         0      700       7    0    0    0     0       0          0
shb42:        0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
`)
	index := map[string]int{"sv42.0": 0, "sv42.1": 1, "sv42.2": 2}
	up, down := make([]int64, 3), make([]int64, 3)
	if n := parseNetDev(text, index, up, down); n != 2 {
		t.Errorf("found %d interfaces, want 2", n)
	}
	if up[0] != 1000 || down[0] != 2000 || up[1] != 5_000_000 || down[1] != 700 || up[2] != 0 {
		t.Errorf("up %v, down %v", up, down)
	}
}

// TestLinkUse: two receivers on 1,000 B/s links that download at 400 B/s
// for 1 s, then at the full rate until 3 s, then one at 500 B/s until it
// finishes at 4 s (the other finished at 3 s): start-up ends where the
// first 250 ms window reaches 90%, the tail starts after the last one, and
// the idle seconds are each phase's unused link time, the mean over
// receivers, each up to its finish.
func TestLinkUse(t *testing.T) {
	const link = 1000.0
	rate := func(host int, t float64) float64 { // cumulative bytes
		switch {
		case t <= 1:
			return 400 * t
		case t <= 3:
			return 400 + link*(t-1)
		case host == 3:
			return 2400 + 500*(t-3)
		}
		return 2400
	}
	samples := fixtureSamples(link, rate, func(_ int, t float64) float64 { return 0.5 * link * t })
	u := linkUse(samples, []int{2, 3}, []float64{3, 4}, 1, link, link)
	if u == nil {
		t.Fatal("no link use")
	}
	near := func(name string, got, want float64) { t.Helper(); nearly(t, name, got, want) }
	// A window from t reaches 90% once at most 0.042 s of it are before
	// 1 s: the first sample time after 0.958 s is 1 s.
	near("startup end", u.StartupEndS, 1)
	near("tail start", u.TailStartS, 3.0)
	near("down startup", u.DownStartup, 0.4)
	near("down steady", u.DownSteady, 1)
	near("down tail", u.DownTail, 0.5) // only host 3, 3..4 s at half
	near("idle startup", u.IdleStartupS, 0.6)
	near("idle steady", u.IdleSteadyS, 0)
	near("idle tail", u.IdleTailS, 0.5/2) // host 3 alone, half of 1 s, over 2 receivers
	near("origin up", u.OriginUpSteady, 1)
	near("receivers up", u.UpSteady, 0.5)
	if u.Samples != 81 {
		t.Errorf("samples %d", u.Samples)
	}
	if l := u.line(); !strings.Contains(l, "steady") {
		t.Errorf("line %q", l)
	}
	// Never full: all start-up, and the line says so.
	for i := range samples {
		for _, h := range []int{2, 3} {
			samples[i].down[h] /= 2
		}
	}
	if u := linkUse(samples, []int{2, 3}, []float64{3, 4}, 1, link, link); u == nil || u.StartupEndS != 4 || u.TailStartS != 4 || !strings.Contains(u.line(), "never filled") {
		t.Errorf("half-rate run: %+v, %q", u, u.line())
	}
	if linkUse(samples[:1], []int{2, 3}, []float64{3, 4}, 1, link, link) != nil {
		t.Error("link use from one sample")
	}
}

// TestLinkUseStartupUploads: in start-up the origin uploads at its full
// link and two receivers start uploading at the full rate at 0.5 s and
// 1.5 s: their onsets are the first 250 ms windows at half the link, and
// the start-up shares are of the span before the downloads fill.
func TestLinkUseStartupUploads(t *testing.T) {
	const link = 1000.0
	upFrom := map[int]float64{2: 0.5, 3: 1.5}
	// Downloads: 400 B/s to 2 s, then full: start-up ends at 2 s.
	down := func(_ int, t float64) float64 {
		if t > 2 {
			return 800 + link*(t-2)
		}
		return 400 * t
	}
	samples := fixtureSamples(link, down, func(h int, t float64) float64 { return link * max(t-upFrom[h], 0) })
	u := linkUse(samples, []int{2, 3}, []float64{4, 4}, 1, link, link)
	if u == nil {
		t.Fatal("no link use")
	}
	near := func(name string, got, want float64) { t.Helper(); nearly(t, name, got, want) }
	near("startup end", u.StartupEndS, 2)
	near("origin up in start-up", u.OriginUpStartup, 1)
	near("receivers up in start-up", u.UpStartup, (1.5+0.5)/2/2)
	// A window from t holds half the link once at most 0.125 s of it are
	// before the upload starts: 0.4 s for host 2 (the first step at or
	// after 0.375 s), 1.4 s for host 3.
	near("onset p50", u.UpOnsetP50S, 0.4)
	near("onset last", u.UpOnsetMaxS, 1.4)
	if l := u.line(); !strings.Contains(l, "first half full at p50 0.40s, last 1.40s") {
		t.Errorf("line %q", l)
	}
	// A receiver that never uploads counts its finish.
	for i := range samples {
		samples[i].up[3] = 0
	}
	if u := linkUse(samples, []int{2, 3}, []float64{4, 3.5}, 1, link, link); u == nil || u.UpOnsetMaxS != 3.5 {
		t.Errorf("silent receiver: %+v", u)
	}
}

// fixtureSamples is 4 s of link samples every 50 ms for hosts 0-3: host 1,
// the origin, uploads at the full link all along; receivers 2 and 3 have
// moved down(h, t) and up(h, t) bytes by time t.
func fixtureSamples(link float64, down, up func(h int, t float64) float64) []linkSample {
	var samples []linkSample
	for k := 0; k <= 80; k++ {
		tk := float64(k) * 0.05
		s := linkSample{t: tk, up: make([]int64, 4), down: make([]int64, 4)}
		s.up[1] = int64(link * tk)
		for _, h := range []int{2, 3} {
			s.down[h] = int64(down(h, tk))
			s.up[h] = int64(up(h, tk))
		}
		samples = append(samples, s)
	}
	return samples
}

// nearly fails t if got is not within 0.02 of want.
func nearly(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.02 {
		t.Errorf("%s = %.4f, want %.4f", name, got, want)
	}
}
