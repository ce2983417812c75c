package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// TestTrackerStartsLate (issue 8, item 9): a getter and a seeder started
// while their only tracker is down keep retrying it with backoff until
// their stall timeout, rather than giving up after about 20 s. The tracker
// comes up 25 s later (past that old cut-off, well inside the default
// two-minute stall timeout) and the download completes.
func TestTrackerStartsLate(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 25 s for the tracker; skipped with -short")
	}
	t.Parallel()
	ctx := harness.Context(t, 2*time.Minute)
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "data.bin")
	harness.WriteTree(t, filepath.Join(dir, "src"), 5, harness.FileSpec{Path: "data.bin", Size: 2 << 20})
	// Reserve a port for the tracker, free it, and name it in the torrent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	trackerAddr := ln.Addr().String()
	ln.Close()
	announce := fmt.Sprintf("http://%s/announce", trackerAddr)
	torrent := filepath.Join(dir, "data.torrent")
	shoal.CreateTorrent(ctx, t, src, torrent, 64<<10, announce)

	shoal.StartSeeder(ctx, t, "seeder", torrent, src)
	out := filepath.Join(dir, "out")
	getter := shoal.StartGetter(ctx, t, "getter", torrent, out)
	select {
	case <-getter.Done():
		t.Fatalf("the getter gave up while the tracker was down: %v\n%s", getter.Err(), getter.Stderr().Tail(10))
	case <-time.After(25 * time.Second):
	}
	shoal.Start(ctx, t, "tracker", "tracker", "--listen", trackerAddr, "--udp-listen", "off")
	getter.MustFinish(ctx, t)
	harness.SameTree(t, filepath.Join(dir, "src"), out)
}
