package fleet

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/bench"
)

// BenchmarkFleetReleases measures release latency with N agent processes
// (default 30): for releases 1, 2 and 3 of 64 MiB, the time from publish
// to the first agent starting the release, to the first agent's first peer
// connection, and to the last agent holding it verified, against the
// Kumar-Ross floor at the agents' link limit; then an idle fleet's CPU and
// resident memory per agent while it seeds its releases and waits. It
// reports figures, it asserts nothing:
//
//	go test ./e2e/fleet -run '^$' -bench FleetReleases -benchtime 1x -v
func BenchmarkFleetReleases(b *testing.B) {
	const n, size, link = 30, 64 << 20, 20e6
	for range b.N {
		runFleetBench(b, n, size, link)
	}
}

// BenchmarkFleetSmallReleases is BenchmarkFleetReleases with releases of
// 4 MiB, where start-up and discovery weigh more than bandwidth:
//
//	go test ./e2e/fleet -run '^$' -bench FleetSmallReleases -benchtime 1x -v
func BenchmarkFleetSmallReleases(b *testing.B) {
	const n, size, link = 30, 4 << 20, 20e6
	for range b.N {
		runFleetBench(b, n, size, link)
	}
}

func runFleetBench(b *testing.B, n int, size int64, link float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	work := b.TempDir()
	_, announce := startTracker(ctx, b, "tracker", 0)
	limit := fmt.Sprintf("%.0f", link)
	origin := startAgent(ctx, b, "origin", filepath.Join(work, "origin"), []string{announce}, "--up-limit", limit)
	var agents []*agentProc
	for i := range n {
		name := fmt.Sprintf("agent%02d", i)
		agents = append(agents, startAgent(ctx, b, name, filepath.Join(work, name), []string{announce},
			"--subscribe", "build", "--up-limit", limit, "--down-limit", limit))
	}
	floor := bench.Floor(float64(size), link, link, link, n)
	b.Logf("N=%d agents, %d MiB releases, links %.0f MB/s: floor %.2fs", n, size>>20, link/1e6, floor)
	// fleetCPU sums the CPU seconds of the origin and every agent: with
	// other work on the machine, the figure that says whether a later
	// release costs the fleet more, whatever the wall clock does.
	fleetCPU := func() float64 {
		sum, _ := processMetrics(ctx, origin.url)
		for _, a := range agents {
			c, _ := processMetrics(ctx, a.url)
			sum += c
		}
		return sum
	}
	for k := 1; k <= 3; k++ {
		src := writeRelease(b, work, k, size)
		load0, _ := os.ReadFile("/proc/loadavg")
		cpu0 := fleetCPU()
		seq := publish(ctx, b, origin, src)
		waitCurrent(ctx, b, agents, seq)
		cpu := fleetCPU() - cpu0
		var first, firstPeer, last float64 = -1, -1, 0
		var done []float64
		for _, a := range agents {
			st, ok := a.releaseTorrent(ctx, seq)
			if !ok || st.Completed == nil {
				b.Fatalf("%s lost release %d", a.name, seq)
			}
			rels, _ := trackerReleases(ctx, announce)
			var pub time.Time
			for _, r := range rels {
				if r.Seq == seq {
					pub = r.PublishedAt
				}
			}
			start := st.Added.Sub(pub).Seconds()
			if first < 0 || start < first {
				first = start
			}
			if fp := start + st.FirstPeerSeconds; st.FirstPeerSeconds > 0 && (firstPeer < 0 || fp < firstPeer) {
				firstPeer = fp
			}
			last = max(last, st.Completed.Sub(pub).Seconds())
			done = append(done, st.Completed.Sub(pub).Seconds())
		}
		slices.Sort(done)
		b.Logf("release %d: first agent started %.3fs after publish, first peer %.3fs, complete p50 %.2fs p90 %.2fs last %.2fs (floor %.2fs, efficiency %.3f); fleet CPU %.1f s (%.2f s per GiB received); load before %s",
			seq, first, firstPeer, done[len(done)/2], done[len(done)*9/10], last, floor, floor/last,
			cpu, cpu/(float64(n)*float64(size)/(1<<30)), strings.Join(strings.Fields(string(load0))[:3], " "))
		b.ReportMetric(cpu, fmt.Sprintf("cpu-s-r%d", k))
		b.ReportMetric(last, fmt.Sprintf("s-last-r%d", k))
		b.ReportMetric(first, fmt.Sprintf("s-first-r%d", k))
	}
	// Idle: every agent seeds its releases and long-polls.
	cpu0 := map[string]float64{}
	for _, a := range agents {
		cpu0[a.name], _ = processMetrics(ctx, a.url)
	}
	const idle = 20 * time.Second
	time.Sleep(idle) // the measurement window itself, not a wait for a condition
	var cpu, rss []float64
	for _, a := range agents {
		c, r := processMetrics(ctx, a.url)
		cpu = append(cpu, (c-cpu0[a.name])/idle.Seconds())
		rss = append(rss, r/(1<<20))
	}
	slices.Sort(cpu)
	slices.Sort(rss)
	b.Logf("idle fleet over %s: agent CPU median %.2f%% max %.2f%% of one core; RSS median %.1f MiB max %.1f MiB",
		idle, 100*cpu[len(cpu)/2], 100*cpu[len(cpu)-1], rss[len(rss)/2], rss[len(rss)-1])
	for _, k := range slices.Sorted(maps.Keys(heapNotes)) {
		v := heapNotes[k]
		slices.Sort(v)
		b.Logf("idle %s: median %.1f MiB", k, v[len(v)/2])
	}
	clear(heapNotes)
	b.ReportMetric(100*cpu[len(cpu)/2], "idle-cpu-%")
	b.ReportMetric(rss[len(rss)/2], "idle-rss-MiB")
}

// heapNotes collects the agents' Go memory figures (MiB) for the log;
// the benchmark is the only writer.
var heapNotes = map[string][]float64{}

// processMetrics reads an agent's process CPU seconds and resident bytes
// from its /metrics.
func processMetrics(ctx context.Context, url string) (cpu, rss float64) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "process_cpu_seconds_total":
			cpu = v
		case "process_resident_memory_bytes":
			rss = v
		case "go_memstats_heap_inuse_bytes", "go_memstats_heap_released_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes":
			heapNotes[f[0]] = append(heapNotes[f[0]], v/(1<<20))
		}
	}
	return cpu, rss
}
