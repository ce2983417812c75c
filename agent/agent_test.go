package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/tracker"
)

// testTracker serves announces on loopback and returns the announce URL.
func testTracker(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(tracker.NewServer(tracker.ServerConfig{Interval: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	t.Cleanup(srv.Close)
	return srv.URL + "/announce"
}

// testAgent is an agent with its API on a test server.
type testAgent struct {
	*Agent
	api string
}

func startAgent(t *testing.T, cfg Config) *testAgent {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.ListenAddr = "127.0.0.1:0"
	if cfg.ReportEvery == 0 {
		cfg.ReportEvery = 200 * time.Millisecond
	}
	if cfg.Logger == nil && testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	ta := &testAgent{Agent: a, api: srv.URL}
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return ta
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}

// call makes an API request and decodes a JSON reply into out (if not nil).
func call(t *testing.T, method, url, ctype string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, b, err)
		}
	}
	return resp.StatusCode
}

func writeRandom(t testing.TB, path string, size int, seed uint64) []byte {
	t.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAddLocalSeedFetchAndServeRanges(t *testing.T) {
	announce := testTracker(t)
	src := filepath.Join(t.TempDir(), "payload.bin")
	data := writeRandom(t, src, 3<<20+123, 1)

	seeder := startAgent(t, Config{Trackers: []string{announce}})
	var added AddResponse
	body, _ := json.Marshal(AddRequest{Path: src, PieceLength: 256 << 10})
	if code := call(t, "POST", seeder.api+"/v1/torrents", "application/json", body, &added); code != 201 {
		t.Fatalf("POST path: status %d, want 201", code)
	}
	if code := call(t, "POST", seeder.api+"/v1/torrents", "application/json", body, &added); code != 200 || added.Created {
		t.Fatalf("POST same path again: status %d created=%v, want 200 and not created", code, added.Created)
	}
	ih, _ := metainfo.ParseInfoHash(added.InfoHash)
	waitUntil(t, 30*time.Second, "seeder seeding", func() bool {
		st, _ := seeder.Torrent(ih)
		return st.State == StateSeeding
	})

	// A fetcher gets the .torrent's bytes and downloads from the seeder.
	mi, err := metainfo.Create(src, metainfo.CreateOptions{Trackers: []string{announce}, PieceLength: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if mi.InfoHash != ih {
		t.Fatalf("seeder's info hash %s, want %s", ih, mi.InfoHash)
	}
	tb, _ := mi.Marshal()
	fetcher := startAgent(t, Config{Trackers: []string{announce}})
	if code := call(t, "POST", fetcher.api+"/v1/torrents", "application/x-bittorrent", tb, &added); code != 201 {
		t.Fatalf("POST .torrent: status %d, want 201", code)
	}
	waitUntil(t, 30*time.Second, "fetcher complete", func() bool {
		var st TorrentStatus
		call(t, "GET", fetcher.api+"/v1/torrents/"+ih.String(), "", nil, &st)
		return st.State == StateSeeding && st.Progress == 1
	})
	var st TorrentStatus
	call(t, "GET", fetcher.api+"/v1/torrents/"+ih.String(), "", nil, &st)
	if len(st.Files) != 1 || st.Files[0].Path != "payload.bin" || st.HavePieces != st.Pieces || st.ETASeconds == nil || *st.ETASeconds != 0 {
		t.Fatalf("status after completion: %+v", st)
	}

	// Whole file and ranges.
	fileURL := fetcher.api + "/v1/torrents/" + ih.String() + "/files/payload.bin"
	resp, err := http.Get(fileURL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("GET file: status %d, %d bytes, equal=%v", resp.StatusCode, len(got), bytes.Equal(got, data))
	}
	for _, rg := range [][2]int{{0, 0}, {1000, 300000}, {len(data) - 10, len(data) - 1}} {
		req, _ := http.NewRequest("GET", fileURL, nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 206 || !bytes.Equal(got, data[rg[0]:rg[1]+1]) {
			t.Fatalf("range %v: status %d, %d bytes", rg, resp.StatusCode, len(got))
		}
	}
	req, _ := http.NewRequest("GET", fileURL, nil)
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", len(data)+5))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 416 {
		t.Fatalf("range past the end: %v %v, want 416", resp.StatusCode, err)
	}

	// The agent's page and metrics show it.
	page, _ := http.Get(fetcher.api + "/")
	pb, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(pb), "payload.bin") || !strings.Contains(string(pb), ih.String()) {
		t.Errorf("the agent's page does not list the torrent:\n%s", pb)
	}
	mresp, _ := http.Get(fetcher.api + "/metrics")
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if want := fmt.Sprintf("shoal_agent_pieces_verified_total %d", st.Pieces); !strings.Contains(string(mb), want) {
		t.Errorf("metrics lack %q", want)
	}

	// Files outside the torrent are not there, whatever the path says.
	for _, p := range []string{"../index.db", "..%2F..%2Findex.db", "payload.bin/../../index.db", "nope"} {
		var eb ErrorBody
		code := call(t, "GET", fetcher.api+"/v1/torrents/"+ih.String()+"/files/"+p, "", nil, &eb)
		if code != 404 && code != 400 {
			t.Errorf("GET files/%s: status %d (%s), want 404 or 400", p, code, eb.Error)
		}
	}

	// DELETE of the user's own files forgets them and leaves them alone.
	if code := call(t, "DELETE", seeder.api+"/v1/torrents/"+ih.String(), "", nil, nil); code != 204 {
		t.Fatalf("DELETE: %d", code)
	}
	if b, err := os.ReadFile(src); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("DELETE of local content touched the user's file: %v", err)
	}
	if code := call(t, "GET", seeder.api+"/v1/torrents/"+ih.String(), "", nil, nil); code != 404 {
		t.Fatalf("GET after DELETE: %d, want 404", code)
	}
	// DELETE of stored content removes its files.
	if code := call(t, "DELETE", fetcher.api+"/v1/torrents/"+ih.String(), "", nil, nil); code != 204 {
		t.Fatalf("DELETE: %d", code)
	}
	if _, err := os.Stat(fetcher.contentDir(ih.String())); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("content folder after DELETE: %v", err)
	}
}

func TestFileBeforeCompletionIs409(t *testing.T) {
	src := filepath.Join(t.TempDir(), "nobody-seeds.bin")
	writeRandom(t, src, 1<<20, 2)
	mi, err := metainfo.Create(src, metainfo.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := mi.Marshal()
	a := startAgent(t, Config{})
	if code := call(t, "POST", a.api+"/v1/torrents", "", tb, nil); code != 201 {
		t.Fatalf("POST: %d", code)
	}
	var eb ErrorBody
	code := call(t, "GET", a.api+"/v1/torrents/"+mi.InfoHash.String()+"/files/nobody-seeds.bin", "", nil, &eb)
	if code != 409 || eb.Progress == nil || *eb.Progress != 0 || !strings.Contains(eb.Error, "not complete") {
		t.Fatalf("GET file of an incomplete torrent: %d %+v, want 409 with progress 0", code, eb)
	}
}

func TestBadRequests(t *testing.T) {
	a := startAgent(t, Config{})
	cases := []struct {
		name, method, path, ctype string
		body                      []byte
		want                      int
		mention                   string
	}{
		{"garbage torrent", "POST", "/v1/torrents", "application/x-bittorrent", []byte("d4:infoi3e"), 400, "parse torrent"},
		{"empty body", "POST", "/v1/torrents", "", nil, 400, "empty body"},
		{"bad JSON", "POST", "/v1/torrents", "application/json", []byte(`{"magnet": 3}`), 400, "parse JSON"},
		{"unknown field", "POST", "/v1/torrents", "application/json", []byte(`{"url": "x"}`), 400, "unknown field"},
		{"both", "POST", "/v1/torrents", "application/json", []byte(`{"magnet":"magnet:?xt=urn:btih:0123456789012345678901234567890123456789","path":"/x"}`), 400, "not both"},
		{"bad magnet", "POST", "/v1/torrents", "application/json", []byte(`{"magnet":"magnet:?xt=urn:sha1:zz"}`), 400, "magnet"},
		{"relative path", "POST", "/v1/torrents", "application/json", []byte(`{"path":"etc/passwd"}`), 400, "absolute"},
		{"missing path", "POST", "/v1/torrents", "application/json", []byte(`{"path":"/no/such/file/here"}`), 400, "no such file"},
		{"oversized torrent", "POST", "/v1/torrents", "", bytes.Repeat([]byte("x"), MaxTorrentBody+1), 413, "limit"},
		{"oversized JSON", "PUT", "/v1/channels/x", "", bytes.Repeat([]byte(" "), MaxJSONBody+1), 413, "limit"},
		{"bad info hash", "GET", "/v1/torrents/xyz", "", nil, 400, "info hash"},
		{"unknown torrent", "GET", "/v1/torrents/0123456789012345678901234567890123456789", "", nil, 404, "not found"},
		{"unknown torrent delete", "DELETE", "/v1/torrents/0123456789012345678901234567890123456789", "", nil, 404, "not found"},
		{"bad channel name", "PUT", "/v1/channels/.hidden", "", nil, 400, "channel name"},
		{"bad channel chars", "PUT", "/v1/channels/a%20b", "", nil, 400, "channel name"},
		{"no tracker", "PUT", "/v1/channels/build", "", nil, 400, "no tracker"},
		{"unknown channel", "GET", "/v1/channels/nope", "", nil, 404, "not found"},
		{"unsubscribe unknown", "DELETE", "/v1/channels/nope", "", nil, 404, "not subscribed"},
		{"publish no path", "POST", "/v1/channels/build/releases", "", []byte(`{"key":"k"}`), 400, "no path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var eb ErrorBody
			code := call(t, tc.method, a.api+tc.path, tc.ctype, tc.body, &eb)
			if code != tc.want || !strings.Contains(eb.Error, tc.mention) {
				t.Fatalf("%s %s: %d %q, want %d mentioning %q", tc.method, tc.path, code, eb.Error, tc.want, tc.mention)
			}
		})
	}
	// The agent still answers.
	if code := call(t, "GET", a.api+"/healthz", "", nil, nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
}

func TestConcurrentRequests(t *testing.T) {
	a := startAgent(t, Config{})
	src := filepath.Join(t.TempDir(), "c.bin")
	writeRandom(t, src, 512<<10, 3)
	body, _ := json.Marshal(AddRequest{Path: src})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var code int
			switch i % 5 {
			case 0:
				code = call(t, "POST", a.api+"/v1/torrents", "", body, nil)
			case 1:
				code = call(t, "GET", a.api+"/v1/torrents", "", nil, nil)
			case 2:
				code = call(t, "GET", a.api+"/metrics", "", nil, nil)
			case 3:
				code = call(t, "POST", a.api+"/v1/torrents", "", []byte("garbage"), nil)
			case 4:
				code = call(t, "GET", a.api+"/", "", nil, nil)
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[201] != 1 || codes[200] != 40+40+40+39 || codes[400] != 40 {
		t.Fatalf("status codes %v: want one 201, 159 200s and 40 400s", codes)
	}
	if n := len(a.Torrents()); n != 1 {
		t.Fatalf("%d torrents after 40 concurrent adds of one path, want 1", n)
	}
}

func TestRestartKeepsStore(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "r.bin")
	writeRandom(t, src, 1<<20, 4)
	a, err := New(Config{Dir: dir, ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	e, _, err := a.addLocal(src, 0, addOptions{pinned: true})
	if err != nil {
		t.Fatal(err)
	}
	ih := e.rec.InfoHash
	// A second agent on the same folder is refused while the first runs.
	if _, err := New(Config{Dir: dir, ListenAddr: "127.0.0.1:0"}); !errors.Is(err, ErrDirInUse) {
		t.Fatalf("second agent on the folder: %v, want ErrDirInUse", err)
	}
	// Also when it names the folder through a symlink.
	link := filepath.Join(t.TempDir(), "alias")
	os.Symlink(dir, link)
	if _, err := New(Config{Dir: link, ListenAddr: "127.0.0.1:0"}); !errors.Is(err, ErrDirInUse) {
		t.Fatalf("second agent on the folder through a symlink: %v, want ErrDirInUse", err)
	}
	a.Close()
	// A leftover of an interrupted delete is cleaned at start.
	os.MkdirAll(filepath.Join(dir, "content", strings.Repeat("ab", 20)), 0o755)
	b := startAgent(t, Config{Dir: dir})
	parsed, _ := metainfo.ParseInfoHash(ih)
	waitUntil(t, 30*time.Second, "restored torrent seeding", func() bool {
		st, ok := b.Torrent(parsed)
		return ok && st.State == StateSeeding && st.Pinned && st.Local
	})
	if _, err := os.Stat(filepath.Join(dir, "content", strings.Repeat("ab", 20))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover content folder still there: %v", err)
	}
}

// readCurrent reads the current release's file of a channel.
func readCurrent(a *Agent, ch, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(a.Dir(), "channels", ch, "current", name))
}

func TestChannelReleasesReachSubscribers(t *testing.T) {
	announce := testTracker(t)
	mt := newMemTracker("sekrit")
	work := t.TempDir()
	origin := startAgent(t, Config{Name: "origin", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt}, Keep: 2})
	hookLog := filepath.Join(work, "hooks")
	var subs []*testAgent
	for i := range 3 {
		subs = append(subs, startAgent(t, Config{
			Name: fmt.Sprintf("host%d", i), Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt},
			Subscribe: []string{"build"}, Keep: 2,
			OnComplete: fmt.Sprintf(`echo "%d $SHOAL_CHANNEL $SHOAL_SEQ $(cat "$SHOAL_RELEASE_PATH/$SHOAL_NAME" | wc -c)" >> %s`, i, hookLog),
		}))
	}
	ctx := context.Background()

	// Without the key the tracker refuses, and nothing is left behind.
	src := filepath.Join(work, "build.bin")
	writeRandom(t, src, 1<<20, 10)
	_, err := origin.Publish(ctx, "build", PublishRequest{Path: src})
	if !errors.Is(err, channel.ErrForbidden) || statusOf(err) != 403 {
		t.Fatalf("publish without key: %v (status %d), want forbidden/403", err, statusOf(err))
	}
	if n := len(origin.Torrents()); n != 0 {
		t.Fatalf("%d torrents after a refused publish, want 0", n)
	}

	var versions [][]byte
	for k := 1; k <= 3; k++ {
		data := writeRandom(t, src, 1<<20+k*1000, uint64(10+k))
		versions = append(versions, data)
		var rel channel.Release
		body, _ := json.Marshal(PublishRequest{Path: src, Key: "sekrit", PieceLength: 64 << 10})
		if code := call(t, "POST", origin.api+"/v1/channels/build/releases", "", body, &rel); code != 201 || rel.Seq != uint64(k) {
			t.Fatalf("publish %d: status %d, release %+v", k, code, rel)
		}
		for _, s := range subs {
			waitUntil(t, 30*time.Second, fmt.Sprintf("%s on release %d", s.cfg.Name, k), func() bool {
				st, _ := s.Channel("build")
				return st.Current == uint64(k)
			})
			got, err := readCurrent(s.Agent, "build", "build.bin")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: current release %d content: %v equal=%v", s.cfg.Name, k, err, bytes.Equal(got, data))
			}
		}
	}
	for _, s := range subs {
		// The release beyond keep goes just after the switch.
		waitUntil(t, 30*time.Second, s.cfg.Name+" keeps 2 releases", func() bool {
			st, _ := s.Channel("build")
			stored := 0
			for _, ts := range s.Torrents() {
				if ts.Channel == "build" {
					stored++
				}
			}
			return len(st.Have) <= 2 && stored <= 2
		})
		waitUntil(t, 30*time.Second, "host report of release 3", func() bool {
			r, ok := mt.report("build", s.cfg.Name)
			return ok && r.Current == 3
		})
	}
	for _, s := range subs {
		resp, err := http.Get(s.api + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`shoal_agent_release_complete_seconds_count{channel="build"} 3`, `shoal_agent_channel_current_seq{channel="build"} 3`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s metrics lack %q", s.cfg.Name, want)
			}
		}
	}
	ost, _ := origin.Channel("build")
	if ost.Current != 3 || len(ost.Published) != 1 || ost.Published[0] != 3 {
		t.Fatalf("origin channel status %+v", ost)
	}
	// Each hook ran once per release, with the release's path.
	waitUntil(t, 30*time.Second, "9 hook runs", func() bool {
		b, _ := os.ReadFile(hookLog)
		return strings.Count(string(b), "\n") >= 9
	})
	b, _ := os.ReadFile(hookLog)
	for i := range subs {
		for k := 1; k <= 3; k++ {
			line := fmt.Sprintf("%d build %d %d\n", i, k, len(versions[k-1]))
			if strings.Count(string(b), line) != 1 {
				t.Errorf("hook log has %q %d times, want once:\n%s", line, strings.Count(string(b), line), b)
			}
		}
	}

	// A tracker that forgets everything gets the release back from the
	// origin.
	mt.restart()
	waitUntil(t, 30*time.Second, "origin re-registers release 3", func() bool {
		rels, err := mt.Releases(ctx, "build")
		return err == nil && len(rels) == 1 && rels[0].Seq == 3
	})
}

func TestDiskWatermarkCollectsOldestUnpinned(t *testing.T) {
	var mu sync.Mutex
	used := int64(0)
	disk := func() (Disk, error) {
		mu.Lock()
		defer mu.Unlock()
		return Disk{Total: 100 << 20, Used: used}, nil
	}
	a := startAgent(t, Config{Disk: disk, GCEvery: time.Hour})
	add := func(seed uint64, pinned bool) string {
		src := filepath.Join(t.TempDir(), fmt.Sprintf("f%d.bin", seed))
		writeRandom(t, src, 256<<10, seed)
		mi, err := metainfo.Create(src, metainfo.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e, _, err := a.addMeta(mi, addOptions{pinned: pinned})
		if err != nil {
			t.Fatal(err)
		}
		// Give it verified data, as a finished download would have.
		os.MkdirAll(a.contentDir(mi.InfoHash.String()), 0o755)
		return e.rec.InfoHash
	}
	old := add(1, false)
	pinned := add(2, true)
	mid := add(3, false)
	young := add(4, false)
	mu.Lock()
	used = 92 << 20 // above 90%: the collector gets to 80% or below
	mu.Unlock()
	// Pretend every unpinned torrent is 6 MiB on disk.
	a.mu.Lock()
	for _, e := range a.entries {
		e.rec.Size = 6 << 20
	}
	a.mu.Unlock()
	a.collect(0, "")
	have := map[string]bool{}
	for _, st := range a.Torrents() {
		have[st.InfoHash] = true
	}
	if have[old] || have[mid] || !have[young] || !have[pinned] {
		t.Fatalf("after collection: old=%v mid=%v young=%v pinned=%v; want old and mid gone (92-6-6 = 80 MiB), the rest kept",
			have[old], have[mid], have[young], have[pinned])
	}
}

func TestUnixSocketAPI(t *testing.T) {
	a := startAgent(t, Config{})
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket %v mode %v, want 0660", err, fi.Mode())
	}
	c, err := NewAPIClient("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "u.bin")
	writeRandom(t, src, 100<<10, 9)
	added, err := c.Add(ctx, AddRequest{Path: src})
	if err != nil || !added.Created {
		t.Fatalf("add over the socket: %+v %v", added, err)
	}
	ts, err := c.Torrents(ctx)
	if err != nil || len(ts) != 1 || ts[0].InfoHash != added.InfoHash {
		t.Fatalf("list over the socket: %v %v", ts, err)
	}
	if _, err := c.AddTorrent(ctx, []byte("junk")); !IsStatus(err, 400) {
		t.Fatalf("junk over the socket: %v, want a 400", err)
	}
}

func TestNewestReleaseWinsMidDownload(t *testing.T) {
	announce := testTracker(t)
	mt := newMemTracker("k")
	origin := startAgent(t, Config{Name: "origin", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt}})
	hooks := filepath.Join(t.TempDir(), "hooks")
	sub := startAgent(t, Config{Name: "slow", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt},
		Subscribe: []string{"build"}, DownloadLimit: 1 << 20, OnComplete: `echo "$SHOAL_SEQ" >> ` + hooks})
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "build.bin")
	writeRandom(t, src, 8<<20, 20) // 8 s at 1 MiB/s
	if _, err := origin.Publish(ctx, "build", PublishRequest{Path: src, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "release 1 under way", func() bool {
		st, _ := sub.Channel("build")
		return len(st.Fetching) == 1 && st.Fetching[0] == 1 && st.Progress > 0
	})
	data2 := writeRandom(t, src, 1<<20, 21)
	if _, err := origin.Publish(ctx, "build", PublishRequest{Path: src, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "release 2 current", func() bool {
		st, _ := sub.Channel("build")
		return st.Current == 2
	})
	if got, err := readCurrent(sub.Agent, "build", "build.bin"); err != nil || !bytes.Equal(got, data2) {
		t.Fatalf("current is not release 2: %v", err)
	}
	for _, ts := range sub.Torrents() {
		if ts.Seq == 1 {
			t.Fatalf("the superseded release 1 is still in the store: %+v", ts)
		}
	}
	waitUntil(t, 30*time.Second, "hook of release 2", func() bool {
		b, _ := os.ReadFile(hooks)
		return len(b) > 0
	})
	if b, _ := os.ReadFile(hooks); string(b) != "2\n" {
		t.Fatalf("hooks ran for %q, want only release 2", b)
	}
}

// TestClockJumpDoesNotReorderCollection: the wall clock jumping back
// between two adds does not make the collector delete the newer content
// first: the index numbers adds with a counter.
func TestClockJumpDoesNotReorderCollection(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	used := int64(0)
	a := startAgent(t, Config{GCEvery: time.Hour,
		Now:  func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Disk: func() (Disk, error) { mu.Lock(); defer mu.Unlock(); return Disk{Total: 100 << 20, Used: used}, nil }})
	add := func(seed uint64) string {
		src := filepath.Join(t.TempDir(), fmt.Sprintf("c%d.bin", seed))
		writeRandom(t, src, 64<<10, seed)
		mi, _ := metainfo.Create(src, metainfo.CreateOptions{})
		e, _, err := a.addMeta(mi, addOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return e.rec.InfoHash
	}
	older := add(91)
	mu.Lock()
	now = now.Add(-30 * 24 * time.Hour) // NTP fixes a clock that ran a month ahead
	mu.Unlock()
	newer := add(92)
	mu.Lock()
	used = 95 << 20
	mu.Unlock()
	a.mu.Lock()
	for _, e := range a.entries {
		e.rec.Size = 20 << 20 // deleting one is enough
	}
	a.mu.Unlock()
	a.collect(0, "")
	have := map[string]bool{}
	for _, st := range a.Torrents() {
		have[st.InfoHash] = true
	}
	if have[older] || !have[newer] {
		t.Fatalf("after the clock jumped back: older kept=%v, newer kept=%v; want the older deleted", have[older], have[newer])
	}
}
