package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/shoal-p2p/shoal/sim"
)

// runSim runs the discrete-event simulator (package sim): the real swarm
// core over a modelled network, and prints the report.
func runSim(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	peers := fs.Int("peers", 20, "number of receivers N")
	size := rateFlag(256e6)
	fs.Var(&size, "size", "`SIZE` of the file, e.g. 256MB or 5GB")
	link := rateFlag(50e6)
	fs.Var(&link, "link", "upload and download `RATE` of every receiver, per second")
	var originLink, slowLink, pieceLen rateFlag
	fs.Var(&originLink, "origin-link", "upload `RATE` of the origin (default: --link)")
	latency := fs.Duration("latency", time.Millisecond, "one-way latency between hosts")
	fs.Var(&pieceLen, "piece-length", "piece length in `BYTES` (default: as shoal create picks)")
	bpp := fs.Int("blocks-per-piece", 0, "blocks the core sees per piece; fewer than PieceLength/16KiB coarsens blocks (0: automatic)")
	seed := fs.Int64("seed", 1, "random seed; the same seed gives the same run")
	jsonOut := fs.String("json", "", "append the report as one JSON object (one line) to `FILE`")
	svgOut := fs.String("svg", "", "write the completion CDF as SVG to `FILE`")
	slowFrac := fs.Float64("slow-fraction", 0, "fraction of receivers on the slow link")
	fs.Var(&slowLink, "slow-link", "upload and download `RATE` of slow receivers")
	churn := fs.Float64("churn", 0, "fraction of receivers that leave part-way through")
	originLeaves := fs.Bool("origin-leaves", false, "the origin leaves once every piece left it once and two receivers still present hold every piece")
	joinSpread := fs.Duration("join-spread", 0, "spread the receivers' starts over this span")
	maxPeers := fs.Int("max-peers", 0, "connections per host (0: the client's default, 80)")
	maxTime := fs.Duration("max-time", 0, "give up after this much simulated time (default: 120s + 100 × floor)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	timeline := fs.Bool("timeline", false, "print the run's timeline: link use and queue depths per bin")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	memProfile := fs.String("memprofile", "", "write a heap profile to `file` after the run (live heap as of its last garbage collection)")
	extra := addSimExtraFlags(fs) // racks, policy, comparators: simcompare.go
	if _, err := parseFlags(fs, args, 0, 0, ""); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	cfg := sim.Config{
		Peers: *peers, Size: int64(size), Link: float64(link), OriginLink: float64(originLink),
		Latency: *latency, PieceLength: int64(pieceLen), BlocksPerPiece: *bpp, Seed: *seed,
		SlowFraction: *slowFrac, SlowLink: float64(slowLink), Churn: *churn, OriginLeaves: *originLeaves,
		JoinSpread: *joinSpread, MaxTime: *maxTime, MaxPeers: *maxPeers,
	}
	start := time.Now()
	lastLine := start
	cfg.Progress = func(now time.Duration, done, total int) {
		if !*quiet && time.Since(lastLine) >= 5*time.Second {
			lastLine = time.Now()
			fmt.Fprintf(os.Stderr, "  simulated %.1fs: %d/%d receivers done (wall %.0fs)\n",
				now.Seconds(), done, total, time.Since(start).Seconds())
		}
	}
	if *extra.fromJSON != "" {
		return redrawSimCompare(*extra.fromJSON, *svgOut)
	}
	systems, policies, err := extra.apply(&cfg)
	if err != nil {
		return err
	}
	if len(systems) > 1 || len(policies) > 1 || systems[0].Kind != sim.SystemShoal {
		return runSimCompare(ctx, cfg, extra, systems, policies, *jsonOut, *svgOut)
	}
	cfg.RandomPeers = policies[0] == "random"
	cfg.HandoutOnly = policies[0] == "handout"
	extra.setPolicy(&cfg)
	peak := newHeapPeak()
	rep, err := sim.Run(ctx, cfg)
	wall := time.Since(start)
	heap := peak.stop()
	if *memProfile != "" {
		if werr := writeHeapProfile(*memProfile); werr != nil {
			return werr
		}
	}
	if rep == nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err
	}
	rep.SimWallS, rep.SimPeakHeapBytes = wall.Seconds(), heap
	printSimReport(rep, *timeline)
	printRackReport(rep)
	printChurnReport(rep)
	if *jsonOut != "" {
		if werr := appendJSON(*jsonOut, rep); werr != nil {
			return werr
		}
	}
	if *svgOut != "" {
		f, werr := os.Create(*svgOut)
		if werr != nil {
			return werr
		}
		if werr := rep.WriteSVG(f); werr != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", *svgOut, werr)
		}
		if werr := f.Close(); werr != nil {
			return werr
		}
	}
	return err
}

func printSimReport(r *sim.Report, timeline bool) {
	fmt.Printf("shoal sim: %d receivers, %s file in %d pieces of %s (simulated blocks of %s), links %s/s (origin %s/s), latency %v, seed %d\n",
		r.Peers, formatBytes(float64(r.SizeBytes)), r.Pieces, formatBytes(float64(r.PieceLength)),
		formatBytes(float64(r.BlockBytes)), formatBytes(r.LinkBytesPerS), formatBytes(r.OriginLinkBytesPerS),
		time.Duration(r.LatencyS*1e9), r.Seed)
	fmt.Printf("  T_last %.3fs  p50 %.3fs  p90 %.3fs  p99 %.3fs\n", r.TLastS, r.P50S, r.P90S, r.P99S)
	fmt.Printf("  floor T_min %.3fs  efficiency %.3f  single source N*F/u_s %.3fs\n", r.FloorS, r.Efficiency, r.SingleSourceS)
	fmt.Printf("  origin egress %.2f copies of F", r.OriginEgressRatio)
	if r.Churned > 0 {
		fmt.Printf("  churned %d", r.Churned)
	}
	if r.Incomplete > 0 {
		fmt.Printf("  INCOMPLETE %d", r.Incomplete)
	}
	fmt.Println()
	for _, c := range r.Classes {
		fmt.Printf("  %s receivers (%d, %s/s): floor %.3fs  T_last %.3fs  p50 %.3fs  p99 %.3fs (%.3f x floor)  efficiency %.3f",
			c.Name, c.Hosts, formatBytes(c.LinkBytesPerS), c.FloorS, c.TLastS, c.P50S, c.P99S, c.P99Ratio, c.Efficiency)
		if c.Incomplete > 0 {
			fmt.Printf("  INCOMPLETE %d", c.Incomplete)
		}
		fmt.Println()
	}
	if d := r.Diagnosis; d != nil {
		lb, mb := d.LastBreakdown, d.MeanBreakdown
		fmt.Printf("  time beyond the floor: last receiver %.3fs = start-up %.3fs + steady %.3fs + tail %.3fs; mean %.3fs = %.3f + %.3f + %.3f\n",
			lb.StartupS+lb.SteadyS+lb.TailS, lb.StartupS, lb.SteadyS, lb.TailS,
			mb.StartupS+mb.SteadyS+mb.TailS, mb.StartupS, mb.SteadyS, mb.TailS)
		fmt.Printf("  first block p50 %.4fs max %.4fs; first piece p50 %.4fs max %.4fs; origin's first copy done %.3fs (its link idle %.3fs before); piece spread p50 %.4fs p99 %.4fs max %.4fs\n",
			d.FirstByte.P50, d.FirstByte.Max, d.FirstPiece.P50, d.FirstPiece.Max, d.OriginFirstCopyS, d.OriginIdleS,
			d.PieceSpread.P50, d.PieceSpread.P99, d.PieceSpread.Max)
		for _, st := range d.Slowest {
			b := st.Breakdown
			lost := ""
			if st.PeersLost > 0 {
				lost = fmt.Sprintf(", %d lost to receivers leaving", st.PeersLost)
			}
			fmt.Printf("  late: host %d done %.3fs (first block %.4fs, piece %.4fs; peers %d-%d%s; held %.0f%% at the origin's first copy; start-up %.3f + steady %.3f + tail %.3f)\n",
				st.Host, st.FinishS, st.FirstByteS, st.FirstPieceS, st.PeersMin, st.PeersMax, lost, 100*st.HeldAtOut, b.StartupS, b.SteadyS, b.TailS)
		}
		if timeline {
			fmt.Printf("  timeline (per receiver: link use, requests out, peers' requests held, pieces in progress; idle uploads by cause)\n")
			fmt.Printf("  %8s %6s %6s %6s %6s %6s %8s %8s %7s %6s %6s | %5s %5s %5s\n", "t(s)", "o_up", "r_up", "r_down", "useful", "done",
				"reqs", "queued", "maxq", "conns", "pieces", "idle:", "held", "cong")
			for _, b := range d.Timeline {
				fmt.Printf("  %8.4f %6.3f %6.3f %6.3f %6.3f %6.3f %8.1f %8.1f %7d %6.1f %6.1f | %5.2f %5.2f %5.2f\n", b.StartS, b.OriginUp, b.RecvUp, b.RecvDown,
					b.UsefulDown, b.Done, b.Requests, b.Queued, b.MaxQueued, b.Conns, b.Pieces,
					b.UpIdleNothing, b.UpIdleHeld, b.UpIdleCongested)
			}
		}
	}
	fmt.Printf("  simulation: wall %.1fs, peak heap %s, %d block deliveries\n",
		r.SimWallS, formatBytes(float64(r.SimPeakHeapBytes)), r.Deliveries)
}

// appendJSON appends r as one line of JSON to path.
func appendJSON(path string, r *sim.Report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// heapPeak samples the live heap in the background and keeps the maximum.
// It also applies the simulator's collector settings for the run (simgc.go)
// and restores the default when stopped.
type heapPeak struct {
	stopc chan struct{}
	done  chan uint64
	gc    *simGC
}

func newHeapPeak() *heapPeak {
	p := &heapPeak{stopc: make(chan struct{}), done: make(chan uint64), gc: tuneSimGC()}
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: liveHeapMetric}}
		var peak uint64
		read := func() {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				peak = max(peak, sample[0].Value.Uint64())
			}
			p.gc.watch(readLiveHeap(sample))
		}
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-p.stopc:
				read()
				p.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// stop ends sampling and returns the peak heap in bytes.
func (p *heapPeak) stop() uint64 {
	close(p.stopc)
	runtime.KeepAlive(p)
	peak := <-p.done
	p.gc.off()
	return peak
}

// printChurnReport prints what the receivers that left cost, if any did
// (sim.ChurnReport).
func printChurnReport(r *sim.Report) {
	c := r.ChurnFigures
	if c == nil {
		return
	}
	fmt.Printf("  churn: the %d that left had received %.2f F and uploaded %.2f F; of those that stayed, %d lost peers to them (mean %.1f, max %d): last of them done %.3fs, of the others %.3fs\n",
		r.Churned, c.InRatio, c.OutRatio, c.HitHosts, c.PeersLostMean, c.PeersLostMax, c.TLastHitS, c.TLastUnhitS)
}
