package tracker

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

// The pure rules of release channels, shared by every [ChannelStore]: how
// a publish is numbered and which releases are kept (channelHead.publish),
// how a host report updates a host's record (nextHostRecord), and what
// the fleet page shows (buildFleet, in fleet.go). No clock, no I/O: the
// stores pass the time in and persist the results.

// Errors a [ChannelStore] returns besides the channel package's sentinels
// (channel.ErrUnknownChannel, channel.ErrConflict, channel.ErrInvalid).
var (
	// ErrTooManyChannels means the store holds its maximum number of
	// channels and will not start another.
	ErrTooManyChannels = errors.New("too many channels")
	// ErrChannelFull means the channel already lists its maximum number of
	// hosts and will not admit another.
	ErrChannelFull = errors.New("channel has too many hosts")
	// ErrStoreFull means the store's budget for info dictionaries is spent.
	ErrStoreFull = errors.New("channel store full")
	// ErrUnknownRelease means the channel exists but does not keep the
	// release asked for.
	ErrUnknownRelease = errors.New("unknown release")
)

// ChannelID names a channel inside a tenant of a private tracker ("" on
// an open tracker): tenants never see each other's channels.
type ChannelID struct {
	Tenant, Name string
}

// key is a string form of id that has no "/" in the tenant part (used in
// Redis keys and pub/sub messages): the escaped tenant, "/", the name.
func (id ChannelID) key() string { return url.PathEscape(id.Tenant) + "/" + id.Name }

// parseChannelKey inverts key.
func parseChannelKey(s string) (ChannelID, bool) {
	t, n, ok := strings.Cut(s, "/")
	if !ok {
		return ChannelID{}, false
	}
	tenant, err := url.PathUnescape(t)
	if err != nil || channel.ValidName(n) != nil {
		return ChannelID{}, false
	}
	return ChannelID{tenant, n}, true
}

func (id ChannelID) String() string {
	if id.Tenant == "" {
		return id.Name
	}
	return id.Tenant + ":" + id.Name
}

// ChannelLimits bound a [ChannelStore]. The zero value takes the defaults.
type ChannelLimits struct {
	// MaxChannels bounds the channels with releases; default 1024.
	MaxChannels int
	// MaxPending bounds the channels known only from host reports (hosts
	// subscribed before anything was published); default 256. They
	// never take room from published channels.
	MaxPending int
	// MaxReleases is how many releases each channel keeps, the newest;
	// default 16.
	MaxReleases int
	// MaxHosts bounds the hosts listed per channel; default 10,000.
	MaxHosts int
	// HostTTL is how long a host counts as subscribed after its last
	// report; default 60s.
	HostTTL time.Duration
	// MaxInfoBytes bounds the info dictionaries a memory store holds in
	// all; default 1 GiB. (A Redis store leaves this to maxmemory.)
	MaxInfoBytes int64
}

// Defaults for [ChannelLimits].
const (
	DefaultMaxChannels              = 1024
	DefaultMaxPendingChannels       = 256
	DefaultMaxReleases              = 16
	DefaultMaxHostsPerChannel       = 10_000
	DefaultHostTTL                  = 60 * time.Second
	DefaultMaxInfoBytes       int64 = 1 << 30
)

func (l ChannelLimits) withDefaults() ChannelLimits {
	if l.MaxChannels <= 0 {
		l.MaxChannels = DefaultMaxChannels
	}
	if l.MaxPending <= 0 {
		l.MaxPending = DefaultMaxPendingChannels
	}
	if l.MaxReleases <= 0 {
		l.MaxReleases = DefaultMaxReleases
	}
	if l.MaxHosts <= 0 {
		l.MaxHosts = DefaultMaxHostsPerChannel
	}
	if l.HostTTL <= 0 {
		l.HostTTL = DefaultHostTTL
	}
	if l.MaxInfoBytes <= 0 {
		l.MaxInfoBytes = DefaultMaxInfoBytes
	}
	return l
}

// channelHead is the part of a channel that a publish decides on.
type channelHead struct {
	// Floor is the highest seq this channel has assigned, re-registered
	// or heard a host report; the next publish gets Floor+1.
	Floor uint64 `json:"floor"`
	// Releases are the releases kept, in increasing Seq order, at most
	// ChannelLimits.MaxReleases.
	Releases []releaseRecord `json:"releases"`
}

// releaseRecord is a kept release and what the fleet page needs of it.
type releaseRecord struct {
	channel.Release
	// OriginBase is the channel's origin egress counter when the release
	// was registered; the release's egress is the counter's growth from
	// there to the next release's base.
	OriginBase int64 `json:"origin_base"`
}

// find returns the index of seq in h.Releases.
func (h *channelHead) find(seq uint64) (int, bool) {
	return slices.BinarySearchFunc(h.Releases, seq, func(r releaseRecord, s uint64) int {
		switch {
		case r.Seq < s:
			return -1
		case r.Seq > s:
			return 1
		}
		return 0
	})
}

// latest returns the newest kept release.
func (h *channelHead) latest() (releaseRecord, bool) {
	if len(h.Releases) == 0 {
		return releaseRecord{}, false
	}
	return h.Releases[len(h.Releases)-1], true
}

// publicReleases returns the kept releases, oldest first.
func (h *channelHead) publicReleases() []channel.Release {
	out := make([]channel.Release, len(h.Releases))
	for i, r := range h.Releases {
		out[i] = r.Release
	}
	return out
}

// publish applies one publish of rel to h. With seq (rel.Seq) 0 the
// release is numbered Floor+1, unless rel has the info hash of the latest
// release, which is then returned as it is (a retried publish). With an
// explicit seq the same (seq, info hash) is returned as it is (an origin
// re-registering after a tracker restart), a seq taken by another info
// hash is channel.ErrConflict, and so is a seq older than every kept
// release when the channel keeps its maximum. Otherwise rel is inserted
// in order, the floor rises to it, and the oldest releases past
// maxReleases are dropped and returned in evicted. egress is the
// channel's origin egress counter now.
func (h *channelHead) publish(rel channel.Release, maxReleases int, egress int64) (out channel.Release, created bool, evicted []uint64, err error) {
	if rel.Seq == 0 {
		if l, ok := h.latest(); ok && l.InfoHash == rel.InfoHash {
			return l.Release, false, nil, nil
		}
		if h.Floor >= channel.MaxSeq {
			return channel.Release{}, false, nil, fmt.Errorf("%w: channel %s has used every sequence number", channel.ErrConflict, rel.Channel)
		}
		rel.Seq = h.Floor + 1
	}
	i, found := h.find(rel.Seq)
	if found {
		if old := h.Releases[i]; old.InfoHash != rel.InfoHash {
			return channel.Release{}, false, nil, fmt.Errorf("%w: seq %d of %s is info hash %s, not %s", channel.ErrConflict, rel.Seq, rel.Channel, old.InfoHash, rel.InfoHash)
		}
		return h.Releases[i].Release, false, nil, nil
	}
	if i == 0 && len(h.Releases) >= maxReleases {
		return channel.Release{}, false, nil, fmt.Errorf("%w: seq %d of %s is older than every release kept (oldest %d)", channel.ErrConflict, rel.Seq, rel.Channel, h.Releases[0].Seq)
	}
	h.Releases = slices.Insert(h.Releases, i, releaseRecord{Release: rel, OriginBase: egress})
	h.Floor = max(h.Floor, rel.Seq)
	for len(h.Releases) > maxReleases {
		evicted = append(evicted, h.Releases[0].Seq)
		h.Releases = slices.Delete(h.Releases, 0, 1)
	}
	return rel, true, evicted, nil
}

// HostRecord is what a store keeps of one host of a channel.
type HostRecord struct {
	Report channel.HostReport `json:"report"`
	// Seen is the time of the last report; Since that of the first one
	// since the host was last absent for a HostTTL.
	Seen  time.Time `json:"seen"`
	Since time.Time `json:"since"`
}

// live reports whether the host counts as subscribed at now.
func (h *HostRecord) live(now time.Time, ttl time.Duration) bool { return now.Sub(h.Seen) <= ttl }

// nextHostRecord returns the host's record after report r at now, given
// its previous record (nil if none or no longer live), and how many bytes
// of origin egress the report adds to the channel's counter: the growth
// of an origin's Uploaded since its previous report, all of it when the
// agent restarted (Uploaded went down), nothing on a first report (which
// only sets the baseline).
func nextHostRecord(prev *HostRecord, r channel.HostReport, now time.Time) (HostRecord, int64) {
	rec := HostRecord{Report: r, Seen: now, Since: now}
	if prev == nil {
		return rec, 0
	}
	rec.Since = prev.Since
	switch {
	case !r.Origin || !prev.Report.Origin:
		return rec, 0
	case r.Uploaded < prev.Report.Uploaded:
		return rec, r.Uploaded
	default:
		return rec, r.Uploaded - prev.Report.Uploaded
	}
}

// raise lifts the floor to seq, so numbering never goes back to a seq a
// host already holds.
func (h *channelHead) raise(seq uint64) { h.Floor = max(h.Floor, min(seq, channel.MaxSeq)) }

// maxReportJump bounds how far one host report lifts the floor: a
// restarted tracker learns a fleet's numbering from its hosts (a release
// every 15 minutes for 30 years is about a million), while a report on an
// open tracker, which needs no key, cannot use up the numbering at once.
const maxReportJump = 1 << 20

// reported returns the floor that report r asks for: the highest seq it
// names, at most maxReportJump above the floor now.
func (h *channelHead) reported(r channel.HostReport) uint64 {
	return min(r.Highest(), h.Floor+maxReportJump)
}

// completedSeqs returns the kept releases of h that r holds.
func (h *channelHead) completedSeqs(r channel.HostReport) []uint64 {
	var out []uint64
	for _, rel := range h.Releases {
		if r.Holds(rel.Seq) {
			out = append(out, rel.Seq)
		}
	}
	return out
}
