package tracker

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
)

// fakeClock is a settable clock for ServerConfig.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testTracker runs a Server on loopback with a fake clock and a fixed seed.
type testTracker struct {
	srv   *Server
	clock *fakeClock
	url   string
	hc    *http.Client
}

func newTestTracker(t *testing.T, cfg ServerConfig) *testTracker {
	t.Helper()
	clock := newFakeClock()
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := NewServer(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &testTracker{srv: srv, clock: clock, url: hs.URL + "/announce", hc: hs.Client()}
}

func (tt *testTracker) announce(t *testing.T, req trackerclient.AnnounceRequest) *trackerclient.AnnounceResponse {
	t.Helper()
	resp, err := trackerclient.Announce(context.Background(), tt.hc, tt.url, req)
	if err != nil {
		t.Fatalf("announce: %v", err)
	}
	return resp
}

// id20 makes a recognisable 20-byte ID from a short name.
func id20(name string) [20]byte {
	var b [20]byte
	copy(b[:], name)
	for i := len(name); i < 20; i++ {
		b[i] = byte(i) | 0x80 // exercise non-ASCII escaping
	}
	return b
}

// rewriteQuery is a RoundTripper that edits each request's raw query.
type rewriteQuery struct {
	edit func(string) string
}

func (r rewriteQuery) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.RawQuery = r.edit(req.URL.RawQuery)
	return http.DefaultTransport.RoundTrip(req)
}

func replaceParam(old, new string) func(string) string {
	return func(q string) string { return strings.Replace(q, old, new, 1) }
}

// discard is a logger that drops everything.
func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
