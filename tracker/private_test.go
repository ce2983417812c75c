package tracker

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
)

func TestHTTPPrivateKeys(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{Keys: NewKeys(map[string]string{"tok1": "blue", "tok2": "red"})})
	base := strings.TrimSuffix(tt.url, "/announce")
	ctx := context.Background()
	must := func(url string, req trackerclient.AnnounceRequest) *trackerclient.AnnounceResponse {
		t.Helper()
		r, err := trackerclient.Announce(ctx, tt.hc, url, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	must(base+"/tok1/announce", peerReq("a", 1001, 0))
	if r := must(base+"/announce?key=tok1", peerReq("b", 1002, 5)); len(r.Peers) != 1 {
		t.Fatalf("key parameter: %+v", r)
	}
	if r := must(base+"/tok2/announce", peerReq("c", 1003, 5)); len(r.Peers) != 0 {
		t.Fatalf("tenant red saw blue's swarm: %+v", r)
	}
	for url, reason := range map[string]string{
		base + "/nope/announce": "unknown announce key",
		base + "/announce":      "announce key required",
	} {
		_, err := trackerclient.Announce(ctx, tt.hc, url, peerReq("d", 1004, 5))
		var fe *trackerclient.FailureError
		if !errors.As(err, &fe) || !strings.Contains(fe.Reason, reason) {
			t.Errorf("%s: %v, want failure %q", url, err, reason)
		}
	}
	sc, err := trackerclient.Scrape(ctx, tt.hc, base+"/tok1/announce", [][20]byte{testHash})
	if err != nil || sc[testHash] != (SwarmStats{Complete: 1, Incomplete: 1}) {
		t.Fatalf("scrape blue: %+v %v", sc, err)
	}
	if _, err := trackerclient.Scrape(ctx, tt.hc, base+"/nope/announce", [][20]byte{testHash}); !errors.Is(err, trackerclient.ErrTrackerFailure) {
		t.Fatalf("scrape with unknown key: %v", err)
	}
}

func TestParseKeys(t *testing.T) {
	k, err := ParseKeys(strings.NewReader("# fleet keys\n\nabc blue\nsolo\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ten, err := k.Tenant("abc"); err != nil || ten != "blue" {
		t.Fatalf("abc: %q %v", ten, err)
	}
	if ten, err := k.Tenant("solo"); err != nil || ten != "solo" {
		t.Fatalf("solo: %q %v", ten, err)
	}
	if _, err := k.Tenant("x"); !errors.Is(err, ErrUnknownKey) {
		t.Fatal(err)
	}
	if _, err := ParseKeys(strings.NewReader("a b c\n")); err == nil {
		t.Fatal("three fields accepted")
	}
}

func TestSplitTrackerPath(t *testing.T) {
	for path, want := range map[string][2]string{
		"/announce":        {"announce", ""},
		"/scrape":          {"scrape", ""},
		"/k%2Fx/announce":  {"announce", "k/x"},
		"/a/b/announce":    {"", ""},
		"/announce/x":      {"", ""},
		"/announcement":    {"", ""},
		"/%zz/announce":    {"", ""},
		"//announce":       {"announce", ""},
		"/tok/scrape":      {"scrape", "tok"},
		"/metrics":         {"", ""},
		"":                 {"", ""},
		"/tok/announce.sh": {"", ""},
	} {
		e, k := splitTrackerPath(path)
		if e != want[0] || k != want[1] {
			t.Errorf("%q: (%q, %q), want %q", path, e, k, want)
		}
	}
}

func TestSourceLimiter(t *testing.T) {
	l := NewSourceLimiter(2, 3, 2)
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	for i := range 3 {
		if !l.Allow(a, t0) {
			t.Fatalf("burst request %d refused", i)
		}
	}
	if l.Allow(a, t0) {
		t.Fatal("4th request in a burst of 3 allowed")
	}
	if !l.Allow(b, t0) {
		t.Fatal("another source was limited")
	}
	if !l.Allow(a, t0.Add(500*time.Millisecond)) || l.Allow(a, t0.Add(500*time.Millisecond)) {
		t.Fatal("refill at 2/s: want exactly one more after 0.5s")
	}
	// A third source overflows maxSources=2: buckets are forgotten and a
	// starts afresh (fail open).
	l.Allow(c, t0)
	if !l.Allow(a, t0.Add(500*time.Millisecond)) {
		t.Fatal("memory bound did not reset buckets")
	}
	var nilLimiter *SourceLimiter
	if !nilLimiter.Allow(a, t0) {
		t.Fatal("nil limiter refused")
	}
}

func TestHTTPRateLimit(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{RateLimit: NewSourceLimiter(1, 2, 0)})
	ctx := context.Background()
	for i := range 2 {
		if _, err := trackerclient.Announce(ctx, tt.hc, tt.url, peerReq("a", 1001, 1)); err != nil {
			t.Fatalf("announce %d: %v", i, err)
		}
	}
	_, err := trackerclient.Announce(ctx, tt.hc, tt.url, peerReq("a", 1001, 1))
	if !errors.Is(err, trackerclient.ErrTrackerFailure) || !strings.Contains(err.Error(), "rate limited") {
		t.Fatalf("third announce in a second: %v", err)
	}
	tt.clock.Advance(time.Second)
	if _, err := trackerclient.Announce(ctx, tt.hc, tt.url, peerReq("a", 1001, 1)); err != nil {
		t.Fatalf("after refill: %v", err)
	}
}

func TestHTTPScrapeGoldenAndDownloaded(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	tt.announce(t, peerReq("a", 1001, 5))
	done := peerReq("a", 1001, 0)
	done.Event = trackerclient.EventCompleted
	tt.announce(t, done)
	tt.announce(t, peerReq("b", 1002, 5))
	rec := httptest.NewRecorder()
	tt.srv.ServeHTTP(rec, httptest.NewRequest("GET", "/scrape?info_hash="+url.QueryEscape(string(testHash[:])), nil))
	want := "d5:filesd20:" + string(testHash[:]) + "d8:completei1e10:downloadedi1e10:incompletei1eeee"
	if rec.Body.String() != want {
		t.Fatalf("scrape\n got %q\nwant %q", rec.Body.String(), want)
	}
	rec = httptest.NewRecorder()
	tt.srv.ServeHTTP(rec, httptest.NewRequest("GET", "/scrape?info_hash=short", nil))
	if !strings.HasPrefix(rec.Body.String(), "d14:failure reason") {
		t.Fatalf("bad scrape: %q", rec.Body.String())
	}
}

func TestMetrics(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	tt.announce(t, peerReq("a", 1001, 0))
	tt.announce(t, peerReq("b", 1002, 5))
	stopped := peerReq("never-started", 1003, 5)
	stopped.Event = trackerclient.EventStopped
	tt.announce(t, stopped)
	tt.srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/announce?info_hash=x", nil))
	rec := httptest.NewRecorder()
	tt.srv.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, line := range []string{
		`shoal_tracker_announces_total{event="started",protocol="http"} 2`,
		`shoal_tracker_announces_total{event="stopped",protocol="http"} 1`,
		`shoal_tracker_errors_total{reason="bad_request"} 1`,
		`shoal_tracker_handout_peers_count 3`,
		"shoal_tracker_torrents 1",
		"shoal_tracker_peers 2",
		"shoal_tracker_seeders 1",
	} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}
	if t.Failed() {
		t.Log(string(body))
	}
}
