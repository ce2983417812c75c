package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"time"

	"github.com/shoal-p2p/shoal/bench"
	"github.com/shoal-p2p/shoal/client"
	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/tracker"
)

// runDemo distributes a generated file from one origin to N receivers on
// loopback, all in this process, and compares the time with the physical
// floor and with what the machine allows: all hosts share its cores and its
// disk. The defaults (20 receivers, 64 MB, 10 MB/s links) are a job a
// 2-core machine carries with room to spare, so the links, not the
// machine, set the time: the Kumar-Ross floor is 6.4 s, writing the 20
// copies takes a disk of 400 MB/s 3.2 s, and the data path needs about 2
// CPU seconds per GB delivered.
func runDemo(ctx context.Context, args []string) error {
	single, args := cutSingle(args)
	if !single {
		return runFleetDemo(ctx, args) // plain `shoal demo` is the fleet scenario (demo_fleet.go)
	}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	peers := fs.Int("peers", 20, "number of receivers")
	size := rateFlag(64e6)
	fs.Var(&size, "size", "`SIZE` of the generated file, e.g. 256MB or 1GiB")
	link := rateFlag(10e6)
	fs.Var(&link, "link", "upload and download limit `RATE` of every host, per second")
	initial := fs.Bool("initial-seeding", true, "origin sends every piece once before any twice")
	keep := fs.Bool("keep", false, "keep the working folder instead of deleting it")
	dirFlag := fs.String("dir", "", "working `folder` (default: a new temporary folder)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	memProfile := fs.String("memprofile", "", "write a heap profile to `file` when the last receiver finishes (go tool pprof)")
	traceFile := fs.String("trace", "", "write an execution trace of the run to `file` (go tool trace)")
	diskProbe := rateFlag(256 << 20)
	fs.Var(&diskProbe, "disk-probe", "`SIZE` written and synced in the working folder to measure the disk the hosts share (0: skip)")
	if _, err := parseFlags(fs, args, 0, 0, ""); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		defer trace.Stop()
	}
	if *peers < 1 {
		return errors.New("--peers must be at least 1")
	}
	if size < 1 || link <= 0 {
		return errors.New("--size and --link must be positive")
	}
	work := *dirFlag
	if work == "" {
		d, err := os.MkdirTemp("", "shoal-demo-*")
		if err != nil {
			return err
		}
		work = d
		if !*keep {
			defer os.RemoveAll(work)
		}
	}
	F, u := float64(int64(size)), float64(link)
	N := float64(*peers)

	// Tracker.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := tracker.NewServer(tracker.ServerConfig{Interval: 10 * time.Second, Logger: discardLogger()}).HTTPServer()
	go srv.Serve(ln)
	defer srv.Close()
	announce := fmt.Sprintf("http://%s/announce", ln.Addr())

	// The file and its torrent.
	originDir := filepath.Join(work, "origin")
	src := filepath.Join(originDir, "payload.bin")
	fmt.Printf("generating %s of random data in %s\n", formatBytes(F), work)
	sum, err := bench.Generate(src, int64(size), 1)
	if err != nil {
		return err
	}
	mi, err := metainfo.Create(src, metainfo.CreateOptions{Trackers: []string{announce}})
	if err != nil {
		return err
	}
	fmt.Printf("torrent %s: %d pieces of %s\n", mi.InfoHash, mi.Info.NumPieces(), formatBytes(float64(mi.Info.PieceLength)))

	// Origin.
	origin, err := client.New(client.Config{ListenAddr: "127.0.0.1:0", UploadLimit: u, Logger: discardLogger()})
	if err != nil {
		return err
	}
	defer origin.Close()
	ot, err := origin.AddTorrent(mi, client.TorrentOptions{Path: src, Seed: true, InitialSeeding: *initial})
	if err != nil {
		return fmt.Errorf("origin: %w", err)
	}

	// The disk every host writes its copy to.
	var diskRate float64
	if diskProbe > 0 {
		if diskRate, err = bench.ProbeDisk(work, int64(diskProbe)); err != nil {
			return err
		}
	}

	// Receivers.
	fmt.Printf("%d receivers, every host limited to %s/s up and down\n", *peers, formatBytes(u))
	clients := make([]*client.Client, *peers)
	torrents := make([]*client.Torrent, *peers)
	dirs := make([]string, *peers)
	for i := range clients {
		c, err := client.New(client.Config{ListenAddr: "127.0.0.1:0", UploadLimit: u, DownloadLimit: u, Logger: discardLogger()})
		if err != nil {
			return err
		}
		defer c.Close()
		clients[i] = c
		dirs[i] = filepath.Join(work, fmt.Sprintf("peer%02d", i+1))
	}
	m0, merr := bench.SampleMachine(work)
	cpu0 := bench.ProcessCPU()
	start := time.Now()
	for i, c := range clients {
		t, err := c.AddTorrent(mi, client.TorrentOptions{Dir: dirs[i]})
		if err != nil {
			return fmt.Errorf("receiver %d: %w", i+1, err)
		}
		torrents[i] = t
	}
	finish := make([]time.Duration, *peers)
	done := 0
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	doneCh := make(chan int, *peers)
	for i, t := range torrents {
		go func() {
			<-t.Done()
			doneCh <- i
		}()
	}
	for done < *peers {
		select {
		case <-ctx.Done():
			return errInterrupted
		case i := <-doneCh:
			if err := torrents[i].Err(); err != nil {
				return fmt.Errorf("receiver %d: %w", i+1, err)
			}
			finish[i] = time.Since(start)
			done++
		case <-tick.C:
			var have, total int
			for _, t := range torrents {
				st := t.Stats()
				have += st.Have
				total += st.Pieces
			}
			fmt.Printf("%5.1fs  %d/%d receivers done, %5.1f%% of all pieces, origin sent %s\n",
				time.Since(start).Seconds(), done, *peers, 100*float64(have)/float64(total),
				formatBytes(float64(ot.Stats().Uploaded)))
		}
	}
	last := time.Since(start)
	cpu := bench.ProcessCPU() - cpu0
	if *memProfile != "" {
		if err := writeHeapProfile(*memProfile); err != nil {
			return err
		}
	}
	var usage bench.MachineUsage
	if m1, err := bench.SampleMachine(work); err == nil && merr == nil {
		usage = m0.Until(m1)
	}
	originSent := ot.Stats().Uploaded

	fmt.Printf("verifying %d copies against the source's SHA-256\n", *peers)
	for i := range dirs {
		if err := bench.Verify(filepath.Join(dirs[i], mi.Info.Name), sum); err != nil {
			return fmt.Errorf("receiver %d: %w", i+1, err)
		}
	}

	sorted := append([]time.Duration(nil), finish...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
	fmt.Println()
	fmt.Println("receiver  finished")
	for i, d := range finish {
		fmt.Printf("peer%02d    %6.2fs\n", i+1, d.Seconds())
	}
	r := report{F: F, us: u, u: u, d: u, N: N}
	fmt.Println()
	fmt.Printf("file size F              %s\n", formatBytes(F))
	fmt.Printf("receivers N              %d\n", *peers)
	fmt.Printf("median finish            %.2fs\n", sorted[len(sorted)/2].Seconds())
	fmt.Printf("last finish T_last       %.2fs\n", last.Seconds())
	fmt.Printf("floor terms              F/u_s = %.2fs, F/d = %.2fs, N*F/(u_s+sum u_i) = %.2fs\n", r.originTerm(), r.downloadTerm(), r.swarmTerm())
	fmt.Printf("Kumar-Ross floor T_min   %.2fs\n", r.floor())
	fmt.Printf("efficiency T_min/T_last  %.3f\n", r.floor()/last.Seconds())
	fmt.Printf("origin egress            %s = %.2f copies of the file\n", formatBytes(float64(originSent)), float64(originSent)/F)
	fmt.Printf("origin alone (N*F/u_s)   %.2fs (%.1fx slower than this swarm)\n", r.singleSource(), r.singleSource()/last.Seconds())
	fmt.Println()
	printMachine(machineReport{
		Usage: usage, CPU: cpu, TLast: last, DiskRate: diskRate,
		DiskBytes: N * F, Floor: r.floor(), Hosts: *peers + 1,
	})
	return nil
}

// writeHeapProfile writes the live heap (and what was allocated so far) to
// path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// machineReport is what a demo measured of the machine its hosts share.
// Usage is the machine over the run (bench.SampleMachine), CPU the time
// this process used (bench.ProcessCPU: the demo's hosts all run in it),
// DiskRate the probed synced write rate (bench.ProbeDisk; 0: not probed)
// and DiskBytes what the hosts had to write and sync: the copies.
type machineReport struct {
	Usage     bench.MachineUsage
	CPU       time.Duration
	TLast     time.Duration
	DiskRate  float64
	DiskBytes float64
	Floor     float64 // the Kumar-Ross floor, seconds
	Hosts     int
}

// printMachine prints the CPU the run used, the floor the machine's disk
// imposes beside the Kumar-Ross floor, and what bound the run. The fleet
// demo can print the same lines.
func printMachine(m machineReport) {
	cores := max(m.Usage.Cores, 1)
	avail := float64(cores) * m.TLast.Seconds()
	fmt.Printf("CPU used                 %.2fs of %.2fs (%d cores x T_last): %.0f%%; %.2f CPU s per GB delivered\n",
		m.CPU.Seconds(), avail, cores, 100*m.CPU.Seconds()/avail, m.CPU.Seconds()/(m.DiskBytes/1e9))
	if m.Usage.WallS > 0 {
		fmt.Printf("machine                  cores %.0f%% busy (every process, this one's share %.0f%%), iowait %.0f%%, disk %s %.0f%% busy, %s written\n",
			100*m.Usage.CPUBusy, 100*m.CPU.Seconds()/avail, 100*m.Usage.IOWait, m.Usage.Disk, 100*m.Usage.DiskBusy,
			formatBytes(float64(m.Usage.DiskWriteBytes)))
	}
	machineFloor, diskFloor := machineFloors(m.Floor, m.DiskBytes, m.DiskRate)
	if m.DiskRate > 0 {
		fmt.Printf("disk floor               %.2fs: all %d hosts write to this one disk, %s of copies at the %s/s it synced in a probe\n",
			diskFloor, m.Hosts, formatBytes(m.DiskBytes), formatBytes(m.DiskRate))
	}
	fmt.Printf("machine floor            %.2fs (the larger of the Kumar-Ross and disk floors): efficiency %.3f\n",
		machineFloor, machineFloor/m.TLast.Seconds())
	eff := m.Floor / m.TLast.Seconds()
	fmt.Printf("bound by                 %s\n", boundReading(m.Usage.Bound(eff), eff, m.CPU.Seconds()/avail))
}

// machineFloors returns the disk floor, the time diskBytes of copies take
// at the synced rate diskRate (0 if not probed), and the machine floor, the
// larger of it and floor (the Kumar-Ross floor), all in seconds.
func machineFloors(floor, diskBytes, diskRate float64) (machine, disk float64) {
	if diskRate > 0 {
		disk = diskBytes / diskRate
	}
	return max(floor, disk), disk
}

// boundReading says in words what bound a run (see bench.MachineUsage.Bound);
// ours is the share of all cores' time the run itself used.
func boundReading(bound string, eff, ours float64) string {
	switch bound {
	case "disk":
		return "the disk: it had writes in flight most of the time (all hosts share it)"
	case "CPU":
		if ours < 0.5 {
			return fmt.Sprintf("the CPUs, busy with other work: this run used %.0f%% of them; run again on a quiet machine", 100*ours)
		}
		return "the CPUs: the cores were busy most of the time (all hosts share them)"
	case "links":
		return fmt.Sprintf("the links: efficiency %.2f with the machine not saturated", eff)
	case "waits":
		return "neither the machine nor the links: time lost between hosts (requests, scheduling)"
	}
	return "unknown (no /proc)"
}

// report holds the parameters of the Kumar-Ross bound (F bytes, upload
// and download capacities in bytes per second) and names its terms for the
// printout; bench.Floor is the bound itself.
type report struct {
	F, us, u, d, N float64
}

func (r report) originTerm() float64   { return r.F / r.us }
func (r report) downloadTerm() float64 { return r.F / r.d }
func (r report) swarmTerm() float64    { return r.N * r.F / (r.us + r.N*r.u) }
func (r report) singleSource() float64 { return bench.SingleSource(r.F, r.us, int(r.N)) }
func (r report) floor() float64        { return bench.Floor(r.F, r.us, r.d, r.u, int(r.N)) }
