package trackerinterop

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// shoal is the binary built once for every test in the package.
var shoal harness.Binary

func TestMain(m *testing.M) { os.Exit(shoal.Main(m)) }

var udpListeningRE = regexp.MustCompile(`udp listening on (\S+)`)

// startTracker runs `shoal tracker` on a loopback port and returns its
// host:port (HTTP on TCP and BEP 15 on UDP share it).
func startTracker(ctx context.Context, t testing.TB, name string, extra ...string) string {
	t.Helper()
	p := shoal.Start(ctx, t, name, append([]string{"tracker", "--listen", "127.0.0.1:0"}, extra...)...)
	addr := p.ListenAddr(ctx, t)
	p.WaitMatch(ctx, t, udpListeningRE)
	return addr
}

// createTorrent runs shoal create with 64 KiB pieces and returns the info
// hash in lower-case hex.
func createTorrent(ctx context.Context, t testing.TB, content, out string, trackers ...string) string {
	t.Helper()
	ih := shoal.CreateTorrent(ctx, t, content, out, 64<<10, trackers...)
	return hex.EncodeToString(ih[:])
}

// freePort returns a loopback port free for both TCP and UDP right now.
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// payload writes size pseudo-random bytes to dir/payload.bin and returns
// its path.
func payload(t testing.TB, dir string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, "payload.bin")
	harness.WriteRandomFile(t, p, size, uint64(size))
	return p
}
