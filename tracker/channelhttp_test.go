package tracker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/metainfo"
)

const testPublishKey = "s3cret-publish"

// channelTracker is a test tracker with publish key testPublishKey and
// a channel client on it.
func channelTracker(t *testing.T, cfg ServerConfig) (*testTracker, *channel.Client) {
	t.Helper()
	if cfg.Channels.PublishKeys == nil {
		cfg.Channels.PublishKeys = NewPublishKeys(map[string]string{testPublishKey: ""})
	}
	tt := newTestTracker(t, cfg)
	c, err := channel.NewClient(tt.url, tt.hc)
	if err != nil {
		t.Fatal(err)
	}
	return tt, c
}

func hashOf(info []byte) metainfo.InfoHash { return sha1.Sum(info) }

func TestChannelPublishAndFetch(t *testing.T) {
	tt, c := channelTracker(t, ServerConfig{})
	ctx := context.Background()
	info := infoDict("build-1.tar", 40000)
	rel, err := c.Publish(ctx, "build", testPublishKey, info, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := channel.Release{Channel: "build", Seq: 1, InfoHash: hashOf(info).String(), Name: "build-1.tar", Size: 40000,
		PieceLength: 16384, PublishedAt: tt.clock.Now().UTC()}
	if rel != want {
		t.Fatalf("published %+v\nwant      %+v", rel, want)
	}
	// The same again is the same release, with 200.
	tt.clock.Advance(time.Minute)
	if again, err := c.Publish(ctx, "build", testPublishKey, info, 0); err != nil || again != want {
		t.Fatalf("publish again: %+v %v", again, err)
	}
	status, _ := rawPublish(t, tt, "build", testPublishKey, info, "?seq=1")
	if status != http.StatusOK {
		t.Fatalf("re-register with seq: %d", status)
	}
	info2 := infoDict("build-2.tar", 100)
	status, _ = rawPublish(t, tt, "build", testPublishKey, info2, "")
	if status != http.StatusCreated {
		t.Fatalf("second release: %d", status)
	}
	if _, err := c.Publish(ctx, "build", testPublishKey, info, 2); !errors.Is(err, channel.ErrConflict) || !strings.Contains(err.Error(), "seq 2 of build is info hash") {
		t.Fatalf("seq 2 with another info: %v", err)
	}
	rels, err := c.Releases(ctx, "build")
	if err != nil || len(rels) != 2 || rels[0] != want || rels[1].Seq != 2 || rels[1].Name != "build-2.tar" {
		t.Fatalf("releases: %+v %v", rels, err)
	}
	got, err := c.Info(ctx, "build", 2, hashOf(info2))
	if err != nil || !bytes.Equal(got, info2) {
		t.Fatalf("info: %v", err)
	}
	if _, err := c.Info(ctx, "build", 9, hashOf(info2)); !errors.Is(err, channel.ErrUnknownChannel) || !strings.Contains(err.Error(), "keeps no release 9") {
		t.Fatalf("info of a release not kept: %v", err)
	}
	sums, err := c.Channels(ctx)
	if err != nil || len(sums) != 1 || sums[0].Channel != "build" || sums[0].Releases != 2 || sums[0].Latest.Seq != 2 {
		t.Fatalf("channels: %+v %v", sums, err)
	}
	// One release by path, as JSON.
	resp := get(t, tt, "/v1/channels/build/releases/1")
	var one channel.Release
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&one) != nil || one != want {
		t.Fatalf("GET release 1: %d %+v", resp.StatusCode, one)
	}
	// The publishes are counted by result.
	b, _ := io.ReadAll(get(t, tt, "/metrics").Body)
	for _, line := range []string{
		`shoal_tracker_channel_publishes_total{result="created"} 2`,
		`shoal_tracker_channel_publishes_total{result="existing"} 2`,
		`shoal_tracker_channel_publishes_total{result="refused"} 1`,
		`shoal_tracker_channel_waiters 0`,
	} {
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("metrics lack %s", line)
		}
	}
}

func rawPublish(t *testing.T, tt *testTracker, ch, key string, body []byte, query string) (int, string) {
	t.Helper()
	base := strings.TrimSuffix(tt.url, "/announce")
	req, _ := http.NewRequest("POST", base+"/v1/channels/"+ch+"/releases"+query, bytes.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := tt.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, tt *testTracker, path string) *http.Response {
	t.Helper()
	resp, err := tt.hc.Get(strings.TrimSuffix(tt.url, "/announce") + path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestPublishRefusals: each bad publish is a clear error with its status,
// and nothing is registered.
func TestPublishRefusals(t *testing.T) {
	info := infoDict("x", 100)
	cases := []struct {
		name   string
		cfg    ServerConfig
		key    string
		body   []byte
		query  string
		status int
		says   string
	}{
		{name: "no publish key configured", cfg: ServerConfig{Channels: ChannelConfig{PublishKeys: NewPublishKeys(nil)}}, key: "anything", body: info, status: 403, says: "has no publish key"},
		{name: "no key", key: "", body: info, status: 403, says: "publish key required"},
		{name: "wrong key", key: "guess", body: info, status: 403, says: "not a publish key"},
		{name: "garbage body", key: testPublishKey, body: []byte("this is not bencode"), status: 400, says: "cannot parse the info dictionary: metainfo: invalid"},
		{name: "a whole torrent file", key: testPublishKey, body: []byte("d8:announce3:url4:info" + string(info) + "e"), status: 400, says: "info has no name"},
		{name: "unsafe name", key: testPublishKey, body: infoDict("..", 100), status: 400, says: "unsafe"},
		{name: "oversized", key: testPublishKey, body: make([]byte, channel.MaxInfoSize+1), status: 413, says: "limit"},
		{name: "bad seq", key: testPublishKey, body: info, query: "?seq=zero", status: 400, says: "seq="},
		{name: "bad channel", key: testPublishKey, body: info, query: "", status: 400, says: "channel name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tt, cl := channelTracker(t, c.cfg)
			ch := "build"
			if c.name == "bad channel" {
				ch = ".hidden"
			}
			status, body := rawPublish(t, tt, ch, c.key, c.body, c.query)
			var e channel.ErrorBody
			if status != c.status || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, c.says) {
				t.Fatalf("got %d %s, want %d saying %q", status, body, c.status, c.says)
			}
			if _, err := cl.Releases(context.Background(), "build"); !errors.Is(err, channel.ErrUnknownChannel) {
				t.Fatalf("after a refused publish: %v", err)
			}
		})
	}
}

// TestPrivateTrackerChannels: an announce key reads its tenant's channels
// but does not publish; a publish key of the keys file publishes into its
// tenant; reads need a key; tenants never see each other's channels.
func TestPrivateTrackerChannels(t *testing.T) {
	keys, publish, err := ParseKeyFile(strings.NewReader("reader blue\npub blue publish\nother red\n"))
	if err != nil {
		t.Fatal(err)
	}
	tt, _ := channelTracker(t, ServerConfig{Keys: keys, Channels: ChannelConfig{PublishKeys: NewPublishKeys(publish)}})
	base := strings.TrimSuffix(tt.url, "/announce")
	client := func(u string) *channel.Client {
		c, err := channel.NewClient(u, tt.hc)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	reader, other, anon := client(base+"/reader/announce"), client(base+"/other/announce"), client(base+"/announce")
	info := infoDict("secret.bin", 100)
	if _, err := reader.Publish(ctx, "build", "reader", info, 0); !errors.Is(err, channel.ErrForbidden) || !strings.Contains(err.Error(), "not a publish key") {
		t.Fatalf("announce key publishing: %v", err)
	}
	if _, err := reader.Publish(ctx, "build", "pub", info, 0); err != nil {
		t.Fatalf("publish key: %v", err)
	}
	if rels, err := reader.Releases(ctx, "build"); err != nil || len(rels) != 1 {
		t.Fatalf("reader: %+v %v", rels, err)
	}
	if _, err := other.Releases(ctx, "build"); !errors.Is(err, channel.ErrUnknownChannel) {
		t.Fatalf("another tenant: %v", err)
	}
	if _, err := anon.Releases(ctx, "build"); !errors.Is(err, channel.ErrForbidden) || !strings.Contains(err.Error(), "announce key required") {
		t.Fatalf("no key: %v", err)
	}
	if err := anon.Report(ctx, "build", channel.HostReport{Host: "h"}); !errors.Is(err, channel.ErrForbidden) {
		t.Fatalf("report without a key: %v", err)
	}
	if _, err := reader.Info(ctx, "build", 1, hashOf(info)); err != nil {
		t.Fatalf("info with the key: %v", err)
	}
	// The fleet data: the tenant's channels with its key, a 403 without.
	var snap FleetSnapshot
	if resp := get(t, tt, "/v1/fleet?key=reader"); resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&snap) != nil || len(snap.Channels) != 1 {
		t.Fatalf("fleet with the key: %d %+v", resp.StatusCode, snap)
	}
	if resp := get(t, tt, "/v1/fleet?key=other"); json.NewDecoder(resp.Body).Decode(&snap) != nil || len(snap.Channels) != 0 {
		t.Fatalf("fleet of another tenant: %+v", snap)
	}
	if resp := get(t, tt, "/v1/fleet/events"); resp.StatusCode != 403 {
		t.Fatalf("fleet events without a key: %d", resp.StatusCode)
	}
}

func TestNextLongPoll(t *testing.T) {
	tt, c := channelTracker(t, ServerConfig{})
	waiting := hookWaiting(tt)
	ctx := context.Background()
	if _, _, err := c.Next(ctx, "build", 0); !errors.Is(err, channel.ErrUnknownChannel) {
		t.Fatalf("next on an unknown channel: %v", err)
	}
	// A host subscribed (reporting) before anything is published: reads
	// still get a 404 (saying hosts wait), never an empty success, but a
	// long poll waits for the first release and ends when it is published.
	if err := c.Report(ctx, "build", channel.HostReport{Host: "h1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Releases(ctx, "build"); !errors.Is(err, channel.ErrUnknownChannel) || !strings.Contains(err.Error(), "nothing published yet; 1 hosts subscribed") {
		t.Fatalf("releases of a channel nothing was published on: %v", err)
	}
	type result struct {
		rel channel.Release
		ok  bool
		err error
	}
	first := make(chan result, 1)
	go func() {
		r, ok, err := c.Next(ctx, "build", 0)
		first <- result{r, ok, err}
	}()
	awaitHook(t, waiting)
	if _, err := c.Publish(ctx, "build", testPublishKey, infoDict("b1", 100), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-first:
		if r.err != nil || !r.ok || r.rel.Seq != 1 {
			t.Fatalf("next before the first release: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll before the first release did not end on its publish")
	}
	// Once there is a release, a long poll for a newer one waits, and
	// ends when it is published.
	res := make(chan result, 1)
	go func() {
		r, ok, err := c.Next(ctx, "build", 1)
		res <- result{r, ok, err}
	}()
	awaitHook(t, waiting)
	info := infoDict("b2", 100)
	start := time.Now()
	if _, err := c.Publish(ctx, "build", testPublishKey, info, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		if r.err != nil || !r.ok || r.rel.Seq != 2 || r.rel.InfoHash != hashOf(info).String() {
			t.Fatalf("next: %+v", r)
		}
		t.Logf("long poll answered %v after the publish", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not end on the publish")
	}
	// Already newer: the newest at once. Nothing newer: 204 after the
	// wait asked.
	if r, ok, err := c.Next(ctx, "build", 0); err != nil || !ok || r.Seq != 2 {
		t.Fatalf("next after=0: %+v %v %v", r, ok, err)
	}
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if _, ok, err := c.Next(short, "build", 2); err != nil || ok {
		t.Fatalf("next with nothing newer: ok=%v err=%v", ok, err)
	}
	if n := tt.srv.channels.waiters.Load(); n != 0 {
		t.Fatalf("%d waiters left", n)
	}
	if n := tt.srv.channels.cfg.Store.(*MemoryChannelStore).notify.waiting(); n != 0 {
		t.Fatalf("the notifier holds %d channels with nobody waiting", n)
	}
}

// TestNextWaitersBounded: long polls past MaxWaiters are refused at once
// with 503, and the bound frees as polls end.
func TestNextWaitersBounded(t *testing.T) {
	tt, c := channelTracker(t, ServerConfig{Channels: ChannelConfig{MaxWaiters: 2}})
	waiting := hookWaiting(tt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := c.Publish(ctx, "build", testPublishKey, infoDict("b1", 100), 0); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, _, err := c.Next(ctx, "build", 1); errs <- err }()
	}
	awaitHook(t, waiting)
	awaitHook(t, waiting)
	resp := get(t, tt, "/v1/channels/build/next?after=1")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third long poll: %d", resp.StatusCode)
	}
	cancel()
	for range 2 {
		<-errs
	}
}

// TestNumberingSurvivesRestart: a tracker on the memory store restarts
// and forgets everything; the hosts' reports keep it from reusing their
// seqs, and the origin re-registers its release idempotently.
func TestNumberingSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	_, c := channelTracker(t, ServerConfig{})
	infos := [][]byte{infoDict("r1", 10), infoDict("r2", 20), infoDict("r3", 30)}
	for _, info := range infos[:2] {
		if _, err := c.Publish(ctx, "build", testPublishKey, info, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The restart: a fresh server, nothing kept.
	_, c2 := channelTracker(t, ServerConfig{})
	if err := c2.Report(ctx, "build", channel.HostReport{Host: "h1", Current: 2, Have: []uint64{1, 2}}); err != nil {
		t.Fatal(err)
	}
	rel, err := c2.Publish(ctx, "build", testPublishKey, infos[2], 0)
	if err != nil || rel.Seq != 3 {
		t.Fatalf("first publish after the restart: %+v %v", rel, err)
	}
	// The origin re-registers release 2: created again, then idempotent.
	for range 2 {
		if rel, err := c2.Publish(ctx, "build", testPublishKey, infos[1], 2); err != nil || rel.Seq != 2 {
			t.Fatalf("re-register 2: %+v %v", rel, err)
		}
	}
	if rels, err := c2.Releases(ctx, "build"); err != nil || len(rels) != 2 || rels[0].Seq != 2 || rels[1].Seq != 3 {
		t.Fatalf("releases after the restart: %+v %v", rels, err)
	}
}

func TestReportRefusals(t *testing.T) {
	tt, _ := channelTracker(t, ServerConfig{Channels: ChannelConfig{Limits: ChannelLimits{MaxHosts: 1}}})
	base := strings.TrimSuffix(tt.url, "/announce")
	post := func(body string) (int, string) {
		resp, err := tt.hc.Post(base+"/v1/channels/build/hosts", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		body   string
		status int
		says   string
	}{
		{`{"host":"h1","current":1}`, 204, ""},
		{`{"host":"h2"}`, 507, "too many hosts"},
		{`{"host":"h1"`, 400, "host report"},
		{`{"host":""}`, 400, "host name"},
		{`{"host":"` + strings.Repeat("x", channel.MaxReportSize) + `"}`, 413, "limit"},
	} {
		status, body := post(c.body)
		if status != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%.40s: %d %s, want %d %q", c.body, status, body, c.status, c.says)
		}
	}
	resp := get(t, tt, "/v1/channels/build/hosts")
	var e channel.ErrorBody
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || json.NewDecoder(resp.Body).Decode(&e) != nil || e.Error == "" {
		t.Fatalf("GET hosts: %d %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if resp := get(t, tt, "/v1/nothing"); resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("unknown /v1 path: %d", resp.StatusCode)
	}
	if resp := get(t, tt, "/v1/channels/nosuch"); resp.StatusCode != 404 {
		t.Fatalf("unknown channel: %d", resp.StatusCode)
	}
}

// TestChannelRateLimited: channel requests count against the per-source
// rate limit like announces.
func TestChannelRateLimited(t *testing.T) {
	tt, _ := channelTracker(t, ServerConfig{RateLimit: NewSourceLimiter(1, 2, 0)})
	var codes []int
	for range 3 {
		codes = append(codes, get(t, tt, "/v1/channels").StatusCode)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != http.StatusTooManyRequests {
		t.Fatalf("statuses %v", codes)
	}
}

// hookWaiting returns a channel that receives each time a long poll of
// tt starts waiting.
func hookWaiting(tt *testTracker) <-chan struct{} {
	ch := make(chan struct{}, 16)
	tt.srv.channels.testHookWaiting = func() { ch <- struct{}{} }
	return ch
}

func awaitHook(t testing.TB, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no long poll started waiting")
	}
}

// TestShutdownEndsStreams: an http.Server from HTTPServer shuts down at
// once although a long poll and a fleet event stream are open: both end
// (the poll with a 503 saying why), and later ones are refused.
func TestShutdownEndsStreams(t *testing.T) {
	srv := NewServer(ServerConfig{Logger: discard(), Channels: ChannelConfig{PublishKeys: NewPublishKeys(map[string]string{testPublishKey: ""})}})
	waiting := make(chan struct{}, 4)
	srv.channels.testHookWaiting = func() { waiting <- struct{}{} }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer()
	go hs.Serve(ln)
	base := "http://" + ln.Addr().String()
	c, _ := channel.NewClient(base+"/announce", nil)
	ctx := context.Background()
	if _, err := c.Publish(ctx, "build", testPublishKey, infoDict("b1", 100), 0); err != nil {
		t.Fatal(err)
	}
	polled := make(chan error, 1)
	go func() { _, _, err := c.Next(ctx, "build", 1); polled <- err }()
	awaitHook(t, waiting)
	stream, err := http.Get(base + "/v1/fleet/events")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	bufio.NewReader(stream.Body).ReadString('\n')
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown with streams open: %v", err)
	}
	if err := <-polled; err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("the waiting poll: %v", err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/channels/build/next?after=1", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("a poll after the end: %d", rec.Code)
	}
}
