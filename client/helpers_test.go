package client

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
)

// writeRandomFile writes size deterministic pseudo-random bytes to path and
// returns them.
func writeRandomFile(t *testing.T, path string, size int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// createTorrent builds the metainfo of path with the given piece length.
func createTorrent(t *testing.T, path string, pieceLength int64) *metainfo.MetaInfo {
	t.Helper()
	mi, err := metainfo.Create(path, metainfo.CreateOptions{PieceLength: pieceLength})
	if err != nil {
		t.Fatalf("create torrent of %s: %v", path, err)
	}
	return mi
}

// newTestClient starts a Client on a loopback port and closes it when the
// test ends.
func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// addTorrent adds a torrent without trackers and fails the test on error.
func addTorrent(t *testing.T, c *Client, mi *metainfo.MetaInfo, opts TorrentOptions) *Torrent {
	t.Helper()
	if opts.Trackers == nil {
		opts.Trackers = []string{}
	}
	tor, err := c.AddTorrent(mi, opts)
	if err != nil {
		t.Fatalf("add torrent: %v", err)
	}
	return tor
}

// waitDone waits for tor to finish and fails the test on timeout or error.
func waitDone(t *testing.T, tor *Torrent, d time.Duration) {
	t.Helper()
	select {
	case <-tor.Done():
	case <-time.After(d):
		t.Fatalf("torrent not done after %v: %+v", d, tor.Stats())
	}
	if err := tor.Err(); err != nil {
		t.Fatalf("torrent failed: %v", err)
	}
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sameFile fails the test unless the file at path holds want.
func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the original (%d vs %d bytes)", path, len(got), len(want))
	}
}

// settleGoroutines waits until at most n goroutines run, and reports the
// last count and whether it got there.
func settleGoroutines(n int, d time.Duration) (int, bool) {
	deadline := time.Now().Add(d)
	for {
		got := runtime.NumGoroutine()
		if got <= n {
			return got, true
		}
		if time.Now().After(deadline) {
			return got, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goroutineDump returns the stacks of all goroutines, for failure messages.
func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
