package sim

import (
	"context"
	"testing"
	"time"
)

// TestLongRoundTripKeepsLinkFull: one receiver 150 ms (one way) from the
// origin, 10 MB/s links. The steady rate, measured as the extra bytes of a
// longer run over the extra time they took (so connection set-up and the
// pipeline's growth count once), must stay at the link rate: the request
// pipeline covers the 300 ms round trip. With a pipeline of a quarter
// second of the rate plus two it was about 0.5 MB/s.
func TestLongRoundTripKeepsLinkFull(t *testing.T) {
	const link = 10e6
	run := func(size int64) float64 {
		r, err := Run(context.Background(), Config{Peers: 1, Size: size, Link: link,
			Latency: 150 * time.Millisecond, Seed: 1, MaxTime: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		checkReport(t, r, 1)
		return r.TLastS
	}
	short, long := run(32e6), run(96e6)
	rate := 64e6 / (long - short)
	t.Logf("T_last 32 MB %.2f s, 96 MB %.2f s: steady rate %.2f MB/s", short, long, rate/1e6)
	if rate < 0.95*link {
		t.Fatalf("steady rate %.2f MB/s over a 300 ms round trip, want at least 95%% of the %.0f MB/s link", rate/1e6, link/1e6)
	}
}
