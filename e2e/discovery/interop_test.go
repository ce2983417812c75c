package discovery

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// debianPython is the interpreter that sees Debian's python3-libtorrent.
const debianPython = "/usr/bin/python3"

// needLibtorrent skips the test without python3-libtorrent and returns the
// path of the lt_dht.py driver.
func needLibtorrent(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(debianPython, "-c", "import libtorrent as lt; print(lt.__version__)").CombinedOutput()
	if err != nil {
		t.Skipf("libtorrent interop needs %s with python3-libtorrent: %v: %s", debianPython, err, out)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "lt_dht.py"))
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// TestInteropLibtorrentFindsShoalSeedByDHT: a libtorrent client whose DHT
// is bootstrapped from a Shoal DHT node, given only a magnet link, finds a
// Shoal seeder through the DHT, fetches the metadata from it (BEP 9) and
// downloads.
func TestInteropLibtorrentFindsShoalSeedByDHT(t *testing.T) {
	script := needLibtorrent(t)
	ctx := testContext(t, 3*time.Minute)
	dir := t.TempDir()
	content := filepath.Join(dir, "src", "payload.bin")
	data := payload(t, content, 6<<20+17, 31)
	boot := startDHTNode(ctx, t)
	torrent := create(ctx, t, content, filepath.Join(dir, "payload.torrent"))
	_, _, magnet := startSeed(ctx, t, torrent, content, "--dht-bootstrap", boot)

	out := filepath.Join(dir, "out")
	lt := startProc(ctx, t, "lt-get", debianPython, script, "get", magnet, out, "--bootstrap", boot, "--timeout", "150")
	if err := lt.wait(ctx); err != nil {
		t.Fatalf("libtorrent getter: %v", err)
	}
	sameFile(t, filepath.Join(out, "payload.bin"), data)
	t.Logf("libtorrent getter:\n%s", lt.stderr.tail(3))
}

// TestInteropShoalFindsLibtorrentSeedByDHT: a libtorrent seeder joins the
// DHT through a Shoal node and announces; a Shoal getter with only the
// magnet link finds it there, fetches the metadata and downloads.
func TestInteropShoalFindsLibtorrentSeedByDHT(t *testing.T) {
	script := needLibtorrent(t)
	ctx := testContext(t, 3*time.Minute)
	dir := t.TempDir()
	srcDir := filepath.Join(dir, "src")
	content := filepath.Join(srcDir, "payload.bin")
	data := payload(t, content, 6<<20+17, 32)
	boot := startDHTNode(ctx, t)
	torrent := create(ctx, t, content, filepath.Join(dir, "payload.torrent"))
	ih := startProc(ctx, t, "infohash", needShoal(t), "seed", "--listen", "127.0.0.1:0", "--dht=false", torrent, content)
	magnet := ih.waitMatch(ctx, t, magnetRE)[1]
	ih.kill() // only wanted its magnet line

	lt := startProc(ctx, t, "lt-seed", debianPython, script, "seed", torrent, srcDir, "--bootstrap", boot)
	lt.waitMatch(ctx, t, listeningRE)
	out := filepath.Join(dir, "out")
	getter := startGet(ctx, t, "shoal-get", magnet, out, "--dht-bootstrap", boot)
	if err := getter.wait(ctx); err != nil {
		t.Fatalf("shoal getter: %v", err)
	}
	sameFile(t, filepath.Join(out, "payload.bin"), data)
	t.Logf("shoal getter: %s", discoveryRE.FindString(getter.stderr.String()))
}
