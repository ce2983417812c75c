package discovery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// swarmNodes is the size of the loopback swarms: one seeder and
// swarmNodes-1 getters.
const swarmNodes = 20

// timing is what one getter reports on its "discovery:" line.
type timing struct{ firstPeer, metadata, complete float64 }

// runSwarm starts a seeder and swarmNodes-1 getters that have only a
// magnet link, and checks every copy. mode says how they find peers:
// "dht" (no tracker; everyone bootstraps from one `shoal dht` node),
// "tracker" (the magnet names a tracker; no DHT) or "pex" (no tracker, no
// DHT; the magnet names the seeder, and the other getters come by PEX).
func runSwarm(ctx context.Context, t *testing.T, mode string, size int) []timing {
	t.Helper()
	dir := t.TempDir()
	content := filepath.Join(dir, "src", "payload.bin")
	harness.WriteRandomFile(t, content, int64(size), uint64(len(mode)))
	var trackers, seedArgs, getArgs []string
	switch mode {
	case "dht":
		boot := startDHTNode(ctx, t)
		seedArgs = []string{"--dht-bootstrap", boot}
		getArgs = []string{"--dht-bootstrap", boot}
	case "tracker":
		tr := shoal.Start(ctx, t, "tracker", "tracker", "--listen", "127.0.0.1:0", "--udp-listen", "off")
		trackers = []string{fmt.Sprintf("http://%s/announce", tr.ListenAddr(ctx, t))}
	case "pex":
		seedArgs = []string{"--dht=false"}
		getArgs = []string{"--dht=false"}
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	torrent := create(ctx, t, content, filepath.Join(dir, "payload.torrent"), trackers...)
	_, seedAddr, magnet := startSeed(ctx, t, torrent, content, seedArgs...)
	if mode == "pex" {
		magnet += "&x.pe=" + seedAddr
	}
	if mode == "dht" && strings.Contains(magnet, "tr=") {
		t.Fatalf("tracker-less magnet names a tracker: %s", magnet)
	}
	getters := make([]*harness.Proc, swarmNodes-1)
	outs := make([]string, len(getters))
	for i := range getters {
		outs[i] = filepath.Join(dir, fmt.Sprintf("get%02d", i))
		getters[i] = startGet(ctx, t, fmt.Sprintf("getter%02d", i), magnet, outs[i], getArgs...)
	}
	var ts []timing
	for i, p := range getters {
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
		harness.SameTree(t, content, filepath.Join(outs[i], "payload.bin"))
		m := discoveryRE.FindStringSubmatch(p.Stderr().String())
		if m == nil {
			t.Fatalf("%s printed no discovery line:\n%s", p.Name(), p.Stderr().Tail(5))
		}
		var tm timing
		tm.firstPeer, _ = strconv.ParseFloat(m[1], 64)
		tm.metadata, _ = strconv.ParseFloat(m[2], 64)
		tm.complete, _ = strconv.ParseFloat(m[3], 64)
		if tm.firstPeer <= 0 || tm.metadata < tm.firstPeer {
			t.Errorf("%s: first peer after %vs, metadata after %vs", p.Name(), tm.firstPeer, tm.metadata)
		}
		ts = append(ts, tm)
	}
	return ts
}

// TestTrackerlessSwarm: 20 shoal nodes on loopback bootstrapped from one
// DHT node, one seeder, the others given only the magnet link (no
// tracker, no peer address): all complete with byte-identical copies.
func TestTrackerlessSwarm(t *testing.T) {
	if testing.Short() {
		t.Skip("20 processes; skipped with -short")
	}
	ctx := harness.Context(t, 4*time.Minute)
	ts := runSwarm(ctx, t, "dht", 8<<20)
	t.Logf("dht: %s", summary(ts))
}

// TestTrackerKilledMidSwarm: a tracker-coordinated swarm that also runs
// the DHT and PEX loses its tracker (SIGKILL) while the download is under
// way. The swarm still completes, and getters started after the kill,
// whose torrent names only the dead tracker, find peers anyway.
func TestTrackerKilledMidSwarm(t *testing.T) {
	if testing.Short() {
		t.Skip("many processes; skipped with -short")
	}
	ctx := harness.Context(t, 4*time.Minute)
	dir := t.TempDir()
	content := filepath.Join(dir, "src", "payload.bin")
	harness.WriteRandomFile(t, content, 24<<20, 7)
	tr := shoal.Start(ctx, t, "tracker", "tracker", "--listen", "127.0.0.1:0", "--udp-listen", "off")
	announce := fmt.Sprintf("http://%s/announce", tr.ListenAddr(ctx, t))
	boot := startDHTNode(ctx, t)
	torrent := create(ctx, t, content, filepath.Join(dir, "payload.torrent"), announce)
	// A slow seeder keeps the swarm busy long enough to kill the tracker
	// in the middle.
	startSeed(ctx, t, torrent, content, "--dht", "--dht-bootstrap", boot, "--up-limit", "3MB")

	var getters []*harness.Proc
	var outs []string
	start := func(group string, n int) {
		for i := range n {
			out := filepath.Join(dir, fmt.Sprintf("%s%d", group, i))
			outs = append(outs, out)
			getters = append(getters, startGet(ctx, t, fmt.Sprintf("%s%d", group, i), torrent, out,
				"--dht", "--dht-bootstrap", boot))
		}
	}
	start("before", 6)
	getters[0].WaitMatch(ctx, t, regexp.MustCompile(`progress +[1-9]\d?\.\d%`))
	for _, p := range getters {
		if p.Stderr().String() != "" && strings.Contains(p.Stderr().String(), "complete:") {
			t.Fatalf("%s finished before the tracker was killed: the test needs a slower swarm", p.Name())
		}
	}
	if err := tr.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("tracker killed")
	start("after", 4)
	for i, p := range getters {
		if err := p.Wait(ctx); err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
		harness.SameTree(t, content, filepath.Join(outs[i], "payload.bin"))
	}
}

// TestDiscoveryBench measures, in the 20-node swarm, how long a
// magnet-only getter takes to find its first peer, to get the metadata
// and to finish, with a tracker, with the DHT and with PEX only. It is a
// report, not a check: run it with SHOAL_DISCOVERY_BENCH=1 (figures in
// docs/BENCHMARKS.md).
func TestDiscoveryBench(t *testing.T) {
	if os.Getenv("SHOAL_DISCOVERY_BENCH") == "" {
		t.Skip("set SHOAL_DISCOVERY_BENCH=1 to run the discovery benchmark")
	}
	ctx := harness.Context(t, 10*time.Minute)
	for _, mode := range []string{"tracker", "dht", "pex"} {
		t.Run(mode, func(t *testing.T) {
			ts := runSwarm(ctx, t, mode, 32<<20)
			t.Logf("BENCH %s: %s", mode, summary(ts))
		})
	}
}

// summary gives the median and maximum of each figure.
func summary(ts []timing) string {
	pick := func(f func(timing) float64) (float64, float64) {
		var v []float64
		for _, t := range ts {
			v = append(v, f(t))
		}
		slices.Sort(v)
		return v[len(v)/2], v[len(v)-1]
	}
	fm, fx := pick(func(t timing) float64 { return t.firstPeer })
	mm, mx := pick(func(t timing) float64 { return t.metadata })
	cm, cx := pick(func(t timing) float64 { return t.complete })
	return fmt.Sprintf("first peer median %.3fs max %.3fs; metadata median %.3fs max %.3fs; complete median %.2fs max %.2fs (n=%d)",
		fm, fx, mm, mx, cm, cx, len(ts))
}
