package tracker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

// ChannelStore keeps the release channels of a tracker: each channel's
// last releases with their info dictionaries, its numbering floor, and
// the hosts reporting on it. Times are passed in, so a store has no clock
// of its own. Implementations must be safe for concurrent use:
// [MemoryChannelStore] in process, [RedisChannelStore] shared by several
// trackers.
type ChannelStore interface {
	// Publish registers rel with its bencoded info dictionary, as the next
	// release when rel.Seq is 0; see channelHead.publish for the rules.
	// It returns the release as registered and whether it is new (false:
	// the same release was already there). It fails with
	// channel.ErrConflict, ErrTooManyChannels or ErrStoreFull.
	Publish(ctx context.Context, id ChannelID, rel channel.Release, info []byte) (channel.Release, bool, error)
	// Releases returns the kept releases of id, oldest first. A channel
	// with no release is channel.ErrUnknownChannel (its message says how
	// many hosts wait for a first release, if any).
	Releases(ctx context.Context, id ChannelID, now time.Time) ([]channel.Release, error)
	// Info returns the info dictionary of release seq of id
	// (channel.ErrUnknownChannel, ErrUnknownRelease).
	Info(ctx context.Context, id ChannelID, seq uint64) ([]byte, error)
	// Report records r for id at now, creating the channel (as pending,
	// with no release) if unknown. It raises the channel's numbering
	// floor to the highest seq r names. It fails with ErrChannelFull or
	// ErrTooManyChannels.
	Report(ctx context.Context, id ChannelID, r channel.HostReport, now time.Time) error
	// View returns every channel of tenant with its releases, live hosts
	// and completions, sorted by name: what the fleet page is built from.
	View(ctx context.Context, tenant string, now time.Time) ([]ChannelView, error)
	// Watch returns a channel closed when id may have a new release (a
	// publish here or, for a shared store, on another tracker), and a
	// function to call once done waiting.
	Watch(id ChannelID) (<-chan struct{}, func())
}

// ChannelView is one channel as [ChannelStore.View] returns it.
type ChannelView struct {
	ID    ChannelID
	Floor uint64
	// Releases are the kept releases, oldest first.
	Releases []ReleaseView
	// Hosts are the live hosts, sorted by name.
	Hosts []HostRecord
	// Egress is the channel's origin egress counter: bytes the origins
	// reported uploading since the store started counting.
	Egress int64
}

// ReleaseView is one kept release with what the fleet page needs.
type ReleaseView struct {
	channel.Release
	// OriginBase is Egress when the release was registered.
	OriginBase int64
	// Completed maps each host seen holding the release to when it was
	// first seen so (at most ChannelLimits.MaxHosts hosts).
	Completed map[string]time.Time
}

// MemoryChannelStore is a [ChannelStore] in process memory: what a
// tracker restart forgets, the origins register again and the hosts'
// reports restore the numbering floor. Hosts no longer live are dropped
// in a sweep at most once per HostTTL, and so are pending channels left
// without live hosts.
type MemoryChannelStore struct {
	lim    ChannelLimits
	notify notifier

	mu        sync.Mutex
	chans     map[ChannelID]*memChannel
	published int   // channels with at least one release
	infoBytes int64 // sum of the info dictionaries held
	lastSweep time.Time
}

type memChannel struct {
	head   channelHead
	info   map[uint64][]byte
	done   map[uint64]map[string]time.Time
	hosts  map[string]*HostRecord
	egress int64
}

// NewMemoryChannelStore returns an empty store with the given limits.
func NewMemoryChannelStore(lim ChannelLimits) *MemoryChannelStore {
	return &MemoryChannelStore{lim: lim.withDefaults(), chans: make(map[ChannelID]*memChannel)}
}

func newMemChannel() *memChannel {
	return &memChannel{info: map[uint64][]byte{}, done: map[uint64]map[string]time.Time{}, hosts: map[string]*HostRecord{}}
}

// Publish implements [ChannelStore].
func (m *MemoryChannelStore) Publish(_ context.Context, id ChannelID, rel channel.Release, info []byte) (channel.Release, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.chans[id]
	if (c == nil || len(c.head.Releases) == 0) && m.published >= m.lim.MaxChannels {
		return channel.Release{}, false, fmt.Errorf("%w: %d channels with releases", ErrTooManyChannels, m.published)
	}
	isNew := c == nil
	if isNew {
		c = newMemChannel()
	}
	head := channelHead{Floor: c.head.Floor, Releases: slices.Clone(c.head.Releases)}
	out, created, evicted, err := head.publish(rel, m.lim.MaxReleases, c.egress)
	if err != nil || !created {
		return out, false, err
	}
	bytes := m.infoBytes + int64(len(info))
	for _, s := range evicted {
		bytes -= int64(len(c.info[s]))
	}
	if bytes > m.lim.MaxInfoBytes {
		return channel.Release{}, false, fmt.Errorf("%w: %d bytes of info dictionaries held, limit %d", ErrStoreFull, m.infoBytes, m.lim.MaxInfoBytes)
	}
	if isNew {
		m.chans[id] = c
	}
	if len(c.head.Releases) == 0 {
		m.published++
	}
	c.head = head
	c.info[out.Seq] = slices.Clone(info)
	m.infoBytes = bytes
	for _, s := range evicted {
		delete(c.info, s)
		delete(c.done, s)
	}
	m.notify.notify(id)
	return out, true, nil
}

// Releases implements [ChannelStore].
func (m *MemoryChannelStore) Releases(_ context.Context, id ChannelID, now time.Time) ([]channel.Release, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	c := m.chans[id]
	if c == nil || len(c.head.Releases) == 0 {
		live := 0
		if c != nil {
			live = m.liveCount(c, now)
		}
		return nil, unknownChannel(id, live)
	}
	return c.head.publicReleases(), nil
}

// errAwaitingFirst marks an unknown channel that live hosts subscribed to:
// it still reads as channel.ErrUnknownChannel (404), but a long poll for
// its next release waits for the first one instead of failing, so the
// first release of a new channel reaches its subscribers as fast as the
// later ones.
var errAwaitingFirst = errors.New("nothing published yet")

// unknownChannel is the error for a channel with no release, on which
// live hosts wait.
func unknownChannel(id ChannelID, live int) error {
	if live == 0 {
		return fmt.Errorf("%w: %s", channel.ErrUnknownChannel, id.Name)
	}
	return fmt.Errorf("%w: %s (%w; %d hosts subscribed)", channel.ErrUnknownChannel, id.Name, errAwaitingFirst, live)
}

// Info implements [ChannelStore].
func (m *MemoryChannelStore) Info(_ context.Context, id ChannelID, seq uint64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.chans[id]
	if c == nil || len(c.head.Releases) == 0 {
		return nil, unknownChannel(id, 0)
	}
	b, ok := c.info[seq]
	if !ok {
		return nil, fmt.Errorf("%w: %s keeps no release %d", ErrUnknownRelease, id.Name, seq)
	}
	return b, nil
}

// Report implements [ChannelStore].
func (m *MemoryChannelStore) Report(_ context.Context, id ChannelID, r channel.HostReport, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	c := m.chans[id]
	if c == nil {
		if pending := len(m.chans) - m.published; pending >= m.lim.MaxPending {
			return fmt.Errorf("%w: %d channels with no release yet", ErrTooManyChannels, pending)
		}
		c = newMemChannel()
		m.chans[id] = c
	}
	prev := c.hosts[r.Host]
	if prev != nil && !prev.live(now, m.lim.HostTTL) {
		prev = nil
	}
	if prev == nil && len(c.hosts) >= m.lim.MaxHosts {
		m.expireHosts(c, now)
		if len(c.hosts) >= m.lim.MaxHosts {
			return fmt.Errorf("%w: %s lists %d hosts", ErrChannelFull, id.Name, len(c.hosts))
		}
	}
	rec, delta := nextHostRecord(prev, r, now)
	c.hosts[r.Host] = &rec
	c.egress += delta
	c.head.raise(c.head.reported(r))
	for _, s := range c.head.completedSeqs(r) {
		d := c.done[s]
		if d == nil {
			d = make(map[string]time.Time)
			c.done[s] = d
		}
		if _, ok := d[r.Host]; !ok && len(d) < m.lim.MaxHosts {
			d[r.Host] = now
		}
	}
	return nil
}

// View implements [ChannelStore].
func (m *MemoryChannelStore) View(_ context.Context, tenant string, now time.Time) ([]ChannelView, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	var out []ChannelView
	for id, c := range m.chans {
		if id.Tenant != tenant {
			continue
		}
		v := ChannelView{ID: id, Floor: c.head.Floor, Egress: c.egress, Hosts: make([]HostRecord, 0, len(c.hosts))}
		for _, h := range c.hosts {
			if h.live(now, m.lim.HostTTL) {
				v.Hosts = append(v.Hosts, *h)
			}
		}
		if len(c.head.Releases) == 0 && len(v.Hosts) == 0 {
			continue
		}
		slices.SortFunc(v.Hosts, func(a, b HostRecord) int { return strings.Compare(a.Report.Host, b.Report.Host) })
		v.Releases = make([]ReleaseView, 0, len(c.head.Releases))
		for _, r := range c.head.Releases {
			v.Releases = append(v.Releases, ReleaseView{Release: r.Release, OriginBase: r.OriginBase, Completed: maps.Clone(c.done[r.Seq])})
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b ChannelView) int { return strings.Compare(a.ID.Name, b.ID.Name) })
	return out, nil
}

// Watch implements [ChannelStore].
func (m *MemoryChannelStore) Watch(id ChannelID) (<-chan struct{}, func()) { return m.notify.watch(id) }

// Len reports the channels held (with releases or pending) and the bytes
// of info dictionaries.
func (m *MemoryChannelStore) Len() (channels int, infoBytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.chans), m.infoBytes
}

func (m *MemoryChannelStore) liveCount(c *memChannel, now time.Time) int {
	n := 0
	for _, h := range c.hosts {
		if h.live(now, m.lim.HostTTL) {
			n++
		}
	}
	return n
}

// maybeSweep drops hosts no longer live, and pending channels left with
// none, once per HostTTL.
func (m *MemoryChannelStore) maybeSweep(now time.Time) {
	if now.Sub(m.lastSweep) < m.lim.HostTTL {
		return
	}
	m.lastSweep = now
	for id, c := range m.chans {
		m.expireHosts(c, now)
		if len(c.head.Releases) == 0 && len(c.hosts) == 0 {
			delete(m.chans, id)
		}
	}
}

func (m *MemoryChannelStore) expireHosts(c *memChannel, now time.Time) {
	for name, h := range c.hosts {
		if !h.live(now, m.lim.HostTTL) {
			delete(c.hosts, name)
		}
	}
}
