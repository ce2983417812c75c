package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/agent"
	"github.com/shoal-p2p/shoal/e2e/harness"
	"github.com/shoal-p2p/shoal/metainfo"
)

// request sends one API request to an agent and returns the status and
// the error message of a JSON error body.
func request(t *testing.T, method, url string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb agent.ErrorBody
	json.Unmarshal(b, &eb)
	return resp.StatusCode, eb.Error
}

// checkServed fails the test unless GET url answers 200 with the bytes of
// the file at want.
func checkServed(t *testing.T, url, want string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	w, _ := os.ReadFile(want)
	if resp.StatusCode != 200 || !bytes.Equal(got, w) {
		t.Fatalf("GET %s: %d, %d bytes; want 200 and the %d bytes of %s", url, resp.StatusCode, len(got), len(w), want)
	}
}

// TestFleetBadInput: each bad input gets a clear error and the agent keeps
// what it stored: publish without a key (403), a garbage torrent body (400
// naming the parse error), a file path outside the store, an oversized
// body, many concurrent requests.
func TestFleetBadInput(t *testing.T) {
	ctx := harness.Context(t, 2*time.Minute)
	work := t.TempDir()
	_, announce := startTracker(ctx, t, "tracker", 0)
	a := startAgent(ctx, t, "agent", filepath.Join(work, "agent"), []string{announce})
	src := filepath.Join(work, "keep.bin")
	harness.WriteRandomFile(t, src, 1<<20, 7)
	mi, err := metainfo.Create(src, metainfo.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(agent.AddRequest{Path: src})
	if code, msg := request(t, "POST", a.url+"/v1/torrents", body); code != 201 {
		t.Fatalf("add local content: %d %s", code, msg)
	}
	ih := mi.InfoHash.String()

	// Publish without a key: 403 from the tracker, through the agent and
	// without it.
	p := shoal.Start(ctx, t, "publish-nokey", "publish", "--channel", "build", "--agent", a.url, src)
	if err := p.Wait(ctx); err == nil || !strings.Contains(p.Stderr().String(), "403") {
		t.Errorf("publish --agent without a key: exit %v, stderr %q; want a failure naming 403", err, p.Stderr().String())
	}
	p = shoal.Start(ctx, t, "publish-nokey-fg", "publish", "--channel", "build", "--tracker", announce, "--listen", "127.0.0.1:0", src)
	if err := p.Wait(ctx); err == nil || !strings.Contains(p.Stderr().String(), "403") {
		t.Errorf("publish without a key: exit %v, stderr %q; want a failure naming 403", err, p.Stderr().String())
	}

	cases := []struct {
		name, method, path string
		body               []byte
		want               int
		mention            string
	}{
		{"garbage torrent", "POST", "/v1/torrents", []byte("d8:announce3:abce"), 400, "parse torrent"},
		{"oversized body", "POST", "/v1/torrents", bytes.Repeat([]byte{'d'}, agent.MaxTorrentBody+1), 413, "limit"},
		{"path outside the store", "GET", "/v1/torrents/" + ih + "/files/..%2F..%2Findex.db", nil, 404, "no file"},
		{"absolute path", "GET", "/v1/torrents/" + ih + "/files/%2Fetc%2Fpasswd", nil, 404, "no file"},
		{"unknown torrent", "GET", "/v1/torrents/" + strings.Repeat("0", 40) + "/files/x", nil, 404, "not found"},
		{"bad channel", "PUT", "/v1/channels/a%2Fb", nil, 400, "channel name"},
	}
	for _, tc := range cases {
		code, msg := request(t, tc.method, a.url+tc.path, tc.body)
		if code != tc.want || !strings.Contains(msg, tc.mention) {
			t.Errorf("%s: %s %s: %d %q, want %d mentioning %q", tc.name, tc.method, tc.path, code, msg, tc.want, tc.mention)
		}
	}

	// Many concurrent requests: every one answered, none a server error.
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths := []string{"/v1/torrents", "/v1/torrents/" + ih, "/v1/channels", "/metrics", "/", "/healthz"}
			req, _ := http.NewRequestWithContext(ctx, "GET", a.url+paths[i%len(paths)], nil)
			resp, err := http.DefaultClient.Do(req)
			code := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 300 {
		t.Errorf("300 concurrent requests answered %v, want 300 x 200", codes)
	}

	// What was stored is still there and served.
	checkServed(t, a.url+"/v1/torrents/"+ih+"/files/keep.bin", src)
	if a.p.Exited() {
		t.Fatalf("agent exited: %v", a.p.Err())
	}
}

// TestFleetFullDisk: an agent whose store is on a small, full tmpfs
// refuses a torrent that does not fit with 507 and a clear message, keeps
// running, and keeps serving what it had verified.
func TestFleetFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	ctx := harness.Context(t, 2*time.Minute)
	work := t.TempDir()
	mnt := filepath.Join(work, "tmpfs")
	os.MkdirAll(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=12m", fmt.Sprintf("shoal-fleet-%d", os.Getpid()), mnt).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	_, announce := startTracker(ctx, t, "tracker", 0)

	// A seeder of a small file, and the agent on the tmpfs fetches it.
	small := filepath.Join(work, "small", "small.bin")
	harness.WriteRandomFile(t, small, 4<<20, 8)
	seeder := startAgent(ctx, t, "seeder", filepath.Join(work, "seeder"), []string{announce})
	body, _ := json.Marshal(agent.AddRequest{Path: small})
	if code, msg := request(t, "POST", seeder.url+"/v1/torrents", body); code != 201 {
		t.Fatalf("seeder add: %d %s", code, msg)
	}
	a := startAgent(ctx, t, "agent", filepath.Join(mnt, "data"), []string{announce})
	mi, err := metainfo.Create(small, metainfo.CreateOptions{Trackers: []string{announce}})
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := mi.Marshal()
	if code, msg := request(t, "POST", a.url+"/v1/torrents", tb); code != 201 {
		t.Fatalf("agent add: %d %s", code, msg)
	}
	waitFor(ctx, t, "small file fetched", func() bool {
		st, err := a.api.Torrent(ctx, mi.InfoHash)
		return err == nil && st.State == agent.StateSeeding
	})

	// A 32 MiB torrent does not fit in what is left.
	big := filepath.Join(work, "big.bin")
	harness.WriteRandomFile(t, big, 32<<20, 9)
	bmi, err := metainfo.Create(big, metainfo.CreateOptions{Trackers: []string{announce}})
	if err != nil {
		t.Fatal(err)
	}
	btb, _ := bmi.Marshal()
	code, msg := request(t, "POST", a.url+"/v1/torrents", btb)
	if code != 507 || !strings.Contains(msg, "disk full") {
		t.Fatalf("add of a torrent that does not fit: %d %q, want 507 naming a full disk", code, msg)
	}
	if _, err := a.api.Torrent(ctx, bmi.InfoHash); !agent.IsStatus(err, 404) {
		t.Errorf("the refused torrent is listed: %v", err)
	}
	if !strings.Contains(a.p.Stderr().String(), "disk full") {
		t.Errorf("the agent's log does not mention the full disk")
	}
	// The agent still runs and still serves the verified small file.
	checkServed(t, a.url+"/v1/torrents/"+mi.InfoHash.String()+"/files/small.bin", small)
	if code, _ := request(t, "GET", a.url+"/healthz", nil); code != 200 {
		t.Fatalf("healthz %d", code)
	}
}
