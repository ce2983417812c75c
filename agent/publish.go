package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/metainfo"
)

// PublishRequest is the body of POST /v1/channels/{name}/releases: publish
// the file or folder at Path as the next release of the channel.
type PublishRequest struct {
	// Path is the content, an absolute path on the agent's host. It is
	// copied into the store, so the publisher may replace it at once.
	Path string `json:"path"`
	// Key is the tracker's publish key.
	Key string `json:"key"`
	// Seq, if not 0, asks for this sequence number.
	Seq uint64 `json:"seq,omitempty"`
	// PieceLength, if not 0, is the torrent's piece length.
	PieceLength int64 `json:"piece_length,omitempty"`
}

// Publish copies req.Path into the store, seeds it and registers it with
// every tracker as the next release of channel ch. It returns once the
// first tracker registered it; the release then is the channel's current
// one here too, and the agent registers it again with any tracker that
// loses it (a restart on the memory store).
func (a *Agent) Publish(ctx context.Context, ch string, req PublishRequest) (channel.Release, error) {
	if err := channel.ValidName(ch); err != nil {
		return channel.Release{}, err
	}
	tcs, err := a.channelTrackers()
	if err != nil {
		return channel.Release{}, err
	}
	if len(tcs) == 0 {
		return channel.Release{}, ErrNoTracker
	}
	src, err := a.checkSource(req.Path)
	if err != nil {
		return channel.Release{}, err
	}
	mi, err := a.importContent(src, req.PieceLength)
	if err != nil {
		return channel.Release{}, err
	}
	e, created, err := a.addMeta(mi, addOptions{origin: true})
	if err != nil {
		return channel.Release{}, err
	}
	undo := func() {
		if created {
			a.remove(mi.InfoHash, "publish failed", true)
		}
	}
	select {
	case <-e.complete:
	case <-e.exited:
		undo()
		return channel.Release{}, fmt.Errorf("seed %s: %s", mi.Info.Name, e.err)
	case <-ctx.Done():
		undo()
		return channel.Release{}, ctx.Err()
	}
	var rel channel.Release
	var errs []error
	for _, tc := range tcs {
		r, err := tc.Publish(ctx, ch, req.Key, mi.InfoBytes, max(req.Seq, rel.Seq))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rel.Seq == 0 {
			rel = r
		}
	}
	if rel.Seq == 0 {
		undo()
		return channel.Release{}, errors.Join(errs...)
	}
	for _, err := range errs {
		a.log.Warn("publish: a tracker refused", "channel", ch, "seq", rel.Seq, "err", err)
	}
	pub := publishedRecord{Channel: ch, Seq: rel.Seq, InfoHash: mi.InfoHash.String(), Key: req.Key}
	if err := a.ix.putPublished(pub); err != nil {
		return rel, a.diskError(err)
	}
	a.mu.Lock()
	s := a.subscriberLocked(ch)
	if e.rec.Channel == ch && e.rec.Seq != 0 && e.rec.Seq < rel.Seq {
		// An earlier release published again (a rollback): the content
		// is now the new release.
		s.sub.Removed(e.rec.Seq)
		e.busy = true // until the switch
	}
	e.rec.Channel, e.rec.Seq, e.rec.PublishedAt, e.rec.Origin = ch, rel.Seq, rel.PublishedAt, true
	rec := e.rec
	if s.published == nil || pub.Seq >= s.published.Seq {
		s.published = &pub
	}
	s.releases[rel.Seq] = heard{rel: rel}
	s.sub.Offer(rel.Seq)
	crec := s.rec
	a.mu.Unlock()
	if err := a.ix.putTorrent(rec); err != nil {
		return rel, a.diskError(err)
	}
	if err := a.ix.putChannel(crec); err != nil {
		return rel, a.diskError(err)
	}
	s.apply()
	a.log.Info("published release", "channel", ch, "seq", rel.Seq, "infohash", rel.InfoHash, "size", rel.Size)
	return rel, nil
}

// importContent copies the file or folder at src into a fresh folder of
// the store, makes its torrent and renames the folder to
// DIR/content/INFOHASH (or drops the copy when that content is already
// there).
func (a *Agent) importContent(src string, pieceLength int64) (*metainfo.MetaInfo, error) {
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(a.cfg.Dir, "content", ".import-"+hex.EncodeToString(rnd[:]))
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, a.diskError(err)
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, filepath.Base(src))
	if err := copyTree(src, dst); err != nil {
		var se sourceError
		if errors.As(err, &se) {
			return nil, requestError{fmt.Errorf("read %s: %w", src, se.err)}
		}
		return nil, a.diskError(fmt.Errorf("copy %s into the store: %w", src, err))
	}
	mi, err := metainfo.Create(dst, metainfo.CreateOptions{Trackers: a.cfg.Trackers, PieceLength: pieceLength})
	if err != nil {
		return nil, err
	}
	final := a.contentDir(mi.InfoHash.String())
	if _, err := os.Stat(final); err == nil {
		return mi, nil // the same content is already in the store
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("store %s: %w", src, err)
	}
	return mi, nil
}

// copyTree copies a regular file or a folder of regular files (symlinks
// and other kinds are skipped, as metainfo.Create skips them).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return sourceError{err}
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, target)
		}
		return nil
	})
}

// sourceError is a failure to read the content being imported (the
// caller's path), not to write the store.
type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }
func (e sourceError) Unwrap() error { return e.err }

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return sourceError{err}
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil { // copy_file_range: a reflink where the filesystem can
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ensureRegistered checks that tracker tc holds release seq (info hash ih)
// of ch, or something newer, and registers it again otherwise. It reports
// whether it registered.
func ensureRegistered(ctx context.Context, tc ChannelTracker, ch, key string, info []byte, seq uint64, ih string) (bool, error) {
	rels, err := tc.Releases(ctx, ch)
	if err != nil && !errors.Is(err, channel.ErrUnknownChannel) {
		return false, err
	}
	for _, r := range rels {
		if r.Seq > seq || (r.Seq == seq && r.InfoHash == ih) {
			return false, nil
		}
	}
	if len(info) == 0 {
		return false, fmt.Errorf("release %d: no info dictionary at hand", seq)
	}
	if _, err := tc.Publish(ctx, ch, key, info, seq); err != nil {
		return false, err
	}
	return true, nil
}

// KeepRegistered re-registers release rel (info its info dictionary) with
// every tracker that lost it, every period until ctx ends: what an origin
// does so that a tracker restarted on the memory store gets its releases
// back. `shoal publish` without an agent runs it while it seeds.
func KeepRegistered(ctx context.Context, tcs []ChannelTracker, key string, info []byte, rel channel.Release, every time.Duration, log *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, tc := range tcs {
			c, cancel := context.WithTimeout(ctx, every+5*time.Second)
			did, err := ensureRegistered(c, tc, rel.Channel, key, info, rel.Seq, rel.InfoHash)
			cancel()
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("re-register release", "channel", rel.Channel, "seq", rel.Seq, "err", err)
			case did:
				log.Info("registered release again (the tracker had lost it)", "channel", rel.Channel, "seq", rel.Seq)
			}
		}
	}
}
