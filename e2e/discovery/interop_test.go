package discovery

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// needLibtorrent skips the test without python3-libtorrent and returns the
// path of the lt_dht.py driver, which shares e2e/testdata with the
// libtorrent session setup it imports (ltcommon.py).
func needLibtorrent(t *testing.T) string {
	t.Helper()
	return harness.NeedLibtorrent(t, filepath.Join("..", "testdata", "lt_dht.py"))
}

// TestInteropLibtorrentFindsShoalSeedByDHT: a libtorrent client whose DHT
// is bootstrapped from a Shoal DHT node, given only a magnet link, finds a
// Shoal seeder through the DHT, fetches the metadata from it (BEP 9) and
// downloads.
func TestInteropLibtorrentFindsShoalSeedByDHT(t *testing.T) {
	script := needLibtorrent(t)
	ctx := harness.Context(t, 3*time.Minute)
	dir := t.TempDir()
	content := filepath.Join(dir, "src", "payload.bin")
	harness.WriteRandomFile(t, content, 6<<20+17, 31)
	boot := startDHTNode(ctx, t)
	torrent := create(ctx, t, content, filepath.Join(dir, "payload.torrent"))
	_, _, magnet := startSeed(ctx, t, torrent, content, "--dht-bootstrap", boot)

	out := filepath.Join(dir, "out")
	lt := harness.Start(ctx, t, "lt-get", harness.Python, script, "get", magnet, out, "--bootstrap", boot, "--timeout", "150")
	if err := lt.Wait(ctx); err != nil {
		t.Fatalf("libtorrent getter: %v", err)
	}
	harness.SameTree(t, content, filepath.Join(out, "payload.bin"))
	t.Logf("libtorrent getter:\n%s", lt.Stderr().Tail(3))
}

// TestInteropShoalFindsLibtorrentSeedByDHT: a libtorrent seeder joins the
// DHT through a Shoal node and announces; a Shoal getter with only the
// magnet link finds it there, fetches the metadata and downloads.
func TestInteropShoalFindsLibtorrentSeedByDHT(t *testing.T) {
	script := needLibtorrent(t)
	ctx := harness.Context(t, 3*time.Minute)
	dir := t.TempDir()
	srcDir := filepath.Join(dir, "src")
	content := filepath.Join(srcDir, "payload.bin")
	harness.WriteRandomFile(t, content, 6<<20+17, 32)
	boot := startDHTNode(ctx, t)
	torrent := create(ctx, t, content, filepath.Join(dir, "payload.torrent"))
	ih := shoal.Start(ctx, t, "infohash", "seed", "--listen", "127.0.0.1:0", "--dht=false", torrent, content)
	magnet := ih.WaitMatch(ctx, t, magnetRE)[1]
	if err := ih.Kill(ctx); err != nil { // only wanted its magnet line
		t.Fatal(err)
	}

	lt := harness.Start(ctx, t, "lt-seed", harness.Python, script, "seed", torrent, srcDir, "--bootstrap", boot)
	lt.ListenAddr(ctx, t)
	out := filepath.Join(dir, "out")
	getter := startGet(ctx, t, "shoal-get", magnet, out, "--dht-bootstrap", boot)
	if err := getter.Wait(ctx); err != nil {
		t.Fatalf("shoal getter: %v", err)
	}
	harness.SameTree(t, content, filepath.Join(out, "payload.bin"))
	t.Logf("shoal getter: %s", discoveryRE.FindString(getter.Stderr().String()))
}
