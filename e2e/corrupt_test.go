package e2e

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

var banRE = regexp.MustCompile(`(?im)^.*\bban.*$`)

// TestCorruptPeerBanned gives a getter two peers: an evil one that answers
// every request at once with random bytes, and an honest seeder. The getter
// must notice the bad pieces, ban the evil peer (and say so on stderr), and
// still finish with a byte-identical copy from the honest seeder.
func TestCorruptPeerBanned(t *testing.T) {
	ctx := harness.Context(t, 3*time.Minute)
	dir := t.TempDir()
	const size, pieceLen = 16 << 20, 256 << 10
	src := filepath.Join(dir, "src", "data.bin")
	harness.WriteTree(t, filepath.Join(dir, "src"), 3, harness.FileSpec{Path: "data.bin", Size: size})
	torrent := filepath.Join(dir, "data.torrent")
	ih := shoal.CreateTorrent(ctx, t, src, torrent, pieceLen)

	evil := startEvilPeer(t, ih, size/pieceLen)
	_, honest := shoal.StartSeeder(ctx, t, "honest-seeder", torrent, src)

	out := filepath.Join(dir, "out")
	getter := shoal.StartGetter(ctx, t, "getter", torrent, out, "--peer", evil.addr(), "--peer", honest)
	getter.MustFinish(ctx, t)
	harness.SameTree(t, src, filepath.Join(out, "data.bin"))

	if n := evil.blocksSent.Load(); n == 0 {
		t.Fatalf("the getter never took a block from the evil peer (%d handshakes); the ban path was not exercised", evil.conns.Load())
	}
	line := banRE.FindString(getter.Stderr().String())
	if line == "" {
		t.Fatalf("getter took %d garbage blocks but its stderr never mentions a ban", evil.blocksSent.Load())
	}
	t.Logf("evil peer sent %d garbage blocks; getter said: %s", evil.blocksSent.Load(), line)
}
