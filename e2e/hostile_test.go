package e2e

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// silentFlood keeps n connections from the loopback address src to addr
// open without ever sending a byte; each one the server closes is opened
// again a second later, as an attacker holding the handshake budget would.
// It returns once every connection was opened once, and stops when ctx
// ends.
func silentFlood(ctx context.Context, t *testing.T, src, addr string, n int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	probe, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Skipf("cannot dial from %s (needs Linux loopback): %v", src, err)
	}
	probe.Close()
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() { cancel(); wg.Wait() })
	var opened sync.WaitGroup
	opened.Add(n)
	for range n {
		wg.Go(func() {
			first := true
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if first {
					first = false
					opened.Done()
				}
				if err == nil {
					stop := context.AfterFunc(ctx, func() { c.Close() })
					var b [1]byte
					c.Read(b[:]) // until the server closes it
					stop()
					c.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		})
	}
	opened.Wait()
}

// TestLibtorrentGetsDespiteSilentFlood: 328 connections from three loopback
// addresses that never send a handshake (and come back when closed) are
// held against a Shoal seeder, more than its whole handshake budget; a real
// libtorrent getter from 127.0.0.1 must still fetch the torrent. Before the
// handshake gate this locked every new peer out (libtorrent got 0%).
func TestLibtorrentGetsDespiteSilentFlood(t *testing.T) {
	script := needLibtorrent(t)
	ctx := harness.Context(t, 2*time.Minute)
	dir := t.TempDir()
	src := filepath.Join(dir, "src", "payload")
	harness.WriteTree(t, src, 8, harness.FileSpec{Path: "data.bin", Size: 4<<20 + 7})
	torrent := filepath.Join(dir, "payload.torrent")
	shoal.CreateTorrent(ctx, t, src, torrent, 256<<10)
	_, seedAddr := shoal.StartSeeder(ctx, t, "shoal-seed", torrent, src)

	silentFlood(ctx, t, "127.0.0.2", seedAddr, 200)
	silentFlood(ctx, t, "127.0.0.3", seedAddr, 64)
	silentFlood(ctx, t, "127.0.0.4", seedAddr, 64)

	out := filepath.Join(dir, "out")
	lt := harness.Start(ctx, t, "lt-get", harness.Python, script, "get", torrent, out,
		"--port", "0", "--peer", seedAddr, "--timeout", "60")
	lt.MustFinish(ctx, t)
	harness.SameTree(t, src, filepath.Join(out, "payload"))
}
