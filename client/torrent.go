package client

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/storage"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// TorrentOptions says how to run one torrent.
type TorrentOptions struct {
	// Dir is the folder the torrent's name lives in: the file or folder is
	// Dir/<name>.
	Dir string
	// Path, if set, is the torrent's file or folder itself, which may be
	// named differently from the torrent; it overrides Dir.
	Path string
	// Seed opens existing data read-only; every piece must verify.
	Seed bool
	// InitialSeeding makes a complete origin avoid sending a piece twice
	// while others have not gone out once (see swarm.Config).
	InitialSeeding bool
	// Trackers are announce URLs; the torrent's own are used if nil.
	Trackers []string
	// Peers are addresses (host:port) to dial directly.
	Peers []string
	// UploadLimit and DownloadLimit are per-torrent limits in bytes per
	// second (0: none), applied on top of the Client's global ones.
	UploadLimit, DownloadLimit float64
	// Choker selects the upload policy (default swarm.Fleet).
	Choker swarm.ChokerMode
	// Progress is called while existing data is checked at start.
	Progress func(done, total int)
	// Resume, if set, holds the pieces the caller vouches for: verified in
	// an earlier run (see Torrent.Checkpoint) and in files unchanged since.
	// The start-up check trusts them instead of hashing them; every other
	// piece is hashed as usual.
	Resume []bool
	// NoDHT keeps this torrent off the Client's DHT node, and NoPEX stops
	// it exchanging peers (BEP 11). A private torrent (BEP 27) never uses
	// either.
	NoDHT, NoPEX bool
}

// Stats is a snapshot of a torrent's progress.
type Stats struct {
	Pieces     int // pieces in the torrent
	Have       int // verified pieces
	HadAtStart int // verified pieces found on disk at start
	// HashedAtStart counts the pieces the start-up check read and hashed
	// (the rest were trusted from TorrentOptions.Resume, or were holes).
	HashedAtStart int
	Downloaded    int64 // payload bytes received
	Uploaded      int64 // payload bytes sent
	Verified      int   // pieces verified during this run
	HashFails     int   // pieces that failed their hash during this run
	Peers         int   // connected peers
	BytesLeft     int64 // bytes still missing
	TotalLength   int64
	Complete      bool
	Banned        int // peers banned in this run
	// Withheld counts pieces we had verified that no longer match the
	// torrent on disk (the file changed) and are not offered to peers.
	Withheld int
	// TrackerError is the last announce error, empty after a success.
	TrackerError string
	// FirstPeerAfter is how long after the torrent (or magnet) was added
	// the first peer connection completed its handshake; 0 until then.
	FirstPeerAfter time.Duration
	// FirstPieceAfter is how long after the torrent was added the first
	// piece of this run was verified, and FirstUploadAfter how long until
	// a peer connection's writer first sent a block; 0 until then. With
	// FirstPeerAfter they say where a receiver's start-up went (shoal
	// bench prints them).
	FirstPieceAfter, FirstUploadAfter time.Duration
	// MetadataAfter is how long a magnet took to fetch its info
	// dictionary from peers (BEP 9); 0 for a torrent added from a file.
	MetadataAfter time.Duration
	// NearPeers and FarPeers count the connected peers whose extended
	// handshake gave the same zone as Config.Zone and another one (0
	// without a zone); refreshed about every second.
	NearPeers, FarPeers int
}

// Torrent is one torrent being downloaded or served. Its loop goroutine
// owns the swarm core.
type Torrent struct {
	c          *Client
	mi         *metainfo.MetaInfo
	added      time.Time // when AddTorrent or AddMagnet was called
	opts       TorrentOptions
	log        *slog.Logger
	st         *storage.Storage
	core       *swarm.Swarm
	upLimits   limiters
	downLimits limiters

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	events   chan event
	trackers []string // announce URLs, numbered as the peer manager numbers them

	// Owned by the loop.
	mgr       *peers.Manager
	conns     map[swarm.ConnID]*peerConn  // accepted by the peer manager
	pending   map[swarm.ConnID]handshaken // awaiting the peer manager's verdict
	nextID    swarm.ConnID
	verifying chan struct{}
	hashq     *hashQueue // pieces to hash, and the goroutines hashing them (loop.go)
	asm       *assembler
	wb        *writebacker     // starts the write-back of written pieces (assemble.go)
	facts     []swarm.PeerFact // reused by tick
	later     []event          // results of the batches being performed, stepped after them
	wakes     heldWakes        // writers to wake at the end of a connBatch (batch.go)
	meta      *metadataServer  // ut_metadata replies, built on first request (extension.go)
	rc        *rechecker       // re-verification of pieces we have (recheck.go)
	sentAny   bool             // a block was sent (Stats.FirstUploadAfter is set)

	downloaded, uploaded atomic.Int64
	done                 chan struct{}
	doneOnce             sync.Once

	mu    sync.Mutex
	stats Stats
	err   error
	// verified is which pieces are verified and not withheld, for
	// Checkpoint and Verified.
	verified []bool
}

// AddTorrent opens the torrent's storage, checks what is on disk and
// starts serving and fetching it.
func (c *Client) AddTorrent(mi *metainfo.MetaInfo, opts TorrentOptions) (*Torrent, error) {
	return c.addTorrent(mi, opts, time.Now(), nil)
}

// addTorrent is AddTorrent with the time discovery started, which is
// earlier than now for a magnet, and the peer manager of a magnet's
// metadata phase (nil: a new one), which keeps what it learnt.
func (c *Client) addTorrent(mi *metainfo.MetaInfo, opts TorrentOptions, added time.Time, mgr *peers.Manager) (*Torrent, error) {
	files, err := mi.Info.LocalFiles()
	if err != nil {
		return nil, err
	}
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	root := mi.Info.Name
	if opts.Path != "" {
		dir, root = filepath.Split(filepath.Clean(opts.Path))
		if dir == "" {
			dir = "."
		}
	}
	layout := storage.Layout{PieceLength: mi.Info.PieceLength}
	for _, f := range files {
		// LocalFiles paths start with the torrent's name; put root there.
		rel := strings.TrimPrefix(f.Path, mi.Info.Name)
		layout.Files = append(layout.Files, storage.File{Path: root + rel, Length: f.Length})
	}
	for i := 0; i < mi.Info.NumPieces(); i++ {
		layout.PieceHashes = append(layout.PieceHashes, mi.Info.PieceHash(i))
	}
	mode := storage.ReadWrite
	if opts.Seed {
		mode = storage.ReadOnly
	}
	st, err := storage.Open(dir, layout, mode)
	if err != nil {
		return nil, err
	}
	logTruncated(c.log, st)
	have, hashed, err := st.CheckTrusting(c.ctx, opts.Resume, opts.Progress)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("check existing data: %w", err)
	}
	hadAtStart := 0
	for _, h := range have {
		if h {
			hadAtStart++
		}
	}
	if opts.Seed && hadAtStart != len(have) {
		st.Close()
		return nil, fmt.Errorf("%s does not match the torrent: %d of %d pieces fail their hash", dir, len(have)-hadAtStart, len(have))
	}
	core, err := swarm.New(swarm.Config{
		NumPieces:      mi.Info.NumPieces(),
		PieceLength:    mi.Info.PieceLength,
		TotalLength:    mi.Info.TotalLength(),
		Have:           have,
		Choker:         opts.Choker,
		InitialSeeding: opts.InitialSeeding,
		Seed:           time.Now().UnixNano(),
		Fast:           true,
		Zone:           c.cfg.Zone, // the core learns each peer's from its BEP 10 handshake
		PeerID:         c.cfg.PeerID,

		SoleSourceRetry: c.soleSourceRetry,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	trackers := opts.Trackers
	if trackers == nil {
		trackers = mi.Trackers()
	}
	private := mi.Info.Private
	now := time.Now()
	if mgr == nil {
		mgr, err = c.newManager(now, peers.Config{Trackers: len(trackers), DHT: !private && !opts.NoDHT && c.dht != nil,
			PEX: !private && !opts.NoPEX, Complete: core.Complete()})
		if err != nil {
			st.Close()
			return nil, err
		}
	} else {
		mgr.MetadataDone(now, private, core.Complete())
	}
	ctx, cancel := context.WithCancel(c.ctx)
	t := &Torrent{
		c:          c,
		mi:         mi,
		added:      added,
		opts:       opts,
		log:        c.log.With("torrent", mi.Info.Name),
		st:         st,
		core:       core,
		upLimits:   limiters{c.upLimit, newLimiter(opts.UploadLimit)},
		downLimits: limiters{c.dnLimit, newLimiter(opts.DownloadLimit)},
		ctx:        ctx,
		cancel:     cancel,
		events:     make(chan event, 1024),
		trackers:   trackers,
		mgr:        mgr,
		conns:      make(map[swarm.ConnID]*peerConn),
		pending:    make(map[swarm.ConnID]handshaken),
		verifying:  make(chan struct{}, runtime.NumCPU()),
		hashq:      newHashQueue(runtime.NumCPU()),
		asm:        newAssembler(mi.Info.PieceLength),
		wb:         newWritebacker(st),
		rc:         newRechecker(len(layout.Files)),
		done:       make(chan struct{}),
	}
	for _, l := range []*deferredWakes{&t.wakes.lazy, &t.wakes.haves} {
		l.timer = time.NewTimer(time.Hour)
		l.timer.Stop()
	}
	t.asm.wb.left = core.BytesLeft()
	t.verified = slices.Clone(have)
	t.stats = Stats{Pieces: len(have), Have: hadAtStart, HadAtStart: hadAtStart, HashedAtStart: hashed,
		TotalLength: mi.Info.TotalLength(), BytesLeft: core.BytesLeft(), Complete: core.Complete()}
	if core.Complete() {
		t.markDone(nil)
		t.rc.baseline(st) // what Check verified, for noticing changes
	}
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		cancel()
		st.Close()
		return nil, ErrClosed
	}
	if _, dup := c.torrents[mi.InfoHash]; dup {
		c.mu.Unlock()
		cancel()
		st.Close()
		return nil, fmt.Errorf("torrent %s already added", mi.InfoHash)
	}
	c.torrents[mi.InfoHash] = t
	c.mu.Unlock()

	t.wg.Add(1)
	go t.loop()
	t.AddPeers(opts.Peers)
	return t, nil
}

// InfoHash identifies the torrent.
func (t *Torrent) InfoHash() metainfo.InfoHash { return t.mi.InfoHash }

// Done is closed when every piece is verified, or the torrent failed
// (see Err).
func (t *Torrent) Done() <-chan struct{} { return t.done }

// Err reports a fatal error (such as a full disk) that stopped the torrent.
func (t *Torrent) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Stats returns a snapshot of the torrent's progress.
func (t *Torrent) Stats() Stats {
	t.mu.Lock()
	s := t.stats
	t.mu.Unlock()
	s.Downloaded = t.downloaded.Load()
	s.Uploaded = t.uploaded.Load()
	return s
}

// AddPeers offers addresses ("host:port") to dial; host names are
// resolved in the background.
func (t *Torrent) AddPeers(addrs []string) {
	resolvePeers(t.ctx, &t.wg, t.log, addrs, func(as []netip.AddrPort) {
		t.post(candidatesEvent{src: peers.FromUser, addrs: as})
	})
}

// Close stops the torrent: connections close, announcers send "stopped",
// storage is flushed. Verified pieces stay on disk for a later resume
// (Verified says which, once Close returned).
func (t *Torrent) Close() error {
	t.cancel()
	t.wg.Wait()
	t.c.mu.Lock()
	if t.c.torrents[t.mi.InfoHash] == t {
		delete(t.c.torrents, t.mi.InfoHash)
	}
	t.c.mu.Unlock()
	t.markDone(nil)
	err := t.st.Sync()
	if cerr := t.st.Close(); err == nil {
		err = cerr
	}
	return err
}

// Verified returns which pieces are verified now (and not withheld for
// failing a re-check). Pieces reported were written before they were
// verified; after Close they are also synced.
func (t *Torrent) Verified() []bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.verified)
}

// Checkpoint syncs the torrent's files and returns the pieces that were
// verified before the sync began, which are therefore on stable storage: a
// caller that records them as resume state never records a piece a crash
// could lose. It may run while the torrent downloads.
func (t *Torrent) Checkpoint() ([]bool, error) {
	v := t.Verified()
	if err := t.st.Sync(); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return v, nil
}

func (t *Torrent) markDone(err error) {
	t.doneOnce.Do(func() {
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
		close(t.done)
	})
}

// post hands an event to the loop; false once the torrent is closed, in
// which case what the event holds is released.
func (t *Torrent) post(ev event) bool {
	select {
	case t.events <- ev:
		return true
	case <-t.ctx.Done():
		ev.release()
		return false
	}
}

// adopt takes over an incoming connection after its handshake; dialAddr is
// unused ("" for every incoming connection) and kept for the accept loop.
func (t *Torrent) adopt(nc net.Conn, hs wire.Handshake, dialAddr string) {
	t.post(connectedEvent{nc: nc, hs: hs})
}

// fail stops the torrent with a fatal error.
func (t *Torrent) fail(err error) {
	t.log.Error("torrent failed", "err", err)
	t.markDone(err)
	t.cancel()
}

// updateStats refreshes the snapshot Stats returns.
func (t *Torrent) updateStats() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.Have = t.core.NumHave()
	t.stats.BytesLeft = t.core.BytesLeft()
	t.stats.Complete = t.core.Complete()
	t.stats.Peers = len(t.conns)
	if t.c.cfg.Zone != "" {
		cs := t.core.Stats()
		t.stats.NearPeers, t.stats.FarPeers = cs.NearPeers, cs.FarPeers
	}
}

// MetaInfo returns the torrent's metainfo; for a magnet, the one built
// from the fetched info dictionary.
func (t *Torrent) MetaInfo() *metainfo.MetaInfo { return t.mi }
