package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// debianPython is the interpreter that sees Debian's python3-libtorrent.
const debianPython = "/usr/bin/python3"

// needLibtorrent skips the test when python3-libtorrent is not installed and
// returns the absolute path of the lt_peer.py driver.
func needLibtorrent(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(debianPython, "-c", "import libtorrent as lt; print(lt.__version__)").CombinedOutput()
	if err != nil {
		t.Skipf("libtorrent interop needs %s with python3-libtorrent (apt-get install -y python3-libtorrent): %v: %s", debianPython, err, out)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "lt_peer.py"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("libtorrent %s", out)
	return script
}

// interopPayload writes the multi-file payload both interop tests move:
// one big file and a small one in a subfolder, so the file layout is
// checked as well as the piece data.
func interopPayload(t *testing.T, root string) {
	t.Helper()
	writeTree(t, root, 4,
		fileSpec{"big.bin", 24<<20 + 5},
		fileSpec{"sub/small.bin", 100<<10 + 3},
	)
}

// TestInteropLibtorrentSeedsShoalGets: a torrent made by `shoal create`, a
// libtorrent seeder, a Shoal getter.
func TestInteropLibtorrentSeedsShoalGets(t *testing.T) {
	script := needLibtorrent(t)
	ctx := testContext(t, 3*time.Minute)
	dir := t.TempDir()
	srcParent := filepath.Join(dir, "src")
	src := filepath.Join(srcParent, "payload")
	interopPayload(t, src)
	torrent := filepath.Join(dir, "payload.torrent")
	createTorrent(ctx, t, src, torrent, 256<<10)

	// libtorrent's save_path is the directory that holds the torrent's name.
	lt := startProc(ctx, t, "lt-seed", debianPython, script, "seed", torrent, srcParent, "--port", "0")
	ltAddr := lt.listenAddr(ctx, t)

	out := filepath.Join(dir, "out")
	getter := startGetter(ctx, t, "shoal-get", torrent, out, "--peer", ltAddr)
	mustFinish(ctx, t, getter)
	sameTree(t, src, filepath.Join(out, "payload"))
}

// TestInteropShoalSeedsLibtorrentGets: a torrent made by `shoal create`, a
// Shoal seeder, a libtorrent getter that connects to it directly.
func TestInteropShoalSeedsLibtorrentGets(t *testing.T) {
	script := needLibtorrent(t)
	ctx := testContext(t, 3*time.Minute)
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "payload")
	interopPayload(t, src)
	torrent := filepath.Join(dir, "payload.torrent")
	createTorrent(ctx, t, src, torrent, 256<<10)
	_, seedAddr := startSeeder(ctx, t, "shoal-seed", torrent, src)

	out := filepath.Join(dir, "out")
	lt := startProc(ctx, t, "lt-get", debianPython, script, "get", torrent, out,
		"--port", "0", "--peer", seedAddr, "--timeout", "150")
	mustFinish(ctx, t, lt)
	sameTree(t, src, filepath.Join(out, "payload"))
}

// TestInteropHarnessLibtorrentOnly is the control for the two tests above:
// libtorrent creates, seeds and fetches through the same helpers, so when
// an interop test fails while this passes, the fault is Shoal's, not the
// harness's or the script's.
func TestInteropHarnessLibtorrentOnly(t *testing.T) {
	script := needLibtorrent(t)
	ctx := testContext(t, 2*time.Minute)
	dir := t.TempDir()
	srcParent := filepath.Join(dir, "src")
	src := filepath.Join(srcParent, "payload")
	interopPayload(t, src)
	torrent := filepath.Join(dir, "payload.torrent")
	mk := startProc(ctx, t, "lt-create", debianPython, script, "create", src, torrent)
	if err := mk.wait(ctx); err != nil {
		t.Fatalf("lt_peer.py create: %v", err)
	}
	if infoHashRE.FindString(mk.stdout.String()) == "" {
		t.Fatalf("lt_peer.py create printed no info hash: %q", mk.stdout.String())
	}

	seed := startProc(ctx, t, "lt-seed", debianPython, script, "seed", torrent, srcParent, "--port", "0")
	seedAddr := seed.listenAddr(ctx, t)
	out := filepath.Join(dir, "out")
	get := startProc(ctx, t, "lt-get", debianPython, script, "get", torrent, out,
		"--port", "0", "--peer", seedAddr, "--timeout", "90")
	mustFinish(ctx, t, get)
	sameTree(t, src, filepath.Join(out, "payload"))
	if err := get.waitStderr(ctx, "finished line", func(s string) bool { return finishedRE.MatchString(s) }); err != nil {
		t.Fatal(err)
	}
}

var finishedRE = regexp.MustCompile(`finished: all \d+ pieces verified`)
