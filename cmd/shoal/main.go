// Command shoal distributes large files to many hosts over BitTorrent.
//
//	shoal create [-o OUT.torrent] [--tracker URL]... [--piece-length BYTES] PATH
//	shoal seed [--listen ADDR] [--tracker URL] TORRENT PATH
//	shoal get [--listen ADDR] [-o DIR] [--peer HOST:PORT]... [--up-limit RATE] [--down-limit RATE] [--seed-after] TORRENT|MAGNET
//	shoal tracker [--listen ADDR] [--udp-listen ADDR|off] [--store memory|redis://HOST:PORT] [--keys FILE] [--publish-key KEY]...
//	shoal demo [--peers N] [--size SIZE] [--link RATE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
)

const usage = `shoal distributes large files to many hosts, BitTorrent-compatible.

Usage:
  shoal create [-o OUT.torrent] [--tracker URL]... [--piece-length BYTES] PATH
  shoal seed [--listen ADDR] [--tracker URL]... [--dht] [--dht-bootstrap HOST:PORT]... TORRENT PATH
  shoal get [--listen ADDR] [-o DIR] [--peer HOST:PORT]... [--dht] [--dht-bootstrap HOST:PORT]... [--up-limit RATE] [--down-limit RATE] [--seed-after] TORRENT|MAGNET
  shoal tracker [--listen ADDR] [--udp-listen ADDR|off] [--store memory|redis://HOST:PORT] [--keys FILE] [--publish-key KEY]...
  shoal demo [--releases K] [--every DUR] [--peers N] [--size SIZE] [--link RATE] [--keep N]   (--single: the one-torrent demo)
  shoal dht [--listen ADDR] [--dht-bootstrap HOST:PORT]... [--state FILE]
  shoal agent --data DIR [--listen ADDR] [--api ADDR] [--tracker URL]... [--subscribe NAME]... [--keep N] [--disk-high P] [--disk-low P] [--on-complete CMD] [--up-limit RATE] [--down-limit RATE]
  shoal publish --channel NAME [--tracker URL] [--key KEY] [--agent URL] PATH
  shoal status [--agent URL]
  shoal sim [--peers N] [--size SIZE] [--link RATE] [--origin-link RATE] [--latency DUR] [--seed S] [--json FILE] [--svg FILE]
  shoal bench [--peers N] [--size SIZE] [--link RATE] [--runs K] [--compare shoal,libtorrent,http] [--json FILE] [--svg FILE]

RATE and SIZE take units: 50MB, 400Mbit, 1GiB (rates are per second).
Run "shoal COMMAND -h" for a command's flags.
`

// errInterrupted marks a run stopped by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted")

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "seed", "get", "agent", "publish", "demo", "bench":
		tuneGC()
	}
	var err error
	switch cmd {
	case "create":
		err = runCreate(ctx, args)
	case "seed":
		err = runSeed(ctx, args)
	case "get":
		err = runGet(ctx, args)
	case "tracker":
		err = runTracker(ctx, args)
	case "demo":
		err = runDemo(ctx, args)
	case "dht":
		err = runDHT(ctx, args)
	case "sim":
		err = runSim(ctx, args)
	case "bench":
		err = runBench(ctx, args)
	case "agent":
		err = runAgent(ctx, args)
	case "publish":
		err = runPublish(ctx, args)
	case "status":
		err = runStatus(ctx, args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "shoal: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.Is(err, errInterrupted):
		fmt.Fprintf(os.Stderr, "shoal %s: interrupted\n", cmd)
		os.Exit(130)
	default:
		fmt.Fprintf(os.Stderr, "shoal %s: %s\n", cmd, printable(err.Error()))
		os.Exit(1)
	}
}

// errUsage marks a command line error that was already printed.
var errUsage = errors.New("usage error")

// parseFlags parses flags that may come before, between or after the
// positional arguments, and checks how many positional ones there are.
func parseFlags(fs *flag.FlagSet, args []string, minPos, maxPos int, posUsage string) ([]string, error) {
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: shoal %s [flags] %s\n\nFlags:\n", fs.Name(), posUsage)
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < minPos || len(pos) > maxPos {
		fmt.Fprintf(os.Stderr, "shoal %s: want %s\n", fs.Name(), posUsage)
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// rateFlag is a flag taking a size with units, e.g. 50MB or 400Mbit.
type rateFlag float64

func (r *rateFlag) String() string {
	if *r == 0 {
		return "0"
	}
	return formatBytes(float64(*r))
}

func (r *rateFlag) Set(v string) error {
	f, err := parseSize(v)
	if err != nil {
		return err
	}
	*r = rateFlag(f)
	return nil
}

// newLogger returns the logger for a command: warnings and errors on
// stderr, everything with --verbose.
func newLogger(verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// discardLogger drops every record.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startCPUProfile writes a CPU profile to path until the returned function
// is called; with an empty path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
