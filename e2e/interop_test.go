package e2e

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// needLibtorrent skips the test when python3-libtorrent is not installed and
// returns the absolute path of the lt_peer.py driver.
func needLibtorrent(t *testing.T) string {
	t.Helper()
	return harness.NeedLibtorrent(t, filepath.Join("testdata", "lt_peer.py"))
}

// interopPayload writes the multi-file payload both interop tests move:
// one big file and a small one in a subfolder, so the file layout is
// checked as well as the piece data.
func interopPayload(t *testing.T, root string) {
	t.Helper()
	harness.WriteTree(t, root, 4,
		harness.FileSpec{Path: "big.bin", Size: 24<<20 + 5},
		harness.FileSpec{Path: "sub/small.bin", Size: 100<<10 + 3},
	)
}

// TestInteropLibtorrentSeedsShoalGets: a torrent made by `shoal create`, a
// libtorrent seeder, a Shoal getter.
func TestInteropLibtorrentSeedsShoalGets(t *testing.T) {
	script := needLibtorrent(t)
	ctx := harness.Context(t, 3*time.Minute)
	dir := t.TempDir()
	srcParent := filepath.Join(dir, "src")
	src := filepath.Join(srcParent, "payload")
	interopPayload(t, src)
	torrent := filepath.Join(dir, "payload.torrent")
	shoal.CreateTorrent(ctx, t, src, torrent, 256<<10)

	// libtorrent's save_path is the directory that holds the torrent's name.
	lt := harness.Start(ctx, t, "lt-seed", harness.Python, script, "seed", torrent, srcParent, "--port", "0")
	ltAddr := lt.ListenAddr(ctx, t)

	out := filepath.Join(dir, "out")
	getter := shoal.StartGetter(ctx, t, "shoal-get", torrent, out, "--peer", ltAddr)
	getter.MustFinish(ctx, t)
	harness.SameTree(t, src, filepath.Join(out, "payload"))
}

// TestInteropShoalSeedsLibtorrentGets: a torrent made by `shoal create`, a
// Shoal seeder, a libtorrent getter that connects to it directly.
func TestInteropShoalSeedsLibtorrentGets(t *testing.T) {
	script := needLibtorrent(t)
	ctx := harness.Context(t, 3*time.Minute)
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "payload")
	interopPayload(t, src)
	torrent := filepath.Join(dir, "payload.torrent")
	shoal.CreateTorrent(ctx, t, src, torrent, 256<<10)
	_, seedAddr := shoal.StartSeeder(ctx, t, "shoal-seed", torrent, src)

	out := filepath.Join(dir, "out")
	lt := harness.Start(ctx, t, "lt-get", harness.Python, script, "get", torrent, out,
		"--port", "0", "--peer", seedAddr, "--timeout", "150")
	lt.MustFinish(ctx, t)
	harness.SameTree(t, src, filepath.Join(out, "payload"))
}

// TestInteropHarnessLibtorrentOnly is the control for the two tests above:
// libtorrent creates, seeds and fetches through the same helpers, so when
// an interop test fails while this passes, the fault is Shoal's, not the
// harness's or the script's.
func TestInteropHarnessLibtorrentOnly(t *testing.T) {
	script := needLibtorrent(t)
	ctx := harness.Context(t, 2*time.Minute)
	dir := t.TempDir()
	srcParent := filepath.Join(dir, "src")
	src := filepath.Join(srcParent, "payload")
	interopPayload(t, src)
	torrent := filepath.Join(dir, "payload.torrent")
	mk := harness.Start(ctx, t, "lt-create", harness.Python, script, "create", src, torrent)
	if err := mk.Wait(ctx); err != nil {
		t.Fatalf("lt_peer.py create: %v", err)
	}
	if infoHashRE.FindString(mk.Stdout().String()) == "" {
		t.Fatalf("lt_peer.py create printed no info hash: %q", mk.Stdout().String())
	}

	seed := harness.Start(ctx, t, "lt-seed", harness.Python, script, "seed", torrent, srcParent, "--port", "0")
	seedAddr := seed.ListenAddr(ctx, t)
	out := filepath.Join(dir, "out")
	get := harness.Start(ctx, t, "lt-get", harness.Python, script, "get", torrent, out,
		"--port", "0", "--peer", seedAddr, "--timeout", "90")
	get.MustFinish(ctx, t)
	harness.SameTree(t, src, filepath.Join(out, "payload"))
	if err := get.WaitStderr(ctx, "finished line", func(s string) bool { return finishedRE.MatchString(s) }); err != nil {
		t.Fatal(err)
	}
}

var (
	finishedRE = regexp.MustCompile(`finished: all \d+ pieces verified`)
	infoHashRE = regexp.MustCompile(`\b[0-9a-fA-F]{40}\b`)
)
