package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
	"github.com/shoal-p2p/shoal/metainfo"
)

// The interop tests against the BitTorrent daemons Debian ships
// (Transmission, qBittorrent, rtorrent) in both directions: the daemon
// seeds and a Shoal getter downloads, and a Shoal seeder serves the daemon,
// which learns of it from a Shoal tracker (Transmission and rtorrent have
// no "connect to this address" command, so all three go through one).
// Payloads are a few MiB over two files
// so the runs stay short; deadlines are generous and no speed is asserted
// (speed figures are in docs/BENCHMARKS.md, from TestInteropDaemonBench).

// daemon is what the tests need from a driver in e2e/harness.
type daemon interface {
	// add starts the torrent with its data in (or downloaded into) dir.
	add(ctx context.Context, t testing.TB, torrent, dir string)
	// waitDone waits until the torrent is verified and complete.
	waitDone(ctx context.Context, t testing.TB)
	// peerAddr is where the daemon accepts peers.
	peerAddr() string
}

// creator is a daemon that comes with its own torrent maker; the tests
// where it seeds use that instead of `shoal create`, so Shoal reads a
// torrent the other client wrote.
type creator interface {
	create(ctx context.Context, t testing.TB, content, out string)
}

// daemonClients are the daemons, each with the function that starts one
// (skipping the test when it is not installed).
var daemonClients = []struct {
	name  string
	start func(ctx context.Context, t testing.TB) daemon
}{
	{"transmission", startTransmission},
	{"qbittorrent", startQBittorrent},
	{"rtorrent", startRTorrent},
}

// daemonPayload is the few-MiB, two-file payload of the daemon tests: a
// file that does not end on a piece boundary and a small one in a
// subfolder, so the multi-file layout is checked too.
func daemonPayload(t *testing.T, root string, size int64) {
	t.Helper()
	harness.WriteTree(t, root, 11,
		harness.FileSpec{Path: "big.bin", Size: size},
		harness.FileSpec{Path: "sub/small.bin", Size: 70<<10 + 9},
	)
}

// daemonPieceLength is the piece length of the daemon tests' torrents.
const daemonPieceLength = 256 << 10

// TestInteropDaemons runs, for every daemon, "DAEMON-seeds" (the daemon
// seeds, a Shoal getter downloads) and "DAEMON-gets" (a Shoal seeder
// serves the daemon), all in parallel: each has its own processes, ports
// and folders, and most of their time is spent waiting on the daemons'
// timers.
func TestInteropDaemons(t *testing.T) {
	for _, c := range daemonClients {
		t.Run(c.name+"-seeds", func(t *testing.T) {
			t.Parallel()
			ctx := harness.Context(t, 3*time.Minute)
			dir := t.TempDir()
			d := c.start(ctx, t)
			torrent, src := daemonSeeds(ctx, t, d, dir, 3<<20+77)
			out := filepath.Join(dir, "out")
			getter := shoal.StartGetter(ctx, t, "shoal-get", torrent, out, "--peer", d.peerAddr())
			getter.MustFinish(ctx, t)
			harness.SameTree(t, src, filepath.Join(out, "payload"))
			t.Log(getter.Stderr().Tail(2))
		})
		t.Run(c.name+"-gets", func(t *testing.T) {
			t.Parallel()
			ctx := harness.Context(t, 3*time.Minute)
			dir := t.TempDir()
			tracker := shoal.Start(ctx, t, "tracker", "tracker", "--listen", "127.0.0.1:0", "--udp-listen", "off", "--interval", "5s")
			announce := fmt.Sprintf("http://%s/announce", tracker.ListenAddr(ctx, t))
			src := filepath.Join(dir, "src", "payload")
			daemonPayload(t, src, 3<<20+77)
			torrent := filepath.Join(dir, "payload.torrent")
			shoal.CreateTorrent(ctx, t, src, torrent, daemonPieceLength, announce)
			shoal.StartSeeder(ctx, t, "shoal-seed", torrent, src, "--tracker", announce)

			d := c.start(ctx, t)
			out := filepath.Join(dir, "out")
			d.add(ctx, t, torrent, out)
			d.waitDone(ctx, t)
			harness.SameTree(t, src, filepath.Join(out, "payload"))
		})
	}
}

// daemonSeeds writes a payload of about size bytes, makes its torrent (with
// d's own maker if it has one, else `shoal create`) and has d seed it; it
// returns the torrent and the payload.
func daemonSeeds(ctx context.Context, t *testing.T, d daemon, dir string, size int64) (torrent, src string) {
	t.Helper()
	srcParent := filepath.Join(dir, "src")
	src = filepath.Join(srcParent, "payload")
	daemonPayload(t, src, size)
	torrent = filepath.Join(dir, "payload.torrent")
	if c, ok := d.(creator); ok {
		c.create(ctx, t, src, torrent)
	} else {
		shoal.CreateTorrent(ctx, t, src, torrent, daemonPieceLength)
	}
	d.add(ctx, t, torrent, srcParent)
	d.waitDone(ctx, t) // verified its copy: it now seeds
	return torrent, src
}

// transmissionDaemon adapts harness.Transmission to daemon for one torrent.
type transmissionDaemon struct {
	tr *harness.Transmission
	id int
}

func startTransmission(ctx context.Context, t testing.TB) daemon {
	if testing.Short() {
		t.Skip("slow: Transmission connects to new peers after about 10 s and unchokes them at its next 10 s rechoke; skipped with -short")
	}
	return &transmissionDaemon{tr: harness.StartTransmission(ctx, t, "transmission")}
}

func (d *transmissionDaemon) add(ctx context.Context, t testing.TB, torrent, dir string) {
	d.id = d.tr.Add(ctx, t, torrent, dir)
}

func (d *transmissionDaemon) waitDone(ctx context.Context, t testing.TB) { d.tr.WaitDone(ctx, t, d.id) }

func (d *transmissionDaemon) peerAddr() string { return d.tr.PeerAddr }

func (d *transmissionDaemon) create(ctx context.Context, t testing.TB, content, out string) {
	harness.TransmissionCreate(ctx, t, content, out, daemonPieceLength>>10)
}

// qbittorrentDaemon adapts harness.QBittorrent to daemon for one torrent.
type qbittorrentDaemon struct {
	q  *harness.QBittorrent
	ih metainfo.InfoHash
}

func startQBittorrent(ctx context.Context, t testing.TB) daemon {
	return &qbittorrentDaemon{q: harness.StartQBittorrent(ctx, t, "qbittorrent")}
}

func (d *qbittorrentDaemon) add(ctx context.Context, t testing.TB, torrent, dir string) {
	d.ih = d.q.Add(ctx, t, torrent, dir)
}

func (d *qbittorrentDaemon) waitDone(ctx context.Context, t testing.TB) { d.q.WaitDone(ctx, t, d.ih) }

func (d *qbittorrentDaemon) peerAddr() string { return d.q.PeerAddr }

// rtorrentDaemon adapts harness.RTorrent to daemon for one torrent.
type rtorrentDaemon struct {
	r  *harness.RTorrent
	ih metainfo.InfoHash
}

func startRTorrent(ctx context.Context, t testing.TB) daemon {
	return &rtorrentDaemon{r: harness.StartRTorrent(ctx, t, "rtorrent")}
}

func (d *rtorrentDaemon) add(ctx context.Context, t testing.TB, torrent, dir string) {
	d.ih = d.r.Add(ctx, t, torrent, dir)
}

func (d *rtorrentDaemon) waitDone(ctx context.Context, t testing.TB) { d.r.WaitDone(ctx, t, d.ih) }

func (d *rtorrentDaemon) peerAddr() string { return d.r.PeerAddr }

// TestInteropDaemonBench prints how long a Shoal getter and a libtorrent
// getter take to fetch 24 MiB from a Transmission seeder on loopback, three
// times each, interleaved. It is a measurement, not a test (run it with
// SHOAL_INTEROP_BENCH=1 and -v; docs/BENCHMARKS.md quotes it). Every
// getter gets a fresh seeder: Transmission 3.00 keeps one record per IP
// address, so once one loopback peer finished, it turns away the next as
// a fellow seed. Transmission unchokes a new peer at its next rechoke
// (every 10 s), so each time includes up to 10 s of waiting for that.
func TestInteropDaemonBench(t *testing.T) {
	if os.Getenv("SHOAL_INTEROP_BENCH") == "" {
		t.Skip("a measurement: set SHOAL_INTEROP_BENCH=1 to run it")
	}
	const size = 24 << 20
	script := needLibtorrent(t)
	fetch := func(t *testing.T, get func(ctx context.Context, torrent, addr, out string) *harness.Proc) time.Duration {
		ctx := harness.Context(t, 10*time.Minute)
		dir := t.TempDir()
		tr := startTransmission(ctx, t)
		torrent, src := daemonSeeds(ctx, t, tr, dir, size)
		out := filepath.Join(dir, "out")
		start := time.Now()
		get(ctx, torrent, tr.peerAddr(), out).MustFinish(ctx, t)
		took := time.Since(start)
		harness.SameTree(t, src, filepath.Join(out, "payload"))
		return took
	}
	for run := 1; run <= 3; run++ {
		var shoalTime, ltTime time.Duration
		t.Run(fmt.Sprintf("shoal%d", run), func(t *testing.T) {
			shoalTime = fetch(t, func(ctx context.Context, torrent, addr, out string) *harness.Proc {
				return shoal.StartGetter(ctx, t, "shoal-get", torrent, out, "--peer", addr)
			})
		})
		t.Run(fmt.Sprintf("libtorrent%d", run), func(t *testing.T) {
			ltTime = fetch(t, func(ctx context.Context, torrent, addr, out string) *harness.Proc {
				return harness.Start(ctx, t, "lt-get", harness.Python, script, "get", torrent, out,
					"--port", "0", "--peer", addr, "--timeout", "600")
			})
		})
		t.Logf("run %d, 24 MiB from transmission: shoal %.1f s (%.2f MB/s), libtorrent %.1f s (%.2f MB/s)", run,
			shoalTime.Seconds(), size/shoalTime.Seconds()/1e6, ltTime.Seconds(), size/ltTime.Seconds()/1e6)
	}
}
