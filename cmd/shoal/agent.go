package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/agent"
	"github.com/shoal-p2p/shoal/metainfo"
)

// runAgent runs the fleet daemon until interrupted.
//
//	shoal agent --data DIR [--listen ADDR] [--api ADDR] [--tracker URL]... [--subscribe NAME]...
//	            [--keep N] [--disk-high P] [--disk-low P] [--on-complete CMD]
//	            [--up-limit RATE] [--down-limit RATE] [--name NAME] [--zone ZONE]
func runAgent(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	data := fs.String("data", "", "data `folder`: the content store, its index and DIR/channels/NAME/current (required)")
	listen := fs.String("listen", ":6881", "peer TCP `address`")
	api := fs.String("api", agent.DefaultAPIAddr, "API `address`: HOST:PORT, or a unix socket as unix:/path")
	var trackers, subscribe stringList
	fs.Var(&trackers, "tracker", "tracker announce `URL` (repeatable); its channel endpoints are on the same server")
	fs.Var(&subscribe, "subscribe", "channel `NAME` to follow (repeatable)")
	keep := fs.Int("keep", agent.DefaultKeep, "most releases kept per channel")
	high := percentFlag(agent.DefaultDiskHigh)
	low := percentFlag(agent.DefaultDiskLow)
	fs.Var(&high, "disk-high", "disk use `P`ERCENT above which the oldest unpinned content is deleted")
	fs.Var(&low, "disk-low", "disk use `P`ERCENT the deletions bring the disk down to")
	onComplete := fs.String("on-complete", "", "shell `command` run after a channel switched to a new release (env: SHOAL_CHANNEL, SHOAL_SEQ, SHOAL_RELEASE_PATH, SHOAL_CURRENT, SHOAL_INFOHASH, SHOAL_NAME)")
	var upLimit, downLimit rateFlag
	fs.Var(&upLimit, "up-limit", "upload limit `RATE` per second (default: none)")
	fs.Var(&downLimit, "down-limit", "download limit `RATE` per second (default: none)")
	name := fs.String("name", "", "host `name` in reports to the tracker (default: the host name)")
	zone := addZoneFlag(fs) // in reports and announces
	switchGrace := fs.Duration("switch-grace", 30*time.Second, "how long the previous release outlives a switch before --keep may remove it (readers of the old current finish)")
	hookTimeout := fs.Duration("hook-timeout", 10*time.Minute, "longest an --on-complete run may take; then it is killed with its children")
	checkpoint := fs.Duration("checkpoint-every", 5*time.Second, "how often a download's verified pieces are synced and recorded, so a crash re-hashes at most this much")
	verbose := fs.Bool("verbose", false, "log every connection and protocol event")
	if _, err := parseFlags(fs, args, 0, 0, ""); err != nil {
		return err
	}
	if *data == "" {
		fmt.Fprintln(os.Stderr, "shoal agent: --data DIR is required")
		fs.Usage()
		return errUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	tuneProcs(float64(upLimit), float64(downLimit), true)
	a, err := agent.New(agent.Config{
		Dir: *data, ListenAddr: *listen, Trackers: trackers, Subscribe: subscribe, Keep: *keep,
		DiskHigh: float64(high), DiskLow: float64(low), OnComplete: *onComplete,
		UploadLimit: float64(upLimit), DownloadLimit: float64(downLimit), Name: *name, Zone: string(*zone), Logger: log,
		CheckpointEvery: *checkpoint, HookTimeout: *hookTimeout, SwitchGrace: *switchGrace,
	})
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := agent.Listen(*api)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "listening on %s\n", a.PeerAddr())
	fmt.Fprintf(os.Stderr, "api on %s\n", apiURL(ln.Addr().Network(), ln.Addr().String()))
	fmt.Fprintf(os.Stderr, "data in %s\n", a.Dir())
	return a.Serve(ctx, ln)
}

// apiURL is what --agent takes to reach an API listener.
func apiURL(network, addr string) string {
	if network == "unix" {
		return "unix:" + addr
	}
	return "http://" + addr
}

// percentFlag is a disk share given in percent ("90" or "90%").
type percentFlag float64

func (p *percentFlag) String() string { return strconv.FormatFloat(float64(*p)*100, 'f', -1, 64) + "%" }

func (p *percentFlag) Set(v string) error {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
	if err != nil || f <= 0 || f > 100 {
		return fmt.Errorf("want a percentage from 1 to 100, e.g. 90 or 90%%")
	}
	*p = percentFlag(f / 100)
	return nil
}

// agentFlag registers --agent, defaulting to $SHOAL_AGENT.
func agentFlag(fs *flag.FlagSet) *string {
	return fs.String("agent", os.Getenv("SHOAL_AGENT"), "use the running agent at `URL` (http://HOST:PORT or unix:/path; default $SHOAL_AGENT)")
}

// getViaAgent hands a torrent or magnet to a running agent, follows it to
// completion and copies the verified files into outDir.
func getViaAgent(ctx context.Context, url, what, outDir string) error {
	c, err := agent.NewAPIClient(url)
	if err != nil {
		return err
	}
	var added agent.AddResponse
	if strings.HasPrefix(what, "magnet:") {
		added, err = c.Add(ctx, agent.AddRequest{Magnet: what})
	} else {
		b, rerr := os.ReadFile(what)
		if rerr != nil {
			return fmt.Errorf("torrent: %w", rerr)
		}
		added, err = c.AddTorrent(ctx, b)
	}
	if err != nil {
		return err
	}
	ih, err := metainfo.ParseInfoHash(added.InfoHash)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "agent at %s is getting %s (%s)\n", url, added.Name, ih)
	st, err := waitAgentTorrent(ctx, c, ih)
	if err != nil {
		return err
	}
	for _, f := range st.Files {
		if err := copyFromAgent(ctx, c, ih, f, outDir); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "complete: %s verified by the agent; copied into %s (the agent keeps seeding it from %s)\n", st.Name, outDir, st.Path)
	return nil
}

// waitAgentTorrent polls a torrent's status until it completes, printing
// progress.
func waitAgentTorrent(ctx context.Context, c *agent.APIClient, ih metainfo.InfoHash) (agent.TorrentStatus, error) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := time.Time{}
	for {
		st, err := c.Torrent(ctx, ih)
		if err != nil {
			if ctx.Err() != nil {
				return st, errInterrupted
			}
			return st, err
		}
		switch st.State {
		case agent.StateSeeding:
			return st, nil
		case agent.StateError:
			return st, fmt.Errorf("agent: %s: %s", st.Name, st.Error)
		}
		if time.Since(last) >= 2*time.Second {
			last = time.Now()
			fmt.Fprintf(os.Stderr, "progress %5.1f%% (%d/%d pieces) %s/s, %d peers (%s)\n", 100*st.Progress, st.HavePieces, st.Pieces,
				formatBytes(st.DownRate), st.Peers, st.State)
		}
		select {
		case <-ctx.Done():
			return st, errInterrupted
		case <-tick.C:
		}
	}
}

// copyFromAgent copies one verified file from the agent to outDir.
func copyFromAgent(ctx context.Context, c *agent.APIClient, ih metainfo.InfoHash, f agent.FileStatus, outDir string) error {
	local := filepath.FromSlash(f.Path)
	if !filepath.IsLocal(local) {
		return fmt.Errorf("agent listed an unsafe path %q", f.Path)
	}
	dst := filepath.Join(outDir, local)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	r, _, err := c.File(ctx, ih, f.Path)
	if err != nil {
		return err
	}
	defer r.Close()
	tmp := dst + ".shoal-part"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != f.Length {
		err = fmt.Errorf("%s: got %d bytes from the agent, want %d", f.Path, n, f.Length)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// seedViaAgent asks a running agent to seed a torrent from local files.
func seedViaAgent(ctx context.Context, url, torrent, path string) error {
	c, err := agent.NewAPIClient(url)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(torrent)
	if err != nil {
		return fmt.Errorf("torrent: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	added, err := c.Add(ctx, agent.AddRequest{Torrent: b, Path: abs})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "agent at %s seeds %s (info hash %s) from %s\n", url, added.Name, added.InfoHash, abs)
	return nil
}
