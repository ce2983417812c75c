package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestSwarmMultiFile runs one tracker, one seeder and five getters as
// separate processes on loopback. The getters learn about each other only
// from the tracker; every copy of the multi-file payload must be
// byte-identical to the source.
func TestSwarmMultiFile(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 5 getters x 64 MiB; skipped with -short")
	}
	ctx := testContext(t, 4*time.Minute)
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "payload")
	total := writeTree(t, src, 1,
		fileSpec{"a/big1.bin", 40<<20 + 123},
		fileSpec{"a/b/mid.bin", 24<<20 + 7},
		fileSpec{"c/small.bin", 300<<10 + 1},
		fileSpec{"tiny.txt", 1},
	)
	if total < 64<<20 {
		t.Fatalf("payload is %d bytes, want >= 64 MiB", total)
	}

	tracker := startProc(ctx, t, "tracker", needShoal(t), "tracker", "--listen", "127.0.0.1:0")
	announce := fmt.Sprintf("http://%s/announce", tracker.listenAddr(ctx, t))

	torrent := filepath.Join(dir, "payload.torrent")
	createTorrent(ctx, t, src, torrent, 256<<10, announce)
	startSeeder(ctx, t, "seeder", torrent, src, "--tracker", announce)

	const getters = 5
	procs := make([]*proc, getters)
	outs := make([]string, getters)
	for i := range procs {
		outs[i] = filepath.Join(dir, fmt.Sprintf("get%d", i))
		procs[i] = startGetter(ctx, t, fmt.Sprintf("getter%d", i), torrent, outs[i])
	}
	for i, p := range procs {
		mustFinish(ctx, t, p)
		sameTree(t, src, filepath.Join(outs[i], "payload"))
	}
}
