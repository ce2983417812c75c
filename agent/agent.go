package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/client"
	"github.com/shoal-p2p/shoal/metainfo"
)

// Defaults of Config.
const (
	DefaultKeep     = 3
	DefaultDiskHigh = 0.90
	DefaultDiskLow  = 0.80
	DefaultAPIAddr  = "127.0.0.1:7800"
)

// Config configures an Agent. Only Dir is required.
type Config struct {
	// Dir is the data folder: DIR/index.db, DIR/content/INFOHASH/...,
	// DIR/channels/NAME/current.
	Dir string
	// ListenAddr is the peer (BitTorrent) TCP address; default ":6881".
	ListenAddr string
	// Trackers are announce URLs (http://host:6969/announce); the channel
	// endpoints live on the same servers.
	Trackers []string
	// Subscribe names channels to subscribe to at start (added to those
	// the index remembers).
	Subscribe []string
	// Keep is the most releases held per channel; default DefaultKeep.
	Keep int
	// DiskHigh and DiskLow are the disk watermarks as fractions of the
	// filesystem; defaults 0.90 and 0.80.
	DiskHigh, DiskLow float64
	// OnComplete is a shell command run after a channel switched to a new
	// release, with SHOAL_CHANNEL, SHOAL_SEQ, SHOAL_RELEASE_PATH,
	// SHOAL_CURRENT, SHOAL_INFOHASH and SHOAL_NAME in its environment.
	OnComplete string
	// SwitchGrace is how long the previous release outlives a switch
	// before --keep may remove it, so a reader that resolved `current`
	// just before the switch finishes reading the old release; default
	// 30 s. Disk watermarks do not wait for it.
	SwitchGrace time.Duration
	// HookTimeout bounds one run of OnComplete; past it the hook and its
	// children are killed and the run counts as failed. Default 10 min.
	HookTimeout time.Duration
	// UploadLimit and DownloadLimit are payload limits in bytes per
	// second; 0 is none.
	UploadLimit, DownloadLimit float64
	// Name is the host name in reports (default os.Hostname()); Zone a
	// rack/row/dc label.
	Name, Zone string
	// Logger receives the agent's logs; default discard.
	Logger *slog.Logger
	// HTTPClient talks to trackers; default a client without timeout
	// (long polls carry their own contexts).
	HTTPClient *http.Client
	// ReportEvery is the period of host reports; default 5 s.
	ReportEvery time.Duration
	// GCEvery is the period of the disk-watermark check; default 10 s.
	GCEvery time.Duration
	// CheckpointEvery is how often a downloading torrent's verified pieces
	// are synced and recorded as resume state; default 5 s. Pieces
	// verified since the last checkpoint are hashed again after a crash.
	CheckpointEvery time.Duration
	// Disk reports the filesystem's size and use for the watermarks;
	// default statfs of Dir. Tests replace it.
	Disk func() (Disk, error)
	// Now is the wall clock for the times the index records (added,
	// completed); default time.Now. Nothing orders or times out by it:
	// a clock that jumps changes only what those fields show.
	Now func() time.Time
	// ChannelTrackers, if set, replace the channel clients built from
	// Trackers (tests use an in-memory tracker).
	ChannelTrackers []ChannelTracker
	// Client, if set, replaces the BitTorrent client's defaults (the
	// listen address and limits above still apply).
	Client client.Config
}

// Agent is the daemon of one host. It is safe for concurrent use.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	ix      *index
	cl      *client.Client
	metrics *metrics
	// trackers are the channel clients, one per tracker (nil: built from
	// cfg.Trackers on first use).
	trackers []ChannelTracker

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	gcKick chan struct{}

	mu       sync.Mutex
	entries  map[metainfo.InfoHash]*entry
	channels map[string]*subscriber
	// diskErr is the last disk-full error, cleared when space returns.
	diskErr string
	// gone accumulates the counters of removed torrents so the metrics'
	// totals never go backwards.
	gone counters
	// order is the highest torrentRecord.Order handed out.
	order uint64
	// crashed (tests only) makes Close skip the resume records a clean
	// stop writes, as a kill -9 would.
	crashed bool
}

// New opens (or creates) the store under cfg.Dir, starts the BitTorrent
// client, resumes every torrent in the index and subscribes to the
// channels. Call Close to stop it.
func New(cfg Config) (*Agent, error) {
	if cfg.Dir == "" {
		return nil, errors.New("agent: no data folder")
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.DiskHigh <= 0 {
		cfg.DiskHigh = DefaultDiskHigh
	}
	if cfg.DiskLow <= 0 {
		cfg.DiskLow = DefaultDiskLow
	}
	if cfg.DiskLow > cfg.DiskHigh || cfg.DiskHigh > 1 {
		return nil, fmt.Errorf("agent: disk watermarks low %.0f%% and high %.0f%%: want 0 < low <= high <= 100%%", cfg.DiskLow*100, cfg.DiskHigh*100)
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = ":6881"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.ReportEvery <= 0 {
		cfg.ReportEvery = 5 * time.Second
	}
	if cfg.GCEvery <= 0 {
		cfg.GCEvery = 10 * time.Second
	}
	if cfg.SwitchGrace <= 0 {
		cfg.SwitchGrace = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HookTimeout <= 0 {
		cfg.HookTimeout = 10 * time.Minute
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 5 * time.Second
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("agent: data folder: %w", err)
	}
	cfg.Dir = dir
	if cfg.Disk == nil {
		cfg.Disk = func() (Disk, error) { return statDisk(dir) }
	}
	for _, d := range []string{dir, filepath.Join(dir, "content"), filepath.Join(dir, "channels")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("agent: data folder: %w", err)
		}
	}
	ix, err := openIndex(filepath.Join(dir, "index.db"))
	if err != nil {
		return nil, err
	}
	ccfg := cfg.Client
	ccfg.ListenAddr = cfg.ListenAddr
	ccfg.UploadLimit = cfg.UploadLimit
	ccfg.DownloadLimit = cfg.DownloadLimit
	ccfg.Zone = cfg.Zone // announced with every torrent, as in reports
	if ccfg.Logger == nil {
		ccfg.Logger = cfg.Logger
	}
	cl, err := client.New(ccfg)
	if err != nil {
		ix.close()
		return nil, fmt.Errorf("agent: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{
		cfg:      cfg,
		log:      cfg.Logger,
		ix:       ix,
		cl:       cl,
		ctx:      ctx,
		cancel:   cancel,
		gcKick:   make(chan struct{}, 1),
		entries:  make(map[metainfo.InfoHash]*entry),
		channels: make(map[string]*subscriber),
		trackers: cfg.ChannelTrackers,
	}
	a.metrics = newMetrics(a)
	if err := a.restore(); err != nil {
		a.Close()
		return nil, err
	}
	a.wg.Add(2)
	go a.sampleLoop()
	go a.gcLoop()
	return a, nil
}

// PeerAddr is the address the agent accepts peers on.
func (a *Agent) PeerAddr() string { return a.cl.Addr().String() }

// Dir is the agent's data folder (absolute).
func (a *Agent) Dir() string { return a.cfg.Dir }

// Close stops the channels, the torrents and the client, and closes the
// index. Verified data stays on disk for the next start.
func (a *Agent) Close() error {
	a.cancel()
	a.wg.Wait()
	a.mu.Lock()
	es := make([]*entry, 0, len(a.entries))
	for _, e := range a.entries {
		es = append(es, e)
	}
	a.mu.Unlock()
	for _, e := range es {
		e.stop()
	}
	err := a.cl.Close()
	if cerr := a.ix.close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// contentDir is where a stored torrent's files live: DIR/content/INFOHASH,
// holding the torrent's file or folder under its name.
func (a *Agent) contentDir(ih string) string { return filepath.Join(a.cfg.Dir, "content", ih) }
