package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/shoal-p2p/shoal/client"
	"github.com/shoal-p2p/shoal/metainfo"
)

// Errors the API maps to status codes.
var (
	// ErrNotFound: no such torrent, file or channel here.
	ErrNotFound = errors.New("not found")
	// ErrDiskFull: the store's filesystem has no room, even after the
	// collector deleted what it may.
	ErrDiskFull = errors.New("disk full")
	// ErrInUse: the content is a channel's current release or otherwise
	// protected.
	ErrInUse = errors.New("in use")
	// ErrIncomplete: the torrent's data is not verified yet.
	ErrIncomplete = errors.New("not complete")
	// ErrReadOnly: the store's filesystem refuses writes (mounted or
	// remounted read-only).
	ErrReadOnly = errors.New("store is read-only")
	// ErrChanged: the store's copy of a file is not what was verified
	// (replaced, resized, turned into a symlink).
	ErrChanged = errors.New("changed on disk")
)

// Torrent states in TorrentStatus.State.
const (
	StateMetadata    = "metadata"    // fetching a magnet link's info dictionary
	StateChecking    = "checking"    // hashing what is on disk
	StateDownloading = "downloading" // fetching pieces
	StateSeeding     = "seeding"     // complete, serving
	StateError       = "error"       // stopped by an error (see Error)
)

// entry is one torrent of the store. All fields are guarded by Agent.mu;
// the torrent's own goroutine (run) changes state, t and err.
type entry struct {
	rec     torrentRecord
	t       *client.Torrent // nil before the torrent started
	ctx     context.Context
	cancel  context.CancelFunc
	exited  chan struct{} // closed when run returns
	state   string
	err     string
	readers int  // open reads through the API
	trusted int  // pieces the resume state vouched for at start
	busy    bool // a channel fetch waits on it
	// complete is closed once every piece is verified.
	complete chan struct{}
	// rates, sampled every second by sampleLoop.
	downRate, upRate float64
	lastDown, lastUp int64
}

// stop ends the torrent's goroutine and closes the torrent; verified
// data stays.
func (e *entry) stop() {
	e.cancel()
	<-e.exited
}

func (e *entry) isComplete() bool {
	select {
	case <-e.complete:
		return true
	default:
		return false
	}
}

// local reports whether the entry is the user's own files seeded in place.
func (e *entry) local() bool { return e.rec.Path != "" }

// counters are totals of torrents that left the store.
type counters struct {
	down, up            int64
	verified, hashFails int
	banned              int
}

// addOptions are what an add knows beyond the torrent itself.
type addOptions struct {
	pinned      bool
	path        string // local content seeded in place
	channel     string
	seq         uint64
	publishedAt time.Time
	busy        bool // a channel fetch: never collected while it runs
	origin      bool // content we publish
}

// addMeta adds a torrent from its metainfo: it is recorded in the index,
// its storage opened (preallocated) and it starts fetching or seeding. An
// info hash already present returns the existing entry and created=false.
// A full disk, after the collector made what room it may, is ErrDiskFull;
// nothing of the torrent is left behind then.
func (a *Agent) addMeta(mi *metainfo.MetaInfo, o addOptions) (e *entry, created bool, err error) {
	ih := mi.InfoHash.String()
	rec := torrentRecord{
		InfoHash: ih, Name: mi.Info.Name, Info: mi.InfoBytes, Trackers: mi.Trackers(),
		Path: o.path, Size: mi.Info.TotalLength(), Added: a.cfg.Now().UTC(), Pinned: o.pinned,
		Channel: o.channel, Seq: o.seq, PublishedAt: o.publishedAt, Origin: o.origin,
	}
	a.mu.Lock()
	if old := a.entries[mi.InfoHash]; old != nil {
		changed := false
		if o.pinned && !old.rec.Pinned {
			old.rec.Pinned, changed = true, true
		}
		if o.channel != "" && old.rec.Channel == "" {
			// Content we already hold (added by hand) is now also a
			// release: it becomes that release.
			old.rec.Channel, old.rec.Seq, old.rec.PublishedAt, changed = o.channel, o.seq, o.publishedAt, true
		}
		old.busy = old.busy || o.busy
		rec := old.rec
		a.mu.Unlock()
		if changed {
			if err := a.ix.putTorrent(rec); err != nil {
				return nil, false, a.diskError(err)
			}
		}
		return old, false, nil
	}
	a.order++
	rec.Order = a.order
	e = a.newEntry(rec)
	e.busy = o.busy
	a.entries[mi.InfoHash] = e
	a.mu.Unlock()

	if !e.local() {
		a.makeRoom(rec.Size, ih)
	}
	fail := func(err error) (*entry, bool, error) {
		a.mu.Lock()
		delete(a.entries, mi.InfoHash)
		a.mu.Unlock()
		close(e.exited)
		a.ix.deleteTorrent(ih)
		if !e.local() {
			os.RemoveAll(a.contentDir(ih))
		}
		return nil, false, err
	}
	if err := a.ix.putTorrent(rec); err != nil {
		return fail(a.diskError(err))
	}
	t, err := a.openTorrent(mi, rec, nil)
	if errors.Is(err, syscall.ENAMETOOLONG) {
		return fail(requestError{fmt.Errorf("a name in torrent %s is too long for the filesystem of %s: %w", ih, a.cfg.Dir, err)})
	}
	if err != nil {
		return fail(a.diskError(err))
	}
	a.setDiskErr("")
	a.wg.Add(1)
	go a.run(e, mi, t)
	return e, true, nil
}

// addMagnet records a magnet link and starts fetching its info dictionary
// from peers; the torrent starts once it arrived.
func (a *Agent) addMagnet(m metainfo.Magnet, o addOptions) (*entry, bool, error) {
	ih := m.InfoHash.String()
	rec := torrentRecord{InfoHash: ih, Name: m.DisplayName, Magnet: m.String(), Trackers: m.Trackers,
		Added: a.cfg.Now().UTC(), Pinned: o.pinned}
	a.mu.Lock()
	if old := a.entries[m.InfoHash]; old != nil {
		a.mu.Unlock()
		return old, false, nil
	}
	a.order++
	rec.Order = a.order
	e := a.newEntry(rec)
	a.entries[m.InfoHash] = e
	a.mu.Unlock()
	if err := a.ix.putTorrent(rec); err != nil {
		a.mu.Lock()
		delete(a.entries, m.InfoHash)
		a.mu.Unlock()
		close(e.exited)
		return nil, false, a.diskError(err)
	}
	a.wg.Add(1)
	go a.run(e, nil, nil)
	return e, true, nil
}

// addLocal makes a torrent of the file or folder at path and seeds it in
// place. The agent never deletes or writes these files.
func (a *Agent) addLocal(path string, pieceLength int64, o addOptions) (*entry, bool, error) {
	if !filepath.IsAbs(path) {
		return nil, false, fmt.Errorf("path %q: want an absolute path", path)
	}
	path, err := a.checkSource(path)
	if err != nil {
		return nil, false, err
	}
	mi, err := metainfo.Create(path, metainfo.CreateOptions{Trackers: a.cfg.Trackers, PieceLength: pieceLength})
	if err != nil {
		return nil, false, err
	}
	o.path = path
	return a.addMeta(mi, o)
}

// checkSource checks a path the API gives as content to seed or publish:
// absolute, an existing regular file or folder, readable, and neither in
// the agent's data folder nor holding it (publishing the data folder would
// copy it into itself until the disk is full). Errors are the caller's
// (400), naming the cause.
func (a *Agent) checkSource(path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", requestError{fmt.Errorf("path %q: want an absolute path", path)}
	}
	path = filepath.Clean(path)
	fi, err := os.Stat(path)
	if err != nil {
		return "", requestError{fmt.Errorf("path: %w", err)}
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		return "", requestError{fmt.Errorf("path %s: not a regular file or folder (%v)", path, fi.Mode().Type())}
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", requestError{fmt.Errorf("path: %w", err)}
	}
	dataDir, err := filepath.EvalSymlinks(a.cfg.Dir)
	if err != nil {
		dataDir = a.cfg.Dir
	}
	if within(real, dataDir) || within(dataDir, real) {
		return "", requestError{fmt.Errorf("path %s: inside the agent's data folder %s or holding it; give content from elsewhere", path, a.cfg.Dir)}
	}
	return path, nil
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsLocal(rel) || rel == "."
}

func (a *Agent) newEntry(rec torrentRecord) *entry {
	ctx, cancel := context.WithCancel(a.ctx)
	state := StateChecking
	if len(rec.Info) == 0 {
		state = StateMetadata
	}
	return &entry{rec: rec, ctx: ctx, cancel: cancel, exited: make(chan struct{}), state: state,
		complete: make(chan struct{})}
}

// trackersFor is the announce list of a torrent: its own and the agent's.
func (a *Agent) trackersFor(rec torrentRecord) []string {
	ts := slices.Clone(rec.Trackers)
	for _, u := range a.cfg.Trackers {
		if !slices.Contains(ts, u) {
			ts = append(ts, u)
		}
	}
	return ts
}

// openTorrent starts the torrent in the client: in the store folder, or
// seeding the user's files in place. The start-up check hashes every
// piece but those in trusted (resume state).
func (a *Agent) openTorrent(mi *metainfo.MetaInfo, rec torrentRecord, trusted []bool) (*client.Torrent, error) {
	opts := client.TorrentOptions{Dir: a.contentDir(rec.InfoHash), Trackers: a.trackersFor(rec)}
	if rec.Path != "" {
		opts = client.TorrentOptions{Path: rec.Path, Seed: true, Trackers: opts.Trackers}
	}
	opts.InitialSeeding = rec.Origin
	opts.Resume = trusted
	return a.cl.AddTorrent(mi, opts)
}

// run is the goroutine of one torrent: it fetches a magnet's metadata,
// starts the torrent if not yet started, and follows it to completion.
func (a *Agent) run(e *entry, mi *metainfo.MetaInfo, t *client.Torrent) {
	defer a.wg.Done()
	defer close(e.exited)
	defer func() {
		if t == nil {
			return
		}
		t.Close()
		a.mu.Lock()
		crashed, rec := a.crashed, e.rec
		a.mu.Unlock()
		if !e.isComplete() && !crashed && mi != nil {
			// A clean stop: Close synced what verified and nothing of
			// ours writes any more.
			a.recordResume(rec, &mi.Info, t.Verified(), nil, true)
		}
	}()
	setState := func(state, errText string) {
		a.mu.Lock()
		e.state, e.err = state, errText
		e.t = t
		a.mu.Unlock()
	}
	if mi == nil && len(e.rec.Info) == 0 {
		m, err := metainfo.ParseMagnet(e.rec.Magnet)
		if err != nil {
			setState(StateError, err.Error())
			return
		}
		t, err = a.cl.AddMagnet(e.ctx, m, client.TorrentOptions{Dir: a.contentDir(e.rec.InfoHash), Trackers: a.trackersFor(e.rec)})
		if err != nil {
			if e.ctx.Err() == nil {
				setState(StateError, err.Error())
			}
			return
		}
		mi = t.MetaInfo()
		a.mu.Lock()
		e.rec.Info, e.rec.Name, e.rec.Size = mi.InfoBytes, mi.Info.Name, mi.Info.TotalLength()
		rec := e.rec
		a.mu.Unlock()
		a.ix.putTorrent(rec)
	}
	resumed := t == nil
	for t == nil {
		// Resumed from the index: check what is on disk, then serve.
		if mi == nil {
			info, err := metainfo.ParseInfo(e.rec.Info)
			if err != nil {
				setState(StateError, fmt.Sprintf("index holds a bad info dictionary: %v", err))
				return
			}
			mi = &metainfo.MetaInfo{Info: *info, InfoBytes: e.rec.Info, InfoHash: metainfo.InfoHash(sha1Sum(e.rec.Info))}
			if len(e.rec.Trackers) > 0 {
				mi.Announce = e.rec.Trackers[0]
			}
		}
		var err error
		if !e.local() {
			a.makeRoom(e.rec.Size, e.rec.InfoHash)
		}
		trusted, stamps := a.resumeFor(e.rec, &mi.Info)
		t, err = a.openTorrent(mi, e.rec, trusted)
		if err == nil {
			a.mu.Lock()
			e.trusted = countTrue(trusted)
			a.mu.Unlock()
			st := t.Stats()
			a.log.Info("resumed torrent", "torrent", e.rec.Name, "pieces", st.Pieces, "verified", st.HadAtStart,
				"trusted", countTrue(trusted), "hashed", st.HashedAtStart)
			if st.HashedAtStart > 0 || countTrue(trusted) != st.HadAtStart {
				// The check learnt something: record it, with the stamps
				// taken before it (a change made since shows as one). A
				// complete torrent writes no more, so that is clean.
				a.recordResume(e.rec, &mi.Info, t.Verified(), stamps, st.Complete)
			}
			break
		}
		err = a.diskError(err)
		setState(StateError, err.Error())
		a.log.Error("resume torrent", "torrent", e.rec.Name, "infohash", e.rec.InfoHash, "err", err)
		select { // a full disk may clear: retry
		case <-e.ctx.Done():
			return
		case <-time.After(30 * time.Second):
		}
	}
	// Seeding is set below, together with e.complete, so that a status
	// that says seeding always comes with files that can be read.
	setState(StateDownloading, "")
	if !a.followDownload(e, mi, t) {
		return
	}
	if err := t.Err(); err != nil {
		err = a.diskError(err)
		setState(StateError, err.Error())
		a.log.Error("torrent stopped", "torrent", e.rec.Name, "infohash", e.rec.InfoHash, "err", err)
		return
	}
	a.mu.Lock()
	first := e.rec.Completed.IsZero()
	if first {
		e.rec.Completed = a.cfg.Now().UTC()
	}
	rec := e.rec
	a.mu.Unlock()
	if first {
		if err := a.ix.putTorrent(rec); err != nil {
			a.log.Error("index", "err", err)
		}
	}
	if st := t.Stats(); !resumed || st.HadAtStart != st.Pieces {
		// Completed here, or added complete (a resume found complete has
		// its record from the check already): the client synced at completion and nothing of ours
		// writes any more, so the stamps taken now vouch for the data.
		a.recordResume(rec, &mi.Info, t.Verified(), nil, true)
	}
	a.mu.Lock()
	e.state = StateSeeding
	close(e.complete)
	a.mu.Unlock()
	a.kickGC()
	<-e.ctx.Done()
}

// diskError turns a failure caused by a full filesystem into ErrDiskFull
// with a clear message, and records it for the API and the metrics.
func (a *Agent) diskError(err error) error {
	if errors.Is(err, syscall.EROFS) {
		err = fmt.Errorf("%w: %s is on a read-only filesystem (remount it read-write; verified content is still served): %w", ErrReadOnly, a.cfg.Dir, err)
		a.setDiskErr(err.Error())
		a.log.Error("store read-only", "err", err)
		return err
	}
	if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
		return err
	}
	d, _ := a.cfg.Disk()
	err = fmt.Errorf("%w: %s has %s free of %s, and nothing more may be deleted (pinned, current or in use): %w",
		ErrDiskFull, a.cfg.Dir, formatSize(d.Total-d.Used), formatSize(d.Total), err)
	a.setDiskErr(err.Error())
	a.metrics.diskFull.Inc()
	a.log.Error("disk full", "err", err)
	return err
}

func (a *Agent) setDiskErr(s string) {
	a.mu.Lock()
	a.diskErr = s
	a.mu.Unlock()
}

// lookup returns the entry for an info hash.
func (a *Agent) lookup(ih metainfo.InfoHash) (*entry, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.entries[ih]
	return e, ok
}

// remove deletes a torrent from the store: it stops, leaves the index,
// and its files are deleted unless they are the user's own (local). force
// is false for the API, which may not delete a channel's current release.
func (a *Agent) remove(ih metainfo.InfoHash, why string, force bool) error {
	a.mu.Lock()
	e := a.entries[ih]
	if e == nil {
		a.mu.Unlock()
		return fmt.Errorf("torrent %s: %w", ih, ErrNotFound)
	}
	if !force {
		if s := a.channels[e.rec.Channel]; s != nil && s.currentInfoHash() == ih.String() {
			a.mu.Unlock()
			return fmt.Errorf("torrent %s is the current release %d of channel %q (unsubscribe first): %w", ih, e.rec.Seq, e.rec.Channel, ErrInUse)
		}
		if s := a.channels[e.rec.Channel]; s != nil && s.rec.Subscribed && slices.Contains(s.sub.Fetching(), e.rec.Seq) {
			a.mu.Unlock()
			return fmt.Errorf("torrent %s is release %d of channel %q, being fetched: the subscription would fetch it again (unsubscribe first): %w", ih, e.rec.Seq, e.rec.Channel, ErrInUse)
		}
	}
	delete(a.entries, ih)
	a.mu.Unlock()
	e.stop()
	a.mu.Lock()
	if e.t != nil {
		st := e.t.Stats()
		if s := a.channels[e.rec.Channel]; s != nil {
			s.uploadedGone += st.Uploaded
		}
		a.gone.down += st.Downloaded
		a.gone.up += st.Uploaded
		a.gone.verified += st.Verified
		a.gone.hashFails += st.HashFails
		a.gone.banned += st.Banned
	}
	a.mu.Unlock()
	err := a.ix.deleteTorrent(ih.String())
	if !e.local() {
		if rerr := os.RemoveAll(a.contentDir(ih.String())); rerr != nil && err == nil {
			err = fmt.Errorf("delete files of %s: %w", ih, rerr)
		}
	}
	a.log.Info("removed torrent", "torrent", e.rec.Name, "infohash", ih, "why", why)
	if e.rec.Channel != "" {
		a.releaseRemoved(e.rec.Channel, e.rec.Seq)
	}
	a.metrics.removed.WithLabelValues(why).Inc()
	return err
}

// restore starts every torrent of the index and removes leftovers of a
// crash in the middle of a delete (content folders the index does not
// name).
func (a *Agent) restore() error {
	recs, err := a.ix.torrents()
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(recs))
	for _, rec := range recs {
		ih, err := metainfo.ParseInfoHash(rec.InfoHash)
		if err != nil {
			a.log.Error("index: bad info hash, skipped", "infohash", rec.InfoHash)
			continue
		}
		known[rec.InfoHash] = true
		e := a.newEntry(rec)
		a.mu.Lock()
		a.order = max(a.order, rec.Order)
		a.entries[ih] = e
		a.mu.Unlock()
		a.wg.Add(1)
		go a.run(e, nil, nil)
	}
	dirs, err := os.ReadDir(filepath.Join(a.cfg.Dir, "content"))
	if err != nil {
		return fmt.Errorf("agent: read content folder: %w", err)
	}
	for _, d := range dirs {
		if !known[d.Name()] && !strings.HasPrefix(d.Name(), ".") {
			a.log.Warn("removing content the index does not know (an interrupted delete)", "dir", d.Name())
			os.RemoveAll(filepath.Join(a.cfg.Dir, "content", d.Name()))
		}
	}
	return a.restoreChannels()
}
