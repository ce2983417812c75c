package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
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
// floor.
func runDemo(ctx context.Context, args []string) error {
	single, args := cutSingle(args)
	if !single {
		return runFleetDemo(ctx, args) // plain `shoal demo` is the fleet scenario (demo_fleet.go)
	}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	peers := fs.Int("peers", 20, "number of receivers")
	size := rateFlag(256e6)
	fs.Var(&size, "size", "`SIZE` of the generated file, e.g. 256MB or 1GiB")
	link := rateFlag(50e6)
	fs.Var(&link, "link", "upload and download limit `RATE` of every host, per second")
	initial := fs.Bool("initial-seeding", true, "origin sends every piece once before any twice")
	keep := fs.Bool("keep", false, "keep the working folder instead of deleting it")
	dirFlag := fs.String("dir", "", "working `folder` (default: a new temporary folder)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	traceFile := fs.String("trace", "", "write an execution trace of the run to `file` (go tool trace)")
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
	return nil
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
