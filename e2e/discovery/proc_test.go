package discovery

import (
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// shoal is the binary built once for every test in the package.
var shoal harness.Binary

func TestMain(m *testing.M) { os.Exit(shoal.Main(m)) }

var (
	magnetRE    = regexp.MustCompile(`magnet link: (magnet:\S+)`)
	discoveryRE = regexp.MustCompile(`discovery: first peer after ([\d.]+)s, metadata after ([\d.]+)s, complete after ([\d.]+)s`)
)

// startDHTNode runs `shoal dht` on loopback and returns its address.
func startDHTNode(ctx context.Context, t *testing.T) string {
	t.Helper()
	p := shoal.Start(ctx, t, "dht-node", "dht", "--listen", "127.0.0.1:0")
	return p.ListenAddr(ctx, t)
}

// startSeed runs `shoal seed` for torrent and content, waits until it
// serves, and returns it with its TCP address and magnet link.
func startSeed(ctx context.Context, t *testing.T, torrent, content string, extra ...string) (*harness.Proc, string, string) {
	t.Helper()
	p, addr := shoal.StartSeeder(ctx, t, "seeder", torrent, content, extra...)
	return p, addr, p.WaitMatch(ctx, t, magnetRE)[1]
}

// startGet runs `shoal get` of what (a .torrent or a magnet) into out.
func startGet(ctx context.Context, t *testing.T, name, what, out string, extra ...string) *harness.Proc {
	t.Helper()
	return shoal.StartGetter(ctx, t, name, what, out, append([]string{"--stall-timeout", "90s"}, extra...)...)
}

// create runs `shoal create` with 256 KiB pieces and returns the torrent's
// path.
func create(ctx context.Context, t *testing.T, content, out string, trackers ...string) string {
	t.Helper()
	shoal.CreateTorrent(ctx, t, content, out, 256<<10, trackers...)
	return out
}
