package e2e

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

var banRE = regexp.MustCompile(`(?im)^.*\bban.*$`)

// TestCorruptPeerBanned gives a getter two peers: an evil one that answers
// every request at once with random bytes, and an honest seeder. The getter
// must notice the bad pieces, ban the evil peer (and say so on stderr), and
// still finish with a byte-identical copy from the honest seeder.
func TestCorruptPeerBanned(t *testing.T) {
	ctx := testContext(t, 3*time.Minute)
	dir := t.TempDir()
	const size, pieceLen = 16 << 20, 256 << 10
	src := filepath.Join(dir, "src", "data.bin")
	writeTree(t, filepath.Join(dir, "src"), 3, fileSpec{"data.bin", size})
	torrent := filepath.Join(dir, "data.torrent")
	ih := createTorrent(ctx, t, src, torrent, pieceLen)

	evil := startEvilPeer(t, ih, size/pieceLen)
	_, honest := startSeeder(ctx, t, "honest-seeder", torrent, src)

	out := filepath.Join(dir, "out")
	getter := startGetter(ctx, t, "getter", torrent, out, "--peer", evil.addr(), "--peer", honest)
	mustFinish(ctx, t, getter)
	sameTree(t, src, filepath.Join(out, "data.bin"))

	if n := evil.blocksSent.Load(); n == 0 {
		t.Fatalf("the getter never took a block from the evil peer (%d handshakes); the ban path was not exercised", evil.conns.Load())
	}
	line := banRE.FindString(getter.stderr.String())
	if line == "" {
		t.Fatalf("getter took %d garbage blocks but its stderr never mentions a ban", evil.blocksSent.Load())
	}
	t.Logf("evil peer sent %d garbage blocks; getter said: %s", evil.blocksSent.Load(), line)
}
