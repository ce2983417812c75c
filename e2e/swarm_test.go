package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// TestSwarmMultiFile runs one tracker, one seeder and five getters as
// separate processes on loopback. The getters learn about each other only
// from the tracker; every copy of the multi-file payload must be
// byte-identical to the source.
func TestSwarmMultiFile(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 5 getters x 64 MiB; skipped with -short")
	}
	ctx := harness.Context(t, 4*time.Minute)
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "payload")
	total := harness.WriteTree(t, src, 1,
		harness.FileSpec{Path: "a/big1.bin", Size: 40<<20 + 123},
		harness.FileSpec{Path: "a/b/mid.bin", Size: 24<<20 + 7},
		harness.FileSpec{Path: "c/small.bin", Size: 300<<10 + 1},
		harness.FileSpec{Path: "tiny.txt", Size: 1},
	)
	if total < 64<<20 {
		t.Fatalf("payload is %d bytes, want >= 64 MiB", total)
	}

	tracker := shoal.Start(ctx, t, "tracker", "tracker", "--listen", "127.0.0.1:0")
	announce := fmt.Sprintf("http://%s/announce", tracker.ListenAddr(ctx, t))

	torrent := filepath.Join(dir, "payload.torrent")
	shoal.CreateTorrent(ctx, t, src, torrent, 256<<10, announce)
	shoal.StartSeeder(ctx, t, "seeder", torrent, src, "--tracker", announce)

	const getters = 5
	procs := make([]*harness.Proc, getters)
	outs := make([]string, getters)
	for i := range procs {
		outs[i] = filepath.Join(dir, fmt.Sprintf("get%d", i))
		procs[i] = shoal.StartGetter(ctx, t, fmt.Sprintf("getter%d", i), torrent, outs[i])
	}
	for i, p := range procs {
		p.MustFinish(ctx, t)
		harness.SameTree(t, src, filepath.Join(outs[i], "payload"))
	}
}
