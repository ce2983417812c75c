package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/shoal-p2p/shoal/bench"
	"github.com/shoal-p2p/shoal/client"
)

// runBench distributes a generated file from one origin process to N
// receiver processes on loopback with every system asked for, and reports
// each against the Kumar-Ross floor. "shoal bench http-origin" and
// "shoal bench http-get" are the HTTP comparator's hosts, which the bench
// starts itself.
func runBench(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "http-origin":
			return runBenchHTTPOrigin(ctx, args[1:])
		case "http-get":
			return runBenchHTTPGet(ctx, args[1:])
		case "http-shards":
			return runBenchHTTPShards(ctx, args[1:]) // benchorigins.go
		}
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	peers := fs.Int("peers", 30, "number of receivers N")
	size := rateFlag(64e6)
	fs.Var(&size, "size", "`SIZE` of the generated file, e.g. 64MB")
	link := rateFlag(20e6)
	fs.Var(&link, "link", "upload and download limit `RATE` of every receiver, per second")
	var originLink rateFlag
	fs.Var(&originLink, "origin-link", "upload limit `RATE` of the origin (default: --link)")
	pieceLen := rateFlag(0)
	fs.Var(&pieceLen, "piece-length", "piece length in `bytes` (default: shoal create's choice)")
	runs := fs.Int("runs", 1, "repetitions of every system, interleaved; medians are reported")
	compare := fs.String("compare", "shoal,libtorrent,http", "comma-separated `systems` to run: shoal, libtorrent, http (= single), replicated:K, sharded:K")
	jsonOut := fs.String("json", "", "write one JSON object per system per run to `file`")
	svgOut := fs.String("svg", "", "draw the completion CDF of every system to `file`")
	dirFlag := fs.String("dir", "", "working `folder` (default: a new temporary folder, removed afterwards)")
	diskProbe := rateFlag(256 << 20)
	fs.Var(&diskProbe, "disk-probe", "`SIZE` written and synced in the work folder to measure the disk every host shares (0: skip)")
	netns := fs.Bool("netns", false, "run every host in its own network namespace joined by a bridge, links shaped with tc (see --netns-qdisc; needs root)")
	qdisc := fs.String("netns-qdisc", bench.QdiscFair, "with --netns: how tc shapes every link: fair (htb, one class per remote host served round robin, as a host's fq) or fifo (tbf: one FIFO per link, sessions 7-11)")
	mtu := fs.Int("mtu", 0, "with --netns: every interface's MTU in `bytes` (default: 1500); the floor uses the goodput of that MTU")
	fromJSON := fs.String("from-json", "", "run nothing: print the table and write --svg from the results in `file` (a --json output)")
	if _, err := parseFlags(fs, args, 0, 0, ""); err != nil {
		return err
	}
	if *fromJSON != "" {
		return redrawBench(*fromJSON, *jsonOut, *svgOut)
	}
	if *netns && os.Geteuid() != 0 {
		return errors.New("--netns needs root (it creates network namespaces and tc qdiscs)")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the shoal binary: %w", err)
	}
	work := *dirFlag
	if work == "" {
		if work, err = os.MkdirTemp("", "shoal-bench-*"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	cfg := bench.Config{
		Shoal: self, Dir: work, Peers: *peers, Size: int64(size), Link: float64(link),
		OriginLink: float64(originLink), PieceLength: int64(pieceLen), Runs: *runs, Log: os.Stderr, Netns: *netns, MTU: *mtu,
		DiskProbe: int64(diskProbe),
	}
	if *netns || *qdisc != bench.QdiscFair {
		cfg.Qdisc = *qdisc // without --netns, Config.check rejects it
	}
	if diskProbe == 0 {
		cfg.DiskProbe = -1
	}
	for _, s := range strings.Split(*compare, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Systems = append(cfg.Systems, s)
		}
	}
	for _, s := range cfg.Systems {
		if s == bench.Libtorrent {
			if err := bench.LibtorrentAvailable(""); err != nil {
				return err
			}
		}
	}
	results, runErr := bench.Run(ctx, cfg)
	if ctx.Err() != nil {
		return errInterrupted
	}
	if len(results) > 0 {
		printBenchTable(results)
		if err := writeBenchOutputs(results, *jsonOut, *svgOut); err != nil {
			return err
		}
	}
	return runErr
}

// redrawBench reports saved results again.
func redrawBench(in, jsonOut, svgOut string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var results []bench.Result
	if err := json.Unmarshal(data, &results); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if len(results) == 0 {
		return fmt.Errorf("%s: no results", in)
	}
	printBenchTable(results)
	return writeBenchOutputs(results, jsonOut, svgOut)
}

// printBenchTable prints the per-system medians, then what bound the runs.
func printBenchTable(results []bench.Result) {
	r0 := results[0]
	fmt.Printf("\nN=%d receivers, F=%s, links %s/s (origin %s/s), floor T_min %.2fs, single source %.2fs\n",
		r0.Peers, formatBytes(float64(r0.SizeBytes)), formatBytes(r0.LinkBytesPerS), formatBytes(r0.OriginBytesPerS),
		r0.FloorS, r0.SingleSourceS)
	if r0.DiskBytesPerS > 0 {
		fmt.Printf("disk: all %d hosts write to one disk (%s), %s/s synced in the probe: the %d copies need %.2fs there (machine floor %.2fs)\n",
			r0.Peers+1, r0.Machine.Disk, formatBytes(r0.DiskBytesPerS), r0.Peers, r0.DiskFloorS, r0.MachineFloorS)
	}
	fmt.Printf("%-13s %4s %8s %8s %8s %6s %8s %8s %9s %10s %6s %6s  %s\n", "system", "runs", "T_last", "p50", "p90", "eff",
		"mach.eff", "egress/F", "CPU s/GB", "peak RSS", "cores", "disk", "bound")
	for _, m := range bench.Medians(results) {
		fmt.Printf("%-13s %4d %7.2fs %7.2fs %7.2fs %6.3f %8.3f %8.2f %9.1f %10s %5.0f%% %5.0f%%  %s\n", m.System, m.Runs, m.TLastS, m.P50S, m.P90S,
			m.Efficiency, m.MachineEfficiency, m.OriginEgressRatio, m.CPUSPerGB, formatBytes(float64(m.PeakRSSBytes)),
			100*m.CPUBusy, 100*m.DiskBusy, m.Typical.Bound)
	}
	fmt.Println("(eff: T_min/T_last against the Kumar-Ross floor; mach.eff: against the larger of it and the disk floor;")
	fmt.Println(" cores, disk: how busy the machine's cores (every process) and its disk were; bound: what set the time)")
}

// writeBenchOutputs writes the JSON results and the CDF chart if asked.
func writeBenchOutputs(results []bench.Result, jsonOut, svgOut string) error {
	if jsonOut != "" {
		data, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFileAtomic(jsonOut, append(data, '\n')); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if svgOut != "" {
		var b strings.Builder
		if err := bench.WriteSVG(&b, results); err != nil {
			return err
		}
		if err := writeFileAtomic(svgOut, []byte(b.String())); err != nil {
			return fmt.Errorf("--svg: %w", err)
		}
	}
	return nil
}

// runBenchHTTPOrigin serves one file over HTTP under a total upload limit
// until interrupted: the HTTP comparator's origin.
func runBenchHTTPOrigin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench http-origin", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "TCP `address` to serve on")
	var upLimit rateFlag
	fs.Var(&upLimit, "up-limit", "total upload limit `RATE` per second (default: none)")
	statsFile := fs.String("stats-file", "", "on exit, write {\"Uploaded\": bytes} to `file`")
	pos, err := parseFlags(fs, args, 1, 1, "PATH")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", *listen, err)
	}
	srv := bench.NewFileServer(pos[0], float64(upLimit))
	fmt.Fprintf(os.Stderr, "listening on %s\n", ln.Addr())
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	return writeStatsFile(*statsFile, client.Stats{Uploaded: srv.Sent()})
}

// runBenchHTTPGet downloads one URL under a download limit: an HTTP
// comparator receiver.
func runBenchHTTPGet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench http-get", flag.ContinueOnError)
	var downLimit rateFlag
	fs.Var(&downLimit, "down-limit", "download limit `RATE` per second (default: none)")
	pos, err := parseFlags(fs, args, 2, 2, "URL OUT")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(pos[1]), 0o755); err != nil {
		return err
	}
	n, err := bench.Fetch(ctx, pos[0], pos[1], float64(downLimit))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "complete: %s (%s)\n", pos[1], formatBytes(float64(n)))
	return nil
}

// writeStatsFile writes a torrent's statistics as JSON to path, for shoal
// bench to read origin egress; an empty path writes nothing.
func writeStatsFile(path string, st client.Stats) error {
	if path == "" {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("stats file: %w", err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("stats file: %w", err)
	}
	return nil
}
