package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoal-p2p/shoal/bench"
)

// runBenchHTTPShards downloads every shard of a file from its origin at
// once, under one download limit: a sharded:K comparator receiver.
//
//	shoal bench http-shards [--down-limit RATE] --shard-size BYTES OUT URL...
func runBenchHTTPShards(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench http-shards", flag.ContinueOnError)
	var downLimit, shard rateFlag
	fs.Var(&downLimit, "down-limit", "download limit `RATE` per second over all shards (default: none)")
	fs.Var(&shard, "shard-size", "`BYTES` of every shard but the last")
	pos, err := parseFlags(fs, args, 2, 1<<20, "OUT URL...")
	if err != nil {
		return err
	}
	if shard <= 0 {
		return fmt.Errorf("--shard-size must be positive")
	}
	if err := os.MkdirAll(filepath.Dir(pos[0]), 0o755); err != nil {
		return err
	}
	n, err := bench.FetchShards(ctx, pos[1:], pos[0], int64(shard), float64(downLimit))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "complete: %s (%s from %d origins)\n", pos[0], formatBytes(float64(n)), len(pos)-1)
	return nil
}
