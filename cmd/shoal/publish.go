package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shoal-p2p/shoal/agent"
	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/client"
	"github.com/shoal-p2p/shoal/metainfo"
)

// runPublish registers PATH as the next release of a channel.
//
//	shoal publish --channel NAME [--tracker URL] [--key KEY] [--agent URL] PATH
//
// With --agent the agent copies PATH into its store, seeds it and
// registers it; publish returns once a tracker has it. Without, publish
// makes the torrent, seeds it in the foreground and registers it, until
// interrupted.
func runPublish(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	name := fs.String("channel", "", "channel `NAME` (required)")
	var trackers stringList
	fs.Var(&trackers, "tracker", "tracker announce `URL` (repeatable; required without --agent)")
	key := fs.String("key", os.Getenv("SHOAL_PUBLISH_KEY"), "the tracker's publish `KEY` (default $SHOAL_PUBLISH_KEY)")
	url := agentFlag(fs)
	listen := fs.String("listen", ":6881", "peer TCP `address` when seeding in the foreground")
	pieceLength := fs.Int64("piece-length", 0, "piece length in `bytes` (default: automatic)")
	var upLimit rateFlag
	fs.Var(&upLimit, "up-limit", "upload limit `RATE` per second when seeding in the foreground")
	seq := fs.Uint64("seq", 0, "ask for this sequence number (default: the next)")
	verbose := fs.Bool("verbose", false, "log every connection and protocol event")
	pos, err := parseFlags(fs, args, 1, 1, "PATH")
	if err != nil {
		return err
	}
	if err := channel.ValidName(*name); err != nil {
		return fmt.Errorf("--channel: %w", err)
	}
	path, err := filepath.Abs(pos[0])
	if err != nil {
		return err
	}
	if *url != "" {
		c, err := agent.NewAPIClient(*url)
		if err != nil {
			return err
		}
		rel, err := c.Publish(ctx, *name, agent.PublishRequest{Path: path, Key: *key, Seq: *seq, PieceLength: *pieceLength})
		if err != nil {
			return err
		}
		printRelease(rel)
		return nil
	}
	if len(trackers) == 0 {
		return errors.New("no tracker: give --tracker URL (or --agent URL to publish through a running agent)")
	}
	var tcs []agent.ChannelTracker
	for _, u := range trackers {
		tc, err := channel.NewClient(u, nil)
		if err != nil {
			return err
		}
		tcs = append(tcs, tc)
	}
	fmt.Fprintf(os.Stderr, "hashing %s\n", path)
	mi, err := metainfo.Create(path, metainfo.CreateOptions{Trackers: trackers, PieceLength: *pieceLength})
	if err != nil {
		return err
	}
	c, err := client.New(client.Config{ListenAddr: *listen, UploadLimit: float64(upLimit), Logger: newLogger(*verbose)})
	if err != nil {
		return err
	}
	defer c.Close()
	t, err := c.AddTorrent(mi, client.TorrentOptions{Path: path, Seed: true, InitialSeeding: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "listening on %s\n", c.Addr())
	var rel channel.Release
	for _, tc := range tcs {
		r, err := tc.Publish(ctx, *name, *key, mi.InfoBytes, max(*seq, rel.Seq))
		if err != nil {
			if rel.Seq == 0 && len(tcs) == 1 {
				return err
			}
			fmt.Fprintf(os.Stderr, "shoal publish: %v\n", err)
			continue
		}
		if rel.Seq == 0 {
			rel = r
		}
	}
	if rel.Seq == 0 {
		return errors.New("no tracker registered the release")
	}
	printRelease(rel)
	fmt.Fprintf(os.Stderr, "seeding %s until interrupted (info hash %s)\n", mi.Info.Name, mi.InfoHash)
	go agent.KeepRegistered(ctx, tcs, *key, mi.InfoBytes, rel, 5*time.Second, newLogger(*verbose))
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "stopping: uploaded %s\n", formatBytes(float64(t.Stats().Uploaded)))
			return nil
		case <-tick.C:
			if err := t.Err(); err != nil {
				return err
			}
			st := t.Stats()
			fmt.Fprintf(os.Stderr, "seeding: %d peers, uploaded %s\n", st.Peers, formatBytes(float64(st.Uploaded)))
		}
	}
}

// printRelease prints a registered release on stdout.
func printRelease(rel channel.Release) {
	fmt.Printf("published %s release %d: %s (%s, info hash %s)\n", rel.Channel, rel.Seq, rel.Name,
		formatBytes(float64(rel.Size)), rel.InfoHash)
}
