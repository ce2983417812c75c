package client

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
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
	// NoDHT keeps this torrent off the Client's DHT node, and NoPEX stops
	// it exchanging peers (BEP 11). A private torrent (BEP 27) never uses
	// either.
	NoDHT, NoPEX bool
}

// Stats is a snapshot of a torrent's progress.
type Stats struct {
	Pieces      int   // pieces in the torrent
	Have        int   // verified pieces
	HadAtStart  int   // verified pieces found on disk at start
	Downloaded  int64 // payload bytes received
	Uploaded    int64 // payload bytes sent
	Verified    int   // pieces verified during this run
	HashFails   int   // pieces that failed their hash during this run
	Peers       int   // connected peers
	BytesLeft   int64 // bytes still missing
	TotalLength int64
	Complete    bool
	Banned      int // peers banned in this run
	// TrackerError is the last announce error, empty after a success.
	TrackerError string
	// FirstPeerAfter is how long after the torrent (or magnet) was added
	// the first peer connection completed its handshake; 0 until then.
	FirstPeerAfter time.Duration
	// MetadataAfter is how long a magnet took to fetch its info
	// dictionary from peers (BEP 9); 0 for a torrent added from a file.
	MetadataAfter time.Duration
}

// event is what goroutines tell the torrent loop.
type event struct {
	kind  eventKind
	conn  *peerConn
	msg   wire.Message
	buf   *[]byte
	spec  swarm.BlockSpec
	piece int
	ok    bool
	err   error
	addrs []string
	addr  string
	nc    net.Conn
	hs    wire.Handshake
}

type eventKind int

const (
	evMessage eventKind = iota
	evConnected
	evDialFailed
	evClosed
	evBlockSent
	evVerified
	evPeers
)

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

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	events chan event

	// Owned by the loop.
	conns     map[swarm.ConnID]*peerConn
	byPeerID  map[[20]byte]*peerConn
	nextID    swarm.ConnID
	cands     map[string]*candidate
	halfOpen  int
	verifying chan struct{}
	asm       *assembler

	downloaded, uploaded atomic.Int64
	done                 chan struct{}
	doneOnce             sync.Once
	completed            chan struct{} // closed when the download completes
	completedOnce        sync.Once

	mu    sync.Mutex
	stats Stats
	err   error
}

// candidate is an address we may dial.
type candidate struct {
	failures  int
	nextTry   time.Time
	connected bool
	self      bool
}

// AddTorrent opens the torrent's storage, checks what is on disk and
// starts serving and fetching it.
func (c *Client) AddTorrent(mi *metainfo.MetaInfo, opts TorrentOptions) (*Torrent, error) {
	return c.addTorrent(mi, opts, time.Now())
}

// addTorrent is AddTorrent with the time discovery started, which is
// earlier than now for a magnet.
func (c *Client) addTorrent(mi *metainfo.MetaInfo, opts TorrentOptions, added time.Time) (*Torrent, error) {
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
	have, err := st.Check(c.ctx, opts.Progress)
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
	})
	if err != nil {
		st.Close()
		return nil, err
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
		conns:      make(map[swarm.ConnID]*peerConn),
		byPeerID:   make(map[[20]byte]*peerConn),
		cands:      make(map[string]*candidate),
		verifying:  make(chan struct{}, runtime.NumCPU()),
		asm:        newAssembler(mi.Info.PieceLength),
		done:       make(chan struct{}),
		completed:  make(chan struct{}),
	}
	t.stats = Stats{Pieces: len(have), Have: hadAtStart, HadAtStart: hadAtStart,
		TotalLength: mi.Info.TotalLength(), BytesLeft: core.BytesLeft(), Complete: core.Complete()}
	if core.Complete() {
		t.markDone(nil)
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
	trackers := opts.Trackers
	if trackers == nil {
		trackers = mi.Trackers()
	}
	for _, u := range trackers {
		t.wg.Add(1)
		go t.announceLoop(u)
	}
	if t.usesDHT() {
		t.wg.Add(1)
		go t.dhtLoop()
	}
	if len(opts.Peers) > 0 {
		t.post(event{kind: evPeers, addrs: opts.Peers})
	}
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

// AddPeers offers addresses to dial.
func (t *Torrent) AddPeers(addrs []string) { t.post(event{kind: evPeers, addrs: addrs}) }

// Close stops the torrent: connections close, announcers send "stopped",
// storage is flushed. Verified pieces stay on disk for a later resume.
func (t *Torrent) Close() error {
	t.cancel()
	t.wg.Wait()
	t.c.mu.Lock()
	if t.c.torrents[t.mi.InfoHash] == t {
		delete(t.c.torrents, t.mi.InfoHash)
	}
	t.c.mu.Unlock()
	t.markDone(nil)
	return t.st.Close()
}

func (t *Torrent) markDone(err error) {
	t.doneOnce.Do(func() {
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
		close(t.done)
	})
}

// post hands an event to the loop; false once the torrent is closed.
func (t *Torrent) post(ev event) bool {
	select {
	case t.events <- ev:
		return true
	case <-t.ctx.Done():
		if ev.buf != nil {
			blockPool.Put(ev.buf)
		}
		return false
	}
}

// adopt takes over an incoming connection after its handshake.
func (t *Torrent) adopt(nc net.Conn, hs wire.Handshake, dialAddr string) {
	if !t.post(event{kind: evConnected, nc: nc, hs: hs, addr: dialAddr}) {
		nc.Close()
	}
}

// loop is the only goroutine that touches the core.
func (t *Torrent) loop() {
	defer t.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			for _, pc := range t.conns {
				pc.close("torrent stopped")
			}
			t.drain()
			return
		case now := <-tick.C:
			t.core.Tick(now)
			t.apply(nil)
			t.dialMore(now)
			t.sendPEX(now)
			t.updateStats()
		case ev := <-t.events:
			t.handle(ev)
			t.apply(ev.buf)
			if ev.buf != nil {
				blockPool.Put(ev.buf)
			}
		}
	}
}

// drain releases what events still queued after the loop stopped hold:
// connections nobody will adopt and pooled buffers.
func (t *Torrent) drain() {
	for {
		select {
		case ev := <-t.events:
			if ev.nc != nil {
				ev.nc.Close()
			}
			if ev.buf != nil {
				blockPool.Put(ev.buf)
			}
		default:
			return
		}
	}
}

// handle feeds one event to the core or the connection bookkeeping.
func (t *Torrent) handle(ev event) {
	now := time.Now()
	switch ev.kind {
	case evMessage:
		if _, ok := t.conns[ev.conn.id]; ok {
			switch ev.msg.Type {
			case wire.Extended:
				if !t.onExtended(now, ev.conn, ev.msg) {
					return
				}
			case wire.Port:
				t.onPort(ev.conn, ev.msg.Port)
				return
			}
			t.core.Receive(now, ev.conn.id, ev.msg)
		}
	case evBlockSent:
		if _, ok := t.conns[ev.conn.id]; ok {
			t.core.BlockSent(now, ev.conn.id, ev.spec)
		}
	case evVerified:
		t.mu.Lock()
		if ev.ok {
			t.stats.Verified++
		} else {
			t.stats.HashFails++
		}
		t.mu.Unlock()
		if !ev.ok {
			t.log.Warn("piece failed its hash", "piece", ev.piece)
		} else if b := t.asm.take(ev.piece); b != nil {
			t.asm.put(b) // a stray late block: the piece is done
		}
		t.core.PieceVerified(now, ev.piece, ev.ok)
	case evConnected:
		t.connected(now, ev)
	case evDialFailed:
		t.halfOpen--
		if cd := t.cands[ev.addr]; cd != nil {
			cd.connected = false
			cd.failures++
			cd.nextTry = now.Add(time.Duration(min(cd.failures, 6)) * 5 * time.Second)
		}
	case evClosed:
		pc := ev.conn
		if _, ok := t.conns[pc.id]; !ok {
			return
		}
		delete(t.conns, pc.id)
		if t.byPeerID[pc.peerID] == pc {
			delete(t.byPeerID, pc.peerID)
		}
		if cd := t.cands[pc.dialAddr]; cd != nil {
			cd.connected = false
			cd.nextTry = now.Add(5 * time.Second)
		}
		t.log.Debug("peer gone", "peer", pc, "reason", pc.closeReason())
		t.core.RemovePeer(now, pc.id)
	case evPeers:
		t.addCandidates(now, ev.addrs)
	}
}

// addCandidates remembers addresses to dial, up to a bound, and dials.
func (t *Torrent) addCandidates(now time.Time, addrs []string) {
	for _, a := range addrs {
		if _, ok := t.cands[a]; !ok && len(t.cands) < maxCandidates {
			t.cands[a] = &candidate{}
		}
	}
	t.dialMore(now)
}

// maxCandidates bounds the addresses a torrent remembers.
const maxCandidates = 4096

// connected registers a connection whose handshake completed.
func (t *Torrent) connected(now time.Time, ev event) {
	if ev.addr != "" {
		t.halfOpen--
	}
	cd := t.cands[ev.addr]
	if ev.hs.PeerID == t.c.cfg.PeerID {
		// A tracker handed us our own address: forget it, no ban.
		if cd != nil {
			cd.self = true
		}
		ev.nc.Close()
		return
	}
	pc := newPeerConn(t, ev.nc, ev.hs, ev.addr)
	if t.c.isBanned(banKeys(pc)...) {
		ev.nc.Close()
		return
	}
	if len(t.conns) >= t.c.cfg.MaxPeersPerTorrent {
		if cd != nil {
			cd.connected = false
			cd.nextTry = now.Add(5 * time.Second)
		}
		ev.nc.Close()
		return
	}
	if old := t.byPeerID[pc.peerID]; old != nil {
		// Both sides dialed each other. Keep the connection opened by the
		// peer with the lower id, so both ends keep the same one.
		weDialedNew := ev.addr != ""
		ourLower := string(t.c.cfg.PeerID[:]) < string(pc.peerID[:])
		if weDialedNew != ourLower {
			// Keep the old one; it now stands for this address too.
			if cd != nil {
				cd.connected = true
				if old.dialAddr == "" {
					old.dialAddr = ev.addr
				}
			}
			ev.nc.Close()
			return
		}
		if pc.dialAddr == "" {
			pc.dialAddr, old.dialAddr = old.dialAddr, ""
		}
		old.close("duplicate connection")
	}
	if cd != nil {
		cd.connected = true
		cd.failures = 0
	}
	t.nextID++
	pc.id = t.nextID
	t.conns[pc.id] = pc
	t.byPeerID[pc.peerID] = pc
	t.wg.Add(2)
	go func() { defer t.wg.Done(); pc.readLoop(t.ctx) }()
	go func() { defer t.wg.Done(); pc.writeLoop(t.ctx) }()
	t.core.AddPeer(now, pc.id, swarm.PeerInfo{Fast: pc.hs.SupportsFast(), Extended: pc.hs.SupportsExtended()})
	t.apply(nil)
	if pc.hs.SupportsExtended() {
		t.sendExtendedHandshake(pc)
	}
	t.sendPort(pc)
	t.mu.Lock()
	if t.stats.FirstPeerAfter == 0 {
		t.stats.FirstPeerAfter = max(now.Sub(t.added), time.Nanosecond)
	}
	t.mu.Unlock()
}

// apply carries out the core's actions. blockBuf holds the payload of the
// Piece message just received, for a WriteBlock action.
func (t *Torrent) apply(blockBuf *[]byte) {
	for {
		acts := t.core.Actions()
		if len(acts) == 0 {
			return
		}
		for _, a := range acts {
			t.do(a, blockBuf)
		}
	}
}

func (t *Torrent) do(a swarm.Action, blockBuf *[]byte) {
	now := time.Now()
	pc := t.conns[a.Conn]
	switch a.Kind {
	case swarm.Send:
		if pc != nil {
			pc.enqueue(outItem{msg: a.Msg})
		}
	case swarm.SendBlock:
		if pc != nil {
			pc.enqueue(outItem{block: a.Block, isBlock: true})
		}
	case swarm.DropBlock:
		if pc != nil {
			pc.drop(a.Block)
		}
	case swarm.WriteBlock:
		var err error
		b := a.Block
		switch {
		case blockBuf == nil || int(b.Length) > len(*blockBuf):
			err = errors.New("no block buffer for write")
		case int64(b.Begin)+int64(b.Length) > t.mi.Info.PieceSize(int(b.Piece)):
			err = fmt.Errorf("block %d:%d+%d outside its piece", b.Piece, b.Begin, b.Length)
		default:
			if buf, ok := t.asm.buffer(int(b.Piece)); ok {
				copy(buf[b.Begin:], (*blockBuf)[:b.Length])
			} else {
				err = t.st.WriteBlock(int(b.Piece), int64(b.Begin), (*blockBuf)[:b.Length])
			}
		}
		if err != nil {
			t.fail(fmt.Errorf("write piece %d: %w", a.Block.Piece, err))
		}
		t.core.BlockWritten(now, a.Block, err)
	case swarm.VerifyPiece:
		piece := a.Piece
		buf := t.asm.take(piece)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			if buf != nil {
				defer t.asm.put(buf)
			}
			select {
			case t.verifying <- struct{}{}:
			case <-t.ctx.Done():
				return
			}
			ok, err := t.verify(piece, buf)
			<-t.verifying
			if err != nil {
				t.fail(fmt.Errorf("verify piece %d: %w", piece, err))
				return
			}
			t.post(event{kind: evVerified, piece: piece, ok: ok})
		}()
	case swarm.Disconnect:
		if pc != nil {
			t.log.Debug("disconnect", "peer", pc, "reason", a.Reason)
			pc.close(a.Reason)
		}
	case swarm.Ban:
		if pc != nil {
			t.log.Warn("banned peer", "peer", pc, "reason", a.Reason)
			t.c.ban(pc, a.Reason)
			t.mu.Lock()
			t.stats.Banned++
			t.mu.Unlock()
			pc.close("banned: " + a.Reason)
		}
	case swarm.Completed:
		t.updateStats()
		if err := t.st.Sync(); err != nil {
			t.fail(fmt.Errorf("sync: %w", err))
			return
		}
		t.markDone(nil)
		t.completedOnce.Do(func() { close(t.completed) })
	}
}

// verify checks a piece's SHA-1. A piece assembled in memory is hashed
// there and written to disk only if it matched; otherwise the piece is
// read back from disk.
func (t *Torrent) verify(piece int, buf []byte) (bool, error) {
	if buf == nil {
		return t.st.VerifyPiece(piece)
	}
	data := buf[:t.mi.Info.PieceSize(piece)]
	if sha1.Sum(data) != t.mi.Info.PieceHash(piece) {
		return false, nil
	}
	if _, err := t.st.WriteAt(data, int64(piece)*t.mi.Info.PieceLength); err != nil {
		return false, err
	}
	return true, nil
}

// fail stops the torrent with a fatal error.
func (t *Torrent) fail(err error) {
	t.log.Error("torrent failed", "err", err)
	t.markDone(err)
	t.cancel()
}

// dialMore dials candidates while below the peer and half-open bounds.
func (t *Torrent) dialMore(now time.Time) {
	if t.ctx.Err() != nil {
		return
	}
	for addr, cd := range t.cands {
		if len(t.conns)+t.halfOpen >= t.c.cfg.MaxPeersPerTorrent || t.halfOpen >= t.c.cfg.MaxHalfOpen {
			return
		}
		if cd.connected || cd.self || now.Before(cd.nextTry) || t.c.isBanned(addrBanKeys(addr)...) {
			continue
		}
		if t.core.Complete() && cd.failures > 0 {
			continue
		}
		cd.connected = true // in flight; reset on failure
		cd.nextTry = now.Add(30 * time.Second)
		t.halfOpen++
		t.wg.Add(1)
		go func(addr string) {
			defer t.wg.Done()
			nc, hs, err := t.c.dial(t.ctx, addr, t.mi.InfoHash)
			if err != nil {
				t.log.Debug("dial failed", "addr", addr, "err", err)
				t.post(event{kind: evDialFailed, addr: addr})
				return
			}
			if !t.post(event{kind: evConnected, nc: nc, hs: hs, addr: addr}) {
				nc.Close()
			}
		}(addr)
	}
}

// updateStats refreshes the snapshot Stats returns.
func (t *Torrent) updateStats() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.Have = t.core.NumHave()
	t.stats.BytesLeft = t.core.BytesLeft()
	t.stats.Complete = t.core.Complete()
	t.stats.Peers = len(t.conns)
}

// MetaInfo returns the torrent's metainfo; for a magnet, the one built
// from the fetched info dictionary.
func (t *Torrent) MetaInfo() *metainfo.MetaInfo { return t.mi }
