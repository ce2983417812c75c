package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/shoal-p2p/shoal/client"
	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/swarm"
)

// runSeed verifies local data against a torrent and serves it until
// interrupted.
func runSeed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	listen := fs.String("listen", ":6881", "TCP `address` to accept peers on")
	var trackers, peers stringList
	fs.Var(&trackers, "tracker", "announce `URL` (repeatable; default: the torrent's trackers)")
	fs.Var(&peers, "peer", "peer `HOST:PORT` to dial (repeatable)")
	var upLimit rateFlag
	fs.Var(&upLimit, "up-limit", "upload limit `RATE` per second, e.g. 50MB or 400Mbit (default: none)")
	initial := fs.Bool("initial-seeding", false, "origin mode: send every piece once before sending any twice")
	public := fs.Bool("public", false, "use the tit-for-tat choker of public swarms instead of the fleet choker")
	verbose := fs.Bool("verbose", false, "log every connection and protocol event")
	statsFile := fs.String("stats-file", "", "on exit, write the torrent's statistics as JSON to `file` (used by shoal bench)")
	noPEX := fs.Bool("no-pex", false, "do not exchange peers with peers (BEP 11)")
	df := addDHTFlags(fs)
	agentURL := agentFlag(fs)
	zoneLabel := addZoneFlag(fs)
	pos, err := parseFlags(fs, args, 2, 2, "TORRENT PATH")
	if err != nil {
		return err
	}
	if *agentURL != "" && *zoneLabel != "" {
		return errZoneWithAgent
	}
	if *agentURL != "" {
		return seedViaAgent(ctx, *agentURL, pos[0], pos[1])
	}
	mi, err := metainfo.Load(pos[0])
	if err != nil {
		return err
	}
	noTracker := len(trackers) == 0 && len(mi.Trackers()) == 0
	cfg := client.Config{ListenAddr: *listen, UploadLimit: float64(upLimit), Logger: newLogger(*verbose), Zone: string(*zoneLabel)}
	tuneProcs(cfg.UploadLimit, 0, false)
	useDHT := df.enabled(noTracker) && !mi.Info.Private
	df.apply(&cfg, useDHT)
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(os.Stderr, "verifying %s against %s (%s, %d pieces)\n", printable(pos[1]), printable(mi.Info.Name),
		formatBytes(float64(mi.Info.TotalLength())), mi.Info.NumPieces())
	opts := client.TorrentOptions{Path: pos[1], Seed: true, InitialSeeding: *initial, Peers: peers, NoPEX: *noPEX}
	if len(trackers) > 0 {
		opts.Trackers = trackers
	}
	if *public {
		opts.Choker = swarm.Public
	}
	t, err := c.AddTorrent(mi, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "listening on %s\n", c.Addr())
	printDHT(c)
	fmt.Fprintf(os.Stderr, "seeding %s (info hash %s)\n", printable(mi.Info.Name), mi.InfoHash)
	fmt.Fprintf(os.Stderr, "magnet link: %s\n", mi.Magnet())
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	var lastUp int64
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "stopping: uploaded %s\n", formatBytes(float64(t.Stats().Uploaded)))
			return writeStatsFile(*statsFile, t.Stats())
		case <-tick.C:
			st := t.Stats()
			if err := t.Err(); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "seeding: %d peers, uploaded %s (%s/s)%s%s\n", st.Peers,
				formatBytes(float64(st.Uploaded)), formatBytes(float64(st.Uploaded-lastUp)/10), withheldNote(st), trackerNote(st))
			lastUp = st.Uploaded
		}
	}
}

// withheldNote says, in a status line, that pieces stopped matching the
// data on disk; the log has a line per piece naming its files.
func withheldNote(st client.Stats) string {
	if st.Withheld == 0 {
		return ""
	}
	return fmt.Sprintf("; WARNING: %d pieces no longer match the data on disk and are not offered (restore the files or make a new torrent)", st.Withheld)
}

// trackerNote mentions a failing tracker in a status line.
func trackerNote(st client.Stats) string {
	if st.TrackerError == "" {
		return ""
	}
	return "; " + st.TrackerError // it starts "tracker: "
}
