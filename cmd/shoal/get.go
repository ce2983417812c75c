package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/client"
	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/swarm"
)

// runGet downloads a torrent into a folder and exits once every piece has
// verified (or keeps seeding with --seed-after).
func runGet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	listen := fs.String("listen", ":0", "TCP `address` to accept peers on (default: a random port)")
	outDir := fs.String("o", ".", "download into `DIR`/<name from the torrent>")
	var peers, trackers stringList
	fs.Var(&peers, "peer", "peer `HOST:PORT` to dial (repeatable; no tracker needed)")
	fs.Var(&trackers, "tracker", "announce `URL` (repeatable; default: the torrent's trackers)")
	var upLimit, downLimit rateFlag
	fs.Var(&upLimit, "up-limit", "upload limit `RATE` per second, e.g. 50MB or 400Mbit (default: none)")
	fs.Var(&downLimit, "down-limit", "download limit `RATE` per second (default: none)")
	seedAfter := fs.Bool("seed-after", false, "keep serving the data after the download completes, until interrupted")
	stall := fs.Duration("stall-timeout", 2*time.Minute, "give up when no peer could be reached for this long")
	public := fs.Bool("public", false, "use the tit-for-tat choker of public swarms instead of the fleet choker")
	verbose := fs.Bool("verbose", false, "log every connection and protocol event")
	statsFile := fs.String("stats-file", "", "on exit, write the torrent's statistics as JSON to `file` (used by shoal bench)")
	noPEX := fs.Bool("no-pex", false, "do not exchange peers with peers (BEP 11)")
	df := addDHTFlags(fs)
	agentURL := agentFlag(fs)
	zoneLabel := addZoneFlag(fs)
	pos, err := parseFlags(fs, args, 1, 1, "TORRENT|MAGNET")
	if err != nil {
		return err
	}
	if *agentURL != "" && *zoneLabel != "" {
		return errZoneWithAgent
	}
	if *agentURL != "" {
		return getViaAgent(ctx, *agentURL, pos[0], *outDir)
	}
	start := time.Now()
	mi, magnet, err := loadTorrentOrMagnet(pos[0])
	if err != nil {
		return err
	}
	if magnet != nil {
		peers = append(peers, magnet.Peers...)
		if len(trackers) == 0 {
			trackers = magnet.Trackers
		}
	} else if len(trackers) == 0 {
		trackers = mi.Trackers()
	}
	private := mi != nil && mi.Info.Private
	useDHT := df.enabled(len(trackers) == 0) && !private
	if useDHT && !df.canJoin() && len(peers) == 0 && len(trackers) == 0 {
		return errNoDHTContact
	}
	if !useDHT && len(peers) == 0 && len(trackers) == 0 {
		return errors.New("no way to find peers: the torrent names no tracker; give --peer HOST:PORT, --tracker URL or --dht-bootstrap HOST:PORT")
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	cfg := client.Config{
		ListenAddr:    *listen,
		UploadLimit:   float64(upLimit),
		DownloadLimit: float64(downLimit),
		Logger:        newLogger(*verbose),
		Zone:          string(*zoneLabel),
	}
	tuneProcs(cfg.UploadLimit, cfg.DownloadLimit, true)
	df.apply(&cfg, useDHT)
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(os.Stderr, "listening on %s\n", c.Addr())
	printDHT(c)
	opts := client.TorrentOptions{Dir: *outDir, Peers: peers, Trackers: trackers, NoPEX: *noPEX}
	if trackers == nil {
		opts.Trackers = []string{}
	}
	if *public {
		opts.Choker = swarm.Public
	}
	var t *client.Torrent
	if magnet != nil {
		t, err = addMagnet(ctx, c, *magnet, opts, *stall)
		if err != nil {
			return err
		}
		mi = t.MetaInfo()
	} else if t, err = c.AddTorrent(mi, opts); err != nil {
		return err
	}
	for _, tr := range t.Truncated() {
		fmt.Fprintf(os.Stderr, "truncated %s from %d to %d bytes: the bytes past its length in the torrent were not part of it\n",
			printable(tr.Path), tr.From, tr.To)
	}
	st := t.Stats()
	fmt.Fprintf(os.Stderr, "getting %s (%s, %d pieces, %d already verified on disk)\n",
		printable(mi.Info.Name), formatBytes(float64(mi.Info.TotalLength())), st.Pieces, st.HadAtStart)
	if err := watchDownload(ctx, t, *stall); err != nil {
		return err
	}
	st = t.Stats()
	elapsed := time.Since(start)
	fmt.Fprintf(os.Stderr, "complete: %s verified; downloaded %d pieces (%s) in %.1fs, had %d pieces at start\n",
		printable(mi.Info.Name), st.Verified, formatBytes(float64(st.Downloaded)), elapsed.Seconds(), st.HadAtStart)
	fmt.Fprintf(os.Stderr, "discovery: first peer after %.3fs, metadata after %.3fs, complete after %.3fs, first piece after %.3fs, first upload after %.3fs\n",
		st.FirstPeerAfter.Seconds(), st.MetadataAfter.Seconds(), elapsed.Seconds(), st.FirstPieceAfter.Seconds(), st.FirstUploadAfter.Seconds())
	if !*seedAfter {
		return writeStatsFile(*statsFile, st)
	}
	fmt.Fprintf(os.Stderr, "seeding until interrupted\n")
	<-ctx.Done()
	fmt.Fprintf(os.Stderr, "stopping: uploaded %s\n", formatBytes(float64(t.Stats().Uploaded)))
	return writeStatsFile(*statsFile, t.Stats())
}

// loadTorrentOrMagnet reads a .torrent file, or parses a magnet link
// (then mi is nil).
func loadTorrentOrMagnet(arg string) (*metainfo.MetaInfo, *metainfo.Magnet, error) {
	if strings.HasPrefix(arg, "magnet:") {
		m, err := metainfo.ParseMagnet(arg)
		if err != nil {
			return nil, nil, err
		}
		return nil, &m, nil
	}
	mi, err := metainfo.Load(arg)
	return mi, nil, err
}

// addMagnet fetches a magnet's metadata from peers (BEP 9), giving up
// after stall, and adds the torrent.
func addMagnet(ctx context.Context, c *client.Client, m metainfo.Magnet, opts client.TorrentOptions, stall time.Duration) (*client.Torrent, error) {
	fmt.Fprintf(os.Stderr, "fetching metadata of %s from peers\n", m.InfoHash)
	fctx, cancel := context.WithTimeout(ctx, stall)
	defer cancel()
	t, err := c.AddMagnet(fctx, m, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errInterrupted
		}
		return nil, err
	}
	st := t.Stats()
	fmt.Fprintf(os.Stderr, "metadata: %s (%d bytes) after %.3fs, first peer after %.3fs\n",
		printable(t.MetaInfo().Info.Name), len(t.MetaInfo().InfoBytes), st.MetadataAfter.Seconds(), st.FirstPeerAfter.Seconds())
	return t, nil
}

// watchDownload shows progress until the torrent completes, fails, stalls
// or the user interrupts. It gives up only after stall without a peer: a
// tracker that is down at start is retried (with backoff) until then.
func watchDownload(ctx context.Context, t *client.Torrent, stall time.Duration) error {
	tty := isTerminal(os.Stderr)
	every := 2 * time.Second
	if tty {
		every = 500 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastPeerSeen := time.Now()
	var rate float64
	lastDown, lastAt := t.Stats().Downloaded, time.Now()
	for {
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(os.Stderr)
			}
			st := t.Stats()
			fmt.Fprintf(os.Stderr, "stopped at %d of %d pieces; verified pieces are kept, run the same command to resume\n", st.Have, st.Pieces)
			return errInterrupted
		case <-t.Done():
			if tty {
				printProgress(t.Stats(), rate, true)
				fmt.Fprintln(os.Stderr)
			}
			return t.Err()
		case now := <-tick.C:
			st := t.Stats()
			dt := now.Sub(lastAt).Seconds()
			inst := float64(st.Downloaded-lastDown) / dt
			rate = 0.7*rate + 0.3*inst
			if rate < 1 {
				rate = inst
			}
			lastDown, lastAt = st.Downloaded, now
			if st.Peers > 0 {
				lastPeerSeen = now
			}
			printProgress(st, rate, tty)
			if !tty && st.TrackerError != "" && st.Peers == 0 {
				fmt.Fprintln(os.Stderr, st.TrackerError) // it starts "tracker: "
			}
			if now.Sub(lastPeerSeen) > stall {
				if st.TrackerError != "" {
					return fmt.Errorf("no peers for %s; %s", stall, st.TrackerError)
				}
				return fmt.Errorf("no peers could be reached for %s", stall)
			}
		}
	}
}

// printProgress draws a progress bar on a terminal, a plain line otherwise.
func printProgress(st client.Stats, rate float64, tty bool) {
	frac := 1.0
	if st.TotalLength > 0 {
		frac = float64(st.TotalLength-st.BytesLeft) / float64(st.TotalLength)
	}
	eta := "--:--"
	if rate > 0 && st.BytesLeft > 0 {
		eta = formatDuration(time.Duration(float64(st.BytesLeft) / rate * float64(time.Second)))
	} else if st.BytesLeft == 0 {
		eta = "0:00"
	}
	if tty {
		const width = 30
		n := int(frac * width)
		bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
		fmt.Fprintf(os.Stderr, "\r[%s] %5.1f%%  %9s/s  %3d peers  ETA %s ", bar, 100*frac, formatBytes(rate), st.Peers, eta)
		return
	}
	fmt.Fprintf(os.Stderr, "progress %5.1f%% (%d/%d pieces) %s/s, %d peers, ETA %s\n",
		100*frac, st.Have, st.Pieces, formatBytes(rate), st.Peers, eta)
}

// formatDuration renders a duration as h:mm:ss or m:ss.
func formatDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
