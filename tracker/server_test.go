package tracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
)

var testHash = id20("torrent-A")

func peerReq(name string, port uint16, left int64) trackerclient.AnnounceRequest {
	return trackerclient.AnnounceRequest{InfoHash: testHash, PeerID: id20(name), Port: port, Left: left, Event: trackerclient.EventStarted}
}

func loop(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
}

func TestAnnounceReturnsOtherPeersCompact(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	first := tt.announce(t, peerReq("a", 1001, 100))
	if len(first.Peers) != 0 || first.Incomplete != 1 || first.Complete != 0 {
		t.Fatalf("first announce: %+v", first)
	}
	if first.Interval != DefaultInterval || first.MinInterval != DefaultInterval/2 {
		t.Fatalf("intervals: %v %v", first.Interval, first.MinInterval)
	}
	tt.announce(t, peerReq("s", 1002, 0))
	got := tt.announce(t, peerReq("c", 1003, 100))
	slices.SortFunc(got.Peers, netip.AddrPort.Compare)
	want := []netip.AddrPort{loop(1001), loop(1002)}
	if !slices.Equal(got.Peers, want) {
		t.Fatalf("peers = %v, want %v", got.Peers, want)
	}
	if got.Complete != 1 || got.Incomplete != 2 {
		t.Fatalf("counts complete=%d incomplete=%d, want 1 and 2", got.Complete, got.Incomplete)
	}
}

func TestAnnounceDictionaryForm(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	tt.announce(t, peerReq("a", 1001, 100))
	hc := &http.Client{Transport: rewriteQuery{replaceParam("compact=1", "compact=0")}}
	got, err := trackerclient.Announce(context.Background(), hc, tt.url, peerReq("b", 1002, 100))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Peers, []netip.AddrPort{loop(1001)}) {
		t.Fatalf("peers = %v", got.Peers)
	}

	// And the raw body is really the dictionary form, with the peer id.
	req := httptest.NewRequest("GET", "/announce?"+strings.Replace(mustQuery(t, peerReq("c", 1003, 5)), "compact=1", "compact=0", 1), nil)
	req.RemoteAddr = "127.0.0.1:5555"
	rec := httptest.NewRecorder()
	tt.srv.ServeHTTP(rec, req)
	body := rec.Body.String()
	if !strings.Contains(body, "5:peersld2:ip9:127.0.0.17:peer id20:") || !strings.Contains(body, "4:porti1001ee") {
		t.Fatalf("body is not dictionary form: %q", body)
	}
}

func TestAnnounceFailureReason(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	hc := &http.Client{Transport: rewriteQuery{replaceParam("port=", "port=x")}}
	_, err := trackerclient.Announce(context.Background(), hc, tt.url, peerReq("a", 1001, 1))
	if !errors.Is(err, trackerclient.ErrTrackerFailure) {
		t.Fatalf("err = %v, want trackerclient.ErrTrackerFailure", err)
	}
	want := `tracker: announce to ` + tt.url + `: failure reason "invalid announce: missing or invalid port"`
	if err.Error() != want {
		t.Fatalf("err = %q\nwant  %q", err, want)
	}
	var fe *trackerclient.FailureError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "port") {
		t.Fatalf("FailureError = %+v", fe)
	}
}

func TestStoppedRemovesPeer(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	tt.announce(t, peerReq("a", 1001, 100))
	stop := peerReq("a", 1001, 100)
	stop.Event = trackerclient.EventStopped
	resp := tt.announce(t, stop)
	if len(resp.Peers) != 0 || resp.Incomplete != 0 {
		t.Fatalf("stopped reply: %+v", resp)
	}
	got := tt.announce(t, peerReq("b", 1002, 100))
	if len(got.Peers) != 0 || got.Incomplete != 1 {
		t.Fatalf("after stop, b sees %+v", got)
	}
	// A stopped from a peer never seen is fine.
	never := peerReq("z", 1009, 1)
	never.Event = trackerclient.EventStopped
	tt.announce(t, never)
}

func TestPeersExpireWithoutReannounce(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{Interval: 10 * time.Second, PeerTTL: 30 * time.Second})
	tt.announce(t, peerReq("old", 1001, 100))
	tt.announce(t, peerReq("kept", 1002, 100))
	tt.clock.Advance(20 * time.Second)
	re := peerReq("kept", 1002, 100)
	re.Event = trackerclient.EventNone
	tt.announce(t, re)
	tt.clock.Advance(15 * time.Second) // old: 35s silent; kept: 15s
	got := tt.announce(t, peerReq("new", 1003, 100))
	if !slices.Equal(got.Peers, []netip.AddrPort{loop(1002)}) || got.Incomplete != 2 {
		t.Fatalf("after expiry: %+v", got)
	}
	if torrents, peers := tt.srv.cfg.Store.(*MemoryStore).Len(); torrents != 1 || peers != 2 {
		t.Fatalf("store holds %d torrents, %d peers; want 1, 2", torrents, peers)
	}
}

func TestNeverReturnsPeerToItself(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	tt.announce(t, peerReq("a", 1001, 100))
	tt.announce(t, peerReq("b", 1002, 100))
	// Same peer id, new port: must not get its old entry back.
	got := tt.announce(t, peerReq("a", 1005, 100))
	if slices.Contains(got.Peers, loop(1001)) || slices.Contains(got.Peers, loop(1005)) {
		t.Fatalf("same id got itself: %v", got.Peers)
	}
	// Same address, new peer id (a restarted client): must not get itself.
	got = tt.announce(t, peerReq("b-restarted", 1002, 100))
	if slices.Contains(got.Peers, loop(1002)) {
		t.Fatalf("same address got itself: %v", got.Peers)
	}
	if !slices.Equal(got.Peers, []netip.AddrPort{loop(1005)}) {
		t.Fatalf("peers = %v, want only a's new address", got.Peers)
	}
}

func TestNumWantBound(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{MaxNumWant: 5})
	for i := range 12 {
		tt.announce(t, peerReq(string(rune('a'+i)), uint16(2000+i), 100))
	}
	cases := []struct {
		numWant, want int
	}{{0, 5}, {3, 3}, {100, 5}}
	for _, c := range cases {
		req := peerReq("asker", 3000, 100)
		req.NumWant = c.numWant
		got := tt.announce(t, req)
		if len(got.Peers) != c.want {
			t.Errorf("numwant %d: got %d peers, want %d", c.numWant, len(got.Peers), c.want)
		}
	}
	// An explicit numwant=0 on the wire means none.
	hc := &http.Client{Transport: rewriteQuery{func(q string) string { return q + "&numwant=0" }}}
	got, err := trackerclient.Announce(context.Background(), hc, tt.url, peerReq("asker", 3000, 100))
	if err != nil || len(got.Peers) != 0 {
		t.Fatalf("numwant=0: %v peers, err %v", got, err)
	}
}

func TestNewPeerGetsSeedersFirst(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{MaxNumWant: 3, HandoutBudget: -1})
	for i := range 10 {
		tt.announce(t, peerReq("leech"+string(rune('a'+i)), uint16(2000+i), 100))
	}
	seeders := []netip.AddrPort{loop(4000), loop(4001)}
	for i, s := range seeders {
		tt.announce(t, peerReq("seed"+string(rune('a'+i)), s.Port(), 0))
	}
	for i := range 20 {
		got := tt.announce(t, peerReq("new"+string(rune('a'+i)), uint16(5000+i), 100))
		if len(got.Peers) != 3 {
			t.Fatalf("got %d peers", len(got.Peers))
		}
		for _, s := range seeders {
			if !slices.Contains(got.Peers, s) {
				t.Fatalf("new peer did not get seeder %v: %v", s, got.Peers)
			}
		}
	}
}

func TestIPParamOnlyFromLoopback(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	serve := func(remote, extra string, req trackerclient.AnnounceRequest) {
		r := httptest.NewRequest("GET", "/announce?"+mustQuery(t, req)+extra, nil)
		r.RemoteAddr = remote
		tt.srv.ServeHTTP(httptest.NewRecorder(), r)
	}
	serve("127.0.0.1:9", "&ip=10.1.2.3", peerReq("proxied", 6001, 1))
	serve("192.0.2.7:9", "&ip=10.9.9.9", peerReq("liar", 6002, 1))
	serve("[2001:db8::1]:9", "", peerReq("v6", 6003, 1))
	peers, _ := tt.srv.cfg.Store.Peers(context.Background(), testHash, tt.clock.Now())
	var addrs []string
	for _, p := range peers {
		addrs = append(addrs, p.Addr.String())
	}
	slices.Sort(addrs)
	want := []string{"10.1.2.3:6001", "192.0.2.7:6002", "[2001:db8::1]:6003"}
	if !slices.Equal(addrs, want) {
		t.Fatalf("stored %v, want %v", addrs, want)
	}
	// Both families come back to the client: IPv4 in peers, IPv6 in peers6.
	got := tt.announce(t, peerReq("me", 7000, 1))
	if len(got.Peers) != 3 || !slices.Contains(got.Peers, netip.MustParseAddrPort("[2001:db8::1]:6003")) {
		t.Fatalf("peers = %v", got.Peers)
	}
}

func TestRoutes(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	cases := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/healthz", 200, "ok\n"},
		{"GET", "/", 200, "<!doctype html>"}, // the fleet page
		{"GET", "/nope", 404, ""},
		{"GET", "/scrape", 200, "d14:failure reason"},
		{"GET", "/a/b/announce", 404, ""},
		{"GET", "/metrics", 200, "# HELP"},
		{"POST", "/announce", 405, ""},
		{"GET", "/announce", 200, "d14:failure reason"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		tt.srv.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != c.status || !strings.HasPrefix(string(body), c.body) {
			t.Errorf("%s %s: %d %q, want %d %q...", c.method, c.path, rec.Code, body, c.status, c.body)
		}
	}
}

func TestSwarmFullStillHandsOut(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{MaxPeersPerTorrent: 2})
	tt.announce(t, peerReq("a", 1001, 1))
	tt.announce(t, peerReq("b", 1002, 1))
	got := tt.announce(t, peerReq("c", 1003, 1))
	if len(got.Peers) != 2 || !strings.Contains(got.WarningMessage, "swarm full") {
		t.Fatalf("full swarm reply: %+v", got)
	}
	if got.Incomplete != 2 {
		t.Fatalf("incomplete = %d, want 2 (c not listed)", got.Incomplete)
	}
}

// mustQuery is the query the client sends for req.
func mustQuery(t *testing.T, req trackerclient.AnnounceRequest) string {
	t.Helper()
	u, err := trackerclient.AnnounceURL("http://x/announce", req)
	if err != nil {
		t.Fatal(err)
	}
	return u[strings.IndexByte(u, '?')+1:]
}

func TestConcurrentAnnounces(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			for i := range 20 {
				req := peerReq(string(rune('a'+g))+string(rune('a'+i)), uint16(1000+g*100+i), int64(i%2))
				if _, e := trackerclient.Announce(context.Background(), tt.hc, tt.url, req); e != nil && err == nil {
					err = e
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	got := tt.announce(t, peerReq("last", 9999, 1))
	if got.Complete+got.Incomplete != 161 {
		t.Fatalf("swarm size %d, want 161", got.Complete+got.Incomplete)
	}
}

// TestHandoutBudgetThroughSamples: with announces served from samples of
// a swarm much larger than the sample, the budget still holds the one
// seeder to its count per interval, and newcomers then get leechers.
func TestHandoutBudgetThroughSamples(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{MaxNumWant: 5, HandoutBudget: 3})
	store := tt.srv.cfg.Store
	for i := range 300 {
		p := Peer{ID: id20(fmt.Sprint("leech", i)), Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 6881), Left: 1}
		if err := store.Put(context.Background(), testHash, p, tt.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	tt.announce(t, peerReq("seed", 4000, 0))
	handed := 0
	for i := range 10 {
		got := tt.announce(t, peerReq(fmt.Sprint("new", i), uint16(5000+i), 100))
		if len(got.Peers) != 5 {
			t.Fatalf("newcomer %d got %d peers", i, len(got.Peers))
		}
		if slices.Contains(got.Peers, loop(4000)) {
			handed++
		}
	}
	if handed != 3 {
		t.Fatalf("the seeder was handed out %d times in one interval, budget 3", handed)
	}
}
