package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/shoal-p2p/shoal/agent"
	"github.com/shoal-p2p/shoal/bench"
	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/tracker"
)

// cutSingle reports whether the demo's arguments ask for the single-torrent
// demo (--single) and returns them without that flag. Plain `shoal demo`
// runs the fleet scenario.
func cutSingle(args []string) (bool, []string) {
	rest := make([]string, 0, len(args))
	single := false
	for _, a := range args {
		if a == "--single" || a == "-single" {
			single = true
			continue
		}
		rest = append(rest, a)
	}
	return single, rest
}

// runFleetDemo is the fleet scenario in one process: a tracker, an origin
// agent and N agents subscribed to one channel, K releases published DUR
// apart. For each release it prints when the first agent started it and
// the last one had it verified and current, against the floor, and at the
// end the disk the agents hold after their keep bound and collector.
func runFleetDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	peers := fs.Int("peers", 20, "number of agents subscribed to the channel")
	releases := fs.Int("releases", 3, "number of releases to publish")
	every := fs.Duration("every", 15*time.Second, "time between two publishes")
	size := rateFlag(64e6)
	fs.Var(&size, "size", "`SIZE` of each release, e.g. 64MB or 256MB")
	link := rateFlag(25e6)
	fs.Var(&link, "link", "upload and download limit `RATE` of every host, per second")
	keep := fs.Int("keep", 2, "releases each agent keeps")
	keepDir := fs.Bool("keep-dir", false, "keep the working folder instead of deleting it")
	dirFlag := fs.String("dir", "", "working `folder` (default: a new temporary folder)")
	verbose := fs.Bool("verbose", false, "log the agents' events")
	diskProbe := rateFlag(256 << 20)
	fs.Var(&diskProbe, "disk-probe", "`SIZE` written and synced in the working folder to measure the disk the hosts share (0: skip)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of each release (publish to last complete) to `file`.rN")
	if _, err := parseFlags(fs, args, 0, 0, ""); err != nil {
		return err
	}
	if *peers < 1 || *releases < 1 || size < 1 || link <= 0 || *keep < 1 {
		return errors.New("--peers, --releases, --size, --link and --keep must be positive")
	}
	work := *dirFlag
	if work == "" {
		d, err := os.MkdirTemp("", "shoal-fleet-demo-*")
		if err != nil {
			return err
		}
		work = d
		if !*keepDir {
			defer os.RemoveAll(work)
		}
	}
	log := discardLogger()
	if *verbose {
		log = newLogger(true)
	}
	F, u, N := float64(int64(size)), float64(link), *peers

	// The tracker, with channels and a publish key.
	const key = "demo-publish-key"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	tsrv := tracker.NewServer(tracker.ServerConfig{Interval: 10 * time.Second, Logger: log,
		Channels: tracker.ChannelConfig{PublishKeys: tracker.NewPublishKeys(map[string]string{key: ""})}})
	srv := tsrv.HTTPServer()
	go srv.Serve(ln)
	defer srv.Close()
	announce := fmt.Sprintf("http://%s/announce", ln.Addr())
	fmt.Printf("tracker on %s (fleet page: http://%s/)\n", ln.Addr(), ln.Addr())

	newAgent := func(name string, subscribe []string) (*agent.Agent, error) {
		return agent.New(agent.Config{
			Dir: filepath.Join(work, name), ListenAddr: "127.0.0.1:0", Trackers: []string{announce},
			Subscribe: subscribe, Keep: *keep, UploadLimit: u, DownloadLimit: u, Name: name, Logger: log,
			ReportEvery: 2 * time.Second,
			SwitchGrace: time.Second, GCEvery: time.Second, // the disk held is measured right after the last release
		})
	}
	origin, err := newAgent("origin", nil)
	if err != nil {
		return err
	}
	defer origin.Close()
	agents := make([]*agent.Agent, N)
	for i := range agents {
		a, err := newAgent(fmt.Sprintf("agent%02d", i+1), []string{"demo"})
		if err != nil {
			return err
		}
		defer a.Close()
		agents[i] = a
	}
	floor := bench.Floor(F, u, u, u, N)
	fmt.Printf("%d agents subscribed to channel \"demo\", every host limited to %s/s up and down\n", N, formatBytes(u))
	fmt.Printf("%d releases of %s, %s apart; each agent keeps %d; floor per release %.2fs\n",
		*releases, formatBytes(F), every.String(), *keep, floor)
	// All the agents write to one disk: a release's N copies must reach it,
	// so the disk sets a floor of its own on this machine (issue 11).
	var diskRate float64
	if diskProbe > 0 {
		if diskRate, err = bench.ProbeDisk(work, int64(diskProbe)); err != nil {
			return err
		}
	}
	machFloor, diskFloor := machineFloors(floor, float64(N)*F, diskRate)
	if diskRate > 0 {
		fmt.Printf("disk floor per release %.2fs: all %d agents write to this one disk, %s of copies at the %s/s it synced in a probe; machine floor %.2fs (the larger)\n",
			diskFloor, N, formatBytes(float64(N)*F), formatBytes(diskRate), machFloor)
	}
	fmt.Println()

	type result struct {
		seq                            uint64
		first, last, cpu, originEgress float64
	}
	var results []result
	next := time.Now()
	for k := 1; k <= *releases; k++ {
		select {
		case <-ctx.Done():
			return errInterrupted
		case <-time.After(time.Until(next)):
		}
		next = time.Now().Add(*every)
		src := filepath.Join(work, "build", fmt.Sprintf("v%d", k), "release.bin")
		if _, err := bench.Generate(src, int64(size), uint64(k)); err != nil {
			return err
		}
		if *cpuProfile != "" {
			f, err := os.Create(fmt.Sprintf("%s.r%d", *cpuProfile, k))
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return err
			}
			defer f.Close()
		}
		cpu0 := cpuSeconds()
		rel, err := origin.Publish(ctx, "demo", agent.PublishRequest{Path: src, Key: key})
		if err != nil {
			return fmt.Errorf("publish release %d: %w", k, err)
		}
		pub := time.Now()
		os.RemoveAll(filepath.Dir(src)) // the origin has its own copy
		fmt.Printf("published release %d (%s)\n", rel.Seq, rel.InfoHash)
		if err := waitFleet(ctx, agents, rel, pub); err != nil {
			return err
		}
		wall := time.Since(pub).Seconds()
		if *cpuProfile != "" {
			pprof.StopCPUProfile()
		}
		first, last := releaseTimes(agents, rel)
		r := result{seq: rel.Seq, first: first, last: last, cpu: cpuSeconds() - cpu0,
			originEgress: float64(originUploaded(origin, rel.InfoHash)) / F}
		results = append(results, r)
		fmt.Printf("release %d: first agent started after %.2fs, last complete after %.2fs (floor %.2fs, efficiency %.3f; machine floor %.2fs, %.3f), origin sent %.2f copies, CPU %.1f s (%.0f%% of %d cores)\n\n",
			r.seq, r.first, r.last, floor, floor/r.last, machFloor, machFloor/r.last, r.originEgress, r.cpu, 100*r.cpu/wall/float64(runtime.NumCPU()), runtime.NumCPU())
	}

	fmt.Println("release  first start  last complete  floor    efficiency  mach.floor  mach.eff  origin egress")
	for _, r := range results {
		fmt.Printf("%7d  %10.2fs  %12.2fs  %6.2fs  %10.3f  %9.2fs  %8.3f  %11.2f F\n", r.seq, r.first, r.last, floor, floor/r.last,
			machFloor, machFloor/r.last, r.originEgress)
	}
	// The keep bound deletes the oldest release right after the switch;
	// give those deletions a moment to finish before measuring.
	var held []int64
	for deadline := time.Now().Add(5 * time.Second); ; {
		held = held[:0]
		over := false
		for _, a := range agents {
			n := dirSize(filepath.Join(a.Dir(), "content"))
			held = append(held, n)
			over = over || n > int64(*keep)*int64(F)
		}
		if !over || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(held)
	fmt.Printf("\ndisk held per agent after GC: median %s, max %s (keep x size = %s)\n",
		formatBytes(float64(held[len(held)/2])), formatBytes(float64(held[len(held)-1])), formatBytes(float64(*keep)*F))
	return nil
}

// waitFleet waits until every agent has rel as its current release,
// printing progress every two seconds.
func waitFleet(ctx context.Context, agents []*agent.Agent, rel channel.Release, pub time.Time) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastPrint := time.Now()
	for {
		done := 0
		var prog float64
		for _, a := range agents {
			cs, _ := a.Channel("demo")
			if cs.Current >= rel.Seq {
				done++
				prog++
			} else if len(cs.Fetching) > 0 && cs.Fetching[len(cs.Fetching)-1] == rel.Seq {
				prog += cs.Progress
			}
		}
		if done == len(agents) {
			return nil
		}
		if time.Since(lastPrint) >= 2*time.Second {
			lastPrint = time.Now()
			fmt.Printf("%6.1fs  %d/%d agents on release %d, %5.1f%% of the bytes\n", time.Since(pub).Seconds(), done,
				len(agents), rel.Seq, 100*prog/float64(len(agents)))
		}
		select {
		case <-ctx.Done():
			return errInterrupted
		case <-tick.C:
		}
	}
}

// releaseTimes returns, after the release's publish, when the first agent
// started fetching it and when the last one had it verified.
func releaseTimes(agents []*agent.Agent, rel channel.Release) (first, last float64) {
	first = -1
	for _, a := range agents {
		for _, t := range a.Torrents() {
			if t.Channel != rel.Channel || t.Seq != rel.Seq {
				continue
			}
			s := t.Added.Sub(rel.PublishedAt).Seconds()
			if first < 0 || s < first {
				first = s
			}
			if t.Completed != nil {
				last = max(last, t.Completed.Sub(rel.PublishedAt).Seconds())
			}
		}
	}
	return max(first, 0), last
}

// originUploaded is what the origin has sent of one release.
func originUploaded(a *agent.Agent, ih string) int64 {
	for _, t := range a.Torrents() {
		if t.InfoHash == ih {
			return t.Uploaded
		}
	}
	return 0
}

// dirSize adds up the sizes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// cpuSeconds is the CPU time this process used so far (user + system).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
