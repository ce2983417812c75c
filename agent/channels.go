package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/metainfo"
)

// ChannelTracker is the tracker's channel API as the agent uses it;
// *channel.Client implements it.
type ChannelTracker interface {
	Publish(ctx context.Context, ch, publishKey string, info []byte, seq uint64) (channel.Release, error)
	Releases(ctx context.Context, ch string) ([]channel.Release, error)
	Next(ctx context.Context, ch string, after uint64) (channel.Release, bool, error)
	Info(ctx context.Context, ch string, seq uint64, want metainfo.InfoHash) ([]byte, error)
	Report(ctx context.Context, ch string, r channel.HostReport) error
}

// ErrNoTracker: channels need at least one --tracker.
var ErrNoTracker = errors.New("no tracker configured (give --tracker URL)")

// MaxChannels bounds the channels one agent follows: each holds a long
// poll open on every tracker and reports every few seconds.
const MaxChannels = 256

// ErrTooManyChannels: a subscribe past MaxChannels.
var ErrTooManyChannels = fmt.Errorf("subscribed to %d channels, the limit", MaxChannels)

// subscriber follows one channel. Its fields, and its Subscription, are
// guarded by Agent.mu; its goroutines (one poller per tracker, a reporter,
// a hook runner, one per fetch) take the lock to step the Subscription and
// carry out the actions outside it.
type subscriber struct {
	a    *Agent
	name string
	rec  channelRecord
	sub  *Subscription
	// releases are the releases heard of, by seq, with the tracker that
	// told of each.
	releases map[uint64]heard
	fetches  map[uint64]context.CancelFunc
	// published is our own newest release of this channel, if we are its
	// origin; it is registered again with a tracker that lost it.
	published *publishedRecord
	lastErr   string
	// hookRunning is the release whose hook runs now, 0 if none.
	hookRunning uint64
	// uploadedGone is what removed releases of this channel had sent.
	uploadedGone int64
	// previous is the release current before the last switch, kept from
	// --keep until SwitchGrace after switchedAt (monotonic clock).
	previous   uint64
	switchedAt time.Time

	ctx     context.Context
	cancel  context.CancelFunc
	polling bool
	hooks   chan uint64
	report  chan struct{}
}

type heard struct {
	rel channel.Release
	tc  ChannelTracker
}

// channelTrackers builds one channel client per tracker URL.
func (a *Agent) channelTrackers() ([]ChannelTracker, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.trackers != nil {
		return a.trackers, nil
	}
	out := []ChannelTracker{}
	for _, u := range a.cfg.Trackers {
		c, err := channel.NewClient(u, a.cfg.HTTPClient)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	a.trackers = out
	return out, nil
}

// subscriberLocked returns the subscriber of name, creating it (not yet
// polling) if needed; a.mu is held.
func (a *Agent) subscriberLocked(name string) *subscriber {
	if s := a.channels[name]; s != nil {
		return s
	}
	ctx, cancel := context.WithCancel(a.ctx)
	s := &subscriber{
		a: a, name: name, rec: channelRecord{Name: name}, sub: NewSubscription(a.cfg.Keep),
		releases: make(map[uint64]heard), fetches: make(map[uint64]context.CancelFunc),
		ctx: ctx, cancel: cancel, hooks: make(chan uint64, 64), report: make(chan struct{}, 1),
	}
	a.channels[name] = s
	a.wg.Add(2)
	go s.hookLoop()
	go s.reportLoop()
	return s
}

// restoreChannels rebuilds each channel's Subscription from the index and
// the current symlinks, and starts polling the subscribed ones.
func (a *Agent) restoreChannels() error {
	recs, err := a.ix.channels()
	if err != nil {
		return err
	}
	pubs, err := a.ix.published()
	if err != nil {
		return err
	}
	a.mu.Lock()
	for _, rec := range recs {
		s := a.subscriberLocked(rec.Name)
		s.rec = rec
	}
	for _, p := range pubs {
		s := a.subscriberLocked(p.Channel)
		if s.published == nil || p.Seq > s.published.Seq {
			p := p
			s.published = &p
		}
	}
	var stale []metainfo.InfoHash
	for _, s := range a.channels {
		cur := s.rec.Current
		// The symlink is swapped before the index is written: a crash in
		// between leaves the link ahead, and the link is the truth.
		if ih, err := s.linkTarget(); err == nil {
			if e := a.entries[ih]; e != nil && e.rec.Channel == s.name && e.rec.Seq > cur {
				cur = e.rec.Seq
				s.rec.Current = cur
			}
		}
		var held []uint64
		for ih, e := range a.entries {
			if e.rec.Channel != s.name {
				continue
			}
			switch {
			case !e.rec.Completed.IsZero():
				held = append(held, e.rec.Seq)
			case e.rec.Seq > cur || slices.Contains(s.rec.Pinned, e.rec.Seq):
				// An interrupted fetch: offered again below.
				s.releases[e.rec.Seq] = heard{rel: channel.Release{Channel: s.name, Seq: e.rec.Seq,
					InfoHash: e.rec.InfoHash, Name: e.rec.Name, Size: e.rec.Size, PublishedAt: e.rec.PublishedAt}}
			default:
				stale = append(stale, ih) // an older fetch that lost to a newer one
			}
		}
		s.sub.Restore(cur, held)
		for _, p := range s.rec.Pinned {
			s.sub.Pin(p, true)
		}
	}
	subs := make([]*subscriber, 0, len(a.channels))
	for _, s := range a.channels {
		subs = append(subs, s)
	}
	a.mu.Unlock()
	for _, ih := range stale {
		a.remove(ih, "superseded", true)
	}
	for _, name := range a.cfg.Subscribe {
		if err := channel.ValidName(name); err != nil {
			return fmt.Errorf("agent: --subscribe: %w", err)
		}
	}
	for _, s := range subs {
		a.mu.Lock()
		for seq := range s.releases {
			s.sub.Offer(seq)
		}
		if s.rec.HookRan < s.sub.Current() {
			s.hooks <- s.sub.Current() // switched, but the hook did not finish
		}
		a.mu.Unlock()
		s.apply()
		if s.rec.Subscribed {
			if err := s.startPolling(); err != nil {
				return err
			}
		}
	}
	for _, name := range a.cfg.Subscribe {
		if _, err := a.Subscribe(name, nil); err != nil {
			return err
		}
	}
	return nil
}

// Subscribe makes the agent follow channel name (PUT /v1/channels/{name});
// pins are releases to finish and keep whatever comes after them.
func (a *Agent) Subscribe(name string, pins []uint64) (ChannelStatus, error) {
	if err := channel.ValidName(name); err != nil {
		return ChannelStatus{}, err
	}
	if tcs, err := a.channelTrackers(); err != nil {
		return ChannelStatus{}, err
	} else if len(tcs) == 0 {
		return ChannelStatus{}, ErrNoTracker
	}
	a.mu.Lock()
	if s := a.channels[name]; s == nil || !s.rec.Subscribed {
		n := 0
		for _, s := range a.channels {
			if s.rec.Subscribed {
				n++
			}
		}
		if n >= MaxChannels {
			a.mu.Unlock()
			return ChannelStatus{}, fmt.Errorf("channel %q: %w; unsubscribe one first", name, ErrTooManyChannels)
		}
	}
	s := a.subscriberLocked(name)
	s.rec.Subscribed = true
	for _, p := range pins {
		if !slices.Contains(s.rec.Pinned, p) {
			s.rec.Pinned = append(s.rec.Pinned, p)
		}
		s.sub.Pin(p, true)
	}
	rec := s.rec
	a.mu.Unlock()
	if err := a.ix.putChannel(rec); err != nil {
		return ChannelStatus{}, a.diskError(err)
	}
	for _, p := range pins {
		s.offer(p) // a pinned release the tracker still has is fetched
	}
	if err := s.startPolling(); err != nil {
		return ChannelStatus{}, err
	}
	st, _ := a.Channel(name)
	return st, nil
}

// Unsubscribe stops following channel name (DELETE /v1/channels/{name}):
// fetches stop, DIR/channels/NAME goes, and its releases stay in the store
// as ordinary content for the disk collector. A channel we published stays
// known (its releases are still registered with the trackers).
func (a *Agent) Unsubscribe(name string) error {
	a.mu.Lock()
	s := a.channels[name]
	if s == nil || !s.rec.Subscribed {
		a.mu.Unlock()
		return fmt.Errorf("channel %q: not subscribed: %w", name, ErrNotFound)
	}
	fetching := s.sub.Fetching()
	for _, c := range s.fetches {
		c()
	}
	s.fetches = map[uint64]context.CancelFunc{}
	origin := s.published != nil
	if !origin {
		delete(a.channels, name)
		s.cancel()
	} else {
		s.rec.Subscribed = false
		s.polling = false // pollers see Subscribed=false and stop
	}
	rec := s.rec
	a.mu.Unlock()
	for _, seq := range fetching {
		if ih, ok := a.releaseHash(name, seq); ok {
			a.remove(ih, "unsubscribed", true)
		}
	}
	if origin {
		return a.ix.putChannel(rec)
	}
	os.RemoveAll(filepath.Join(a.cfg.Dir, "channels", name))
	return a.ix.deleteChannel(name)
}

// releaseHash finds the stored torrent of release seq of channel.
func (a *Agent) releaseHash(ch string, seq uint64) (metainfo.InfoHash, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ih, e := range a.entries {
		if e.rec.Channel == ch && e.rec.Seq == seq {
			return ih, true
		}
	}
	return metainfo.InfoHash{}, false
}

// isCurrentLocked reports whether info hash id is the current release of
// ch; a.mu is held.
func (a *Agent) isCurrentLocked(ch, id string) bool {
	s := a.channels[ch]
	return s != nil && s.currentInfoHash() == id
}

// currentInfoHash is the info hash of the current release; a.mu is held.
func (s *subscriber) currentInfoHash() string {
	cur := s.sub.Current()
	if cur == 0 {
		return ""
	}
	for _, e := range s.a.entries {
		if e.rec.Channel == s.name && e.rec.Seq == cur {
			return e.rec.InfoHash
		}
	}
	return ""
}

// releaseRemoved tells the channel that a release left the store.
func (a *Agent) releaseRemoved(ch string, seq uint64) {
	a.mu.Lock()
	if s := a.channels[ch]; s != nil {
		s.sub.Removed(seq)
	}
	a.mu.Unlock()
}

// trimChannels applies each channel's keep bound.
func (a *Agent) trimChannels() {
	a.mu.Lock()
	subs := make([]*subscriber, 0, len(a.channels))
	for _, s := range a.channels {
		subs = append(subs, s)
	}
	a.mu.Unlock()
	for _, s := range subs {
		a.mu.Lock()
		s.sub.Trim(s.busyLocked)
		a.mu.Unlock()
		s.apply()
	}
}

// busyLocked reports whether release seq is being read or its hook runs;
// a.mu is held.
func (s *subscriber) busyLocked(seq uint64) bool {
	if seq == s.hookRunning {
		return true
	}
	if seq == s.previous && time.Since(s.switchedAt) < s.a.cfg.SwitchGrace {
		return true // readers of the old `current` finish first
	}
	for _, e := range s.a.entries {
		if e.rec.Channel == s.name && e.rec.Seq == seq {
			return e.readers > 0
		}
	}
	return false
}

// startPolling starts one long-poll loop per tracker, once.
func (s *subscriber) startPolling() error {
	tcs, err := s.a.channelTrackers()
	if err != nil {
		return err
	}
	if len(tcs) == 0 {
		return ErrNoTracker
	}
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	if s.polling {
		return nil
	}
	s.polling = true
	for _, tc := range tcs {
		s.a.wg.Add(1)
		go s.pollLoop(tc)
	}
	return nil
}

// subscribed reports whether the channel is still followed.
func (s *subscriber) subscribed() bool {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	return s.rec.Subscribed && s.ctx.Err() == nil
}

// pollLoop learns of new releases from one tracker: the newest it keeps,
// then a long poll for each next one. Errors back off from 1 s to 10 s; a
// tracker that lost the channel (a restart) is asked again until the
// origin registered it anew.
func (s *subscriber) pollLoop(tc ChannelTracker) {
	defer s.a.wg.Done()
	// Report first: a channel nobody published yet is known to the tracker
	// once a host reports on it, and the long poll then waits for its
	// first release instead of answering 404.
	if r, _, ok := s.hostReport(); ok {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		tc.Report(ctx, s.name, r)
		cancel()
	}
	backoff := time.Second
	synced := false
	for s.subscribed() {
		if !synced {
			rels, err := tc.Releases(s.ctx, s.name)
			switch {
			case err == nil:
				synced = true
				s.setErr("")
				if len(rels) > 0 {
					s.heardOf(rels[len(rels)-1], tc)
				}
			case errors.Is(err, channel.ErrUnknownChannel):
				synced = true // nothing published yet: the long poll waits for the first
			default:
				if !s.pollFailed(err, &backoff) {
					return
				}
				continue
			}
		}
		s.a.mu.Lock()
		after := s.sub.Latest()
		s.a.mu.Unlock()
		rel, ok, err := tc.Next(s.ctx, s.name, after)
		if err != nil {
			synced = false
			if !s.pollFailed(err, &backoff) {
				return
			}
			continue
		}
		if ok && (rel.Channel != s.name || rel.Seq <= after) {
			// A tracker that lies or lost track (a seq going backwards):
			// answering at once with nothing new must not make us spin.
			err := fmt.Errorf("tracker answered the long poll for releases of %q after %d with release %d of %q: not newer, ignored",
				s.name, after, rel.Seq, rel.Channel)
			if !s.pollFailed(err, &backoff) {
				return
			}
			continue
		}
		backoff = time.Second
		s.setErr("")
		if ok {
			s.heardOf(rel, tc)
		}
	}
}

// pollFailed records a polling error and waits the backoff; false when the
// subscriber stopped meanwhile.
func (s *subscriber) pollFailed(err error, backoff *time.Duration) bool {
	if s.ctx.Err() != nil {
		return false
	}
	wait := *backoff
	if errors.Is(err, channel.ErrUnknownChannel) {
		// Nothing published yet, or a restarted tracker waiting for the
		// origin: ask again soon, it is one cheap request.
		wait = time.Second
		s.setErr("the tracker knows no release of this channel yet")
		s.a.log.Debug("channel poll", "channel", s.name, "err", err)
	} else {
		s.setErr(err.Error())
		s.a.log.Warn("channel poll", "channel", s.name, "err", err)
		*backoff = min(*backoff*2, 10*time.Second)
	}
	select {
	case <-s.ctx.Done():
		return false
	case <-time.After(wait):
	}
	return true
}

func (s *subscriber) setErr(msg string) {
	s.a.mu.Lock()
	s.lastErr = msg
	s.a.mu.Unlock()
}

// heardOf records a release and offers it to the Subscription.
func (s *subscriber) heardOf(rel channel.Release, tc ChannelTracker) {
	if rel.Channel != s.name || rel.Seq == 0 {
		return
	}
	s.a.mu.Lock()
	known := ""
	if h, ok := s.releases[rel.Seq]; ok {
		known = h.rel.InfoHash
	} else {
		for _, e := range s.a.entries {
			if e.rec.Channel == s.name && e.rec.Seq == rel.Seq {
				known = e.rec.InfoHash
			}
		}
	}
	if known != "" && known != rel.InfoHash {
		// A release never changes. A tracker that lost its state, or two
		// trackers that disagree, must not make us drop one fetch for
		// another back and forth: the first heard of stays.
		s.lastErr = fmt.Sprintf("a tracker gives release %d of %q as %s, but it was %s when first heard of: kept the first (trackers disagree or one lost its state)",
			rel.Seq, s.name, rel.InfoHash, known)
		s.a.mu.Unlock()
		s.a.log.Warn("release changed its info hash on the tracker; ignored", "channel", s.name, "seq", rel.Seq, "was", known, "now", rel.InfoHash)
		return
	}
	if _, ok := s.releases[rel.Seq]; !ok || s.releases[rel.Seq].tc == nil {
		s.releases[rel.Seq] = heard{rel: rel, tc: tc}
	}
	s.sub.Offer(rel.Seq)
	s.pruneHeardLocked()
	s.a.mu.Unlock()
	s.apply()
}

// pruneHeardLocked forgets releases heard of that can matter no more (at
// or below current, neither fetched nor pinned), so the table stays
// bounded however many releases a tracker announces; a.mu is held.
func (s *subscriber) pruneHeardLocked() {
	cur := s.sub.Current()
	fetching := s.sub.Fetching()
	for seq := range s.releases {
		if seq < cur && !s.sub.Pinned(seq) && !slices.Contains(fetching, seq) {
			delete(s.releases, seq)
		}
	}
}

// offer offers a release already heard of (a pin).
func (s *subscriber) offer(seq uint64) {
	s.a.mu.Lock()
	if _, ok := s.releases[seq]; ok {
		s.sub.Offer(seq)
	}
	s.a.mu.Unlock()
	s.apply()
}

// apply carries out the Subscription's pending actions.
func (s *subscriber) apply() {
	for {
		s.a.mu.Lock()
		acts := s.sub.Actions()
		s.a.mu.Unlock()
		if len(acts) == 0 {
			return
		}
		for _, act := range acts {
			s.do(act)
		}
		s.kickReport()
	}
}

func (s *subscriber) do(act SubAction) {
	a := s.a
	switch act.Kind {
	case Fetch:
		ctx, cancel := context.WithCancel(s.ctx)
		a.mu.Lock()
		s.fetches[act.Seq] = cancel
		h := s.releases[act.Seq]
		a.mu.Unlock()
		a.wg.Add(1)
		go s.fetch(ctx, h)
	case StopFetch:
		a.mu.Lock()
		if c := s.fetches[act.Seq]; c != nil {
			c()
			delete(s.fetches, act.Seq)
		}
		a.mu.Unlock()
		if ih, ok := a.releaseHash(s.name, act.Seq); ok {
			a.log.Info("newer release won: stopping fetch", "channel", s.name, "seq", act.Seq)
			a.remove(ih, "superseded", true)
		}
	case Switch:
		if err := s.switchTo(act.Seq); err != nil {
			a.log.Error("switch release", "channel", s.name, "seq", act.Seq, "err", err)
			s.setErr(err.Error())
			return
		}
		a.dropSuperseded(s.name, act.Seq)
		select {
		case s.hooks <- act.Seq:
		default:
			a.log.Error("on-complete hook queue full; hook skipped", "channel", s.name, "seq", act.Seq)
		}
		a.mu.Lock()
		s.sub.Switched(act.Seq)  // the link moved: the old current may go now
		s.sub.Trim(s.busyLocked) // apply's loop carries out the removals
		a.mu.Unlock()
		a.kickGC()
	case Remove:
		if ih, ok := a.releaseHash(s.name, act.Seq); ok {
			a.remove(ih, "keep", true)
		}
	}
}

// fetch gets release h.rel: its info dictionary from a tracker (unless
// the store has it), then its pieces; it reports back as Completed or
// Failed. Errors are retried with a backoff until ctx ends.
func (s *subscriber) fetch(ctx context.Context, h heard) {
	a := s.a
	defer a.wg.Done()
	rel := h.rel
	backoff := time.Second
	retry := func(err error) bool {
		s.setErr(err.Error())
		a.log.Warn("fetch release", "channel", s.name, "seq", rel.Seq, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 15*time.Second)
		return true
	}
	var e *entry
	for e == nil {
		if ctx.Err() != nil {
			s.fetchEnded(rel.Seq, false)
			return
		}
		if ih, ok := a.releaseHash(s.name, rel.Seq); ok {
			if found, ok := a.lookup(ih); ok {
				a.mu.Lock()
				found.busy = true
				a.mu.Unlock()
				e = found
				break
			}
		}
		if found, err := s.adoptHeld(rel); err != nil {
			if !retry(err) {
				s.fetchEnded(rel.Seq, false)
				return
			}
			continue
		} else if found != nil {
			e = found
			break
		}
		mi, err := s.metaInfo(ctx, h)
		if err != nil {
			if !retry(err) {
				s.fetchEnded(rel.Seq, false)
				return
			}
			continue
		}
		e, _, err = a.addMeta(mi, addOptions{channel: s.name, seq: rel.Seq, publishedAt: rel.PublishedAt, busy: true})
		if err != nil {
			if !retry(fmt.Errorf("release %d: %w", rel.Seq, err)) {
				s.fetchEnded(rel.Seq, false)
				return
			}
		}
	}
	select {
	case <-e.complete:
		a.mu.Lock()
		e.busy = false
		a.mu.Unlock()
		if !rel.PublishedAt.IsZero() {
			// The tracker's clock against ours: a skew or a jump must not
			// record a negative latency.
			a.metrics.releaseLatency.WithLabelValues(s.name).Observe(max(a.cfg.Now().Sub(rel.PublishedAt).Seconds(), 0))
		}
		s.fetchEnded(rel.Seq, true)
	case <-ctx.Done():
		s.fetchEnded(rel.Seq, false)
	case <-e.exited:
		s.setErr(fmt.Sprintf("release %d: %s", rel.Seq, e.err))
		s.fetchEnded(rel.Seq, false)
	}
}

// adoptHeld handles a release whose content the store already holds as
// an earlier release of this channel (an operator rolling back publishes
// an old build again, as a new seq): that torrent becomes the new release,
// with nothing to fetch. Content held for another channel is an error (the
// store keeps one copy of each content, as one release).
func (s *subscriber) adoptHeld(rel channel.Release) (*entry, error) {
	a := s.a
	ih, err := metainfo.ParseInfoHash(rel.InfoHash)
	if err != nil {
		return nil, fmt.Errorf("release %d: %w", rel.Seq, err)
	}
	a.mu.Lock()
	e := a.entries[ih]
	if e == nil || e.rec.Channel == "" {
		a.mu.Unlock()
		return nil, nil // not held, or held by hand: addMeta adopts it
	}
	if e.rec.Channel != s.name {
		ch, seq := e.rec.Channel, e.rec.Seq
		a.mu.Unlock()
		return nil, fmt.Errorf("release %d is the same content (%s) as release %d of channel %q, which this store holds; unsubscribe one of the channels or publish distinct content", rel.Seq, ih, seq, ch)
	}
	if e.rec.Seq >= rel.Seq {
		a.mu.Unlock()
		return nil, nil
	}
	old := e.rec.Seq
	e.rec.Seq, e.rec.PublishedAt = rel.Seq, rel.PublishedAt
	e.busy = true // until the switch: not collected while no seq names it current
	s.sub.Removed(old)
	rec := e.rec
	a.mu.Unlock()
	a.log.Info("release is content already held: adopted", "channel", s.name, "seq", rel.Seq, "was", old, "infohash", ih)
	if err := a.ix.putTorrent(rec); err != nil {
		a.log.Error("index", "err", err)
	}
	return e, nil
}

// metaInfo gets a release's info dictionary from the tracker that told of
// it (or the first that has it) and builds its metainfo.
func (s *subscriber) metaInfo(ctx context.Context, h heard) (*metainfo.MetaInfo, error) {
	want, err := metainfo.ParseInfoHash(h.rel.InfoHash)
	if err != nil {
		return nil, fmt.Errorf("release %d: %w", h.rel.Seq, err)
	}
	tcs := []ChannelTracker{h.tc}
	if h.tc == nil {
		if tcs, err = s.a.channelTrackers(); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, tc := range tcs {
		raw, err := tc.Info(ctx, s.name, h.rel.Seq, want)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// The tracker's client checks these too; the agent trusts no
		// ChannelTracker with them.
		if len(raw) > channel.MaxInfoSize {
			errs = append(errs, fmt.Errorf("release %d: info dictionary of %d bytes, limit %d: %w", h.rel.Seq, len(raw), channel.MaxInfoSize, channel.ErrTooLarge))
			continue
		}
		if got := metainfo.InfoHash(sha1Sum(raw)); got != want {
			errs = append(errs, fmt.Errorf("release %d: the tracker's info dictionary hashes to %s and does not match the release's info hash %s", h.rel.Seq, got, want))
			continue
		}
		info, err := metainfo.ParseInfo(raw)
		if err != nil {
			return nil, fmt.Errorf("release %d: %w", h.rel.Seq, err)
		}
		return &metainfo.MetaInfo{Info: *info, InfoBytes: raw, InfoHash: want}, nil
	}
	return nil, errors.Join(errs...)
}

// fetchEnded steps the Subscription with the outcome of a fetch.
func (s *subscriber) fetchEnded(seq uint64, ok bool) {
	s.a.mu.Lock()
	delete(s.fetches, seq)
	if ok {
		s.sub.Completed(seq)
	} else {
		s.sub.Failed(seq)
	}
	s.a.mu.Unlock()
	s.apply()
}

// switchTo points DIR/channels/NAME/current at release seq's folder with a
// symlink swap (a new link renamed over the old one), so a reader sees the
// old release or the new one, never a mix; then the index learns it.
func (s *subscriber) switchTo(seq uint64) error {
	a := s.a
	ih, ok := a.releaseHash(s.name, seq)
	if !ok {
		return fmt.Errorf("release %d is not in the store", seq)
	}
	dir := filepath.Join(a.cfg.Dir, "channels", s.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The release current until now is protected for SwitchGrace before the
	// link moves, not after: a collection between the rename and the
	// bookkeeping below would otherwise see it as neither current nor
	// previous and remove it under its readers.
	a.mu.Lock()
	if s.rec.Current != seq {
		s.previous, s.switchedAt = s.rec.Current, time.Now()
	}
	a.mu.Unlock()
	tmp := filepath.Join(dir, fmt.Sprintf(".current-%d", seq))
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join("..", "..", "content", ih.String()), tmp); err != nil {
		return fmt.Errorf("switch to release %d: %w", seq, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "current")); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("switch to release %d: %w", seq, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	a.mu.Lock()
	if s.rec.Current != seq {
		s.switchedAt = time.Now() // the grace counts from the switch itself
	}
	s.rec.Current = seq
	rec := s.rec
	a.mu.Unlock()
	a.log.Info("switched release", "channel", s.name, "seq", seq, "infohash", ih)
	return a.ix.putChannel(rec)
}

// linkTarget reads which content folder the current symlink points at.
func (s *subscriber) linkTarget() (metainfo.InfoHash, error) {
	t, err := os.Readlink(filepath.Join(s.a.cfg.Dir, "channels", s.name, "current"))
	if err != nil {
		return metainfo.InfoHash{}, err
	}
	return metainfo.ParseInfoHash(filepath.Base(t))
}

// kickReport asks the reporter for a report now.
func (s *subscriber) kickReport() {
	select {
	case s.report <- struct{}{}:
	default:
	}
}
