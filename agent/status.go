package agent

import (
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
)

// TorrentStatus is one torrent as the API shows it
// (GET /v1/torrents/{infohash}).
type TorrentStatus struct {
	InfoHash string `json:"info_hash"`
	Name     string `json:"name"`
	// State is metadata, checking, downloading, seeding or error.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// Progress is the verified share of the bytes, 0..1.
	Progress   float64 `json:"progress"`
	Size       int64   `json:"size"`
	Pieces     int     `json:"pieces"`
	HavePieces int     `json:"have_pieces"`
	// HadAtStart counts pieces found verified on disk when the torrent
	// started (a resume); VerifiedPieces those verified since, HashFailures
	// those that failed their hash since.
	HadAtStart int `json:"had_at_start"`
	// HashedAtStart counts the pieces the start-up check read and hashed;
	// the others of HadAtStart were trusted from the resume state (files
	// unchanged since they were recorded).
	HashedAtStart int `json:"hashed_at_start"`
	// TrustedAtStart counts the pieces the resume state vouched for.
	TrustedAtStart int   `json:"trusted_at_start"`
	VerifiedPieces int   `json:"verified_pieces"`
	HashFailures   int   `json:"hash_failures"`
	Downloaded     int64 `json:"downloaded"`
	Uploaded       int64 `json:"uploaded"`
	// DownRate and UpRate are payload bytes per second, smoothed.
	DownRate float64 `json:"down_rate"`
	UpRate   float64 `json:"up_rate"`
	Peers    int     `json:"peers"`
	// FirstPeerSeconds is how long after the torrent started its first
	// peer connection came up; absent until then.
	FirstPeerSeconds float64 `json:"first_peer_seconds,omitempty"`
	// ETASeconds is the estimated time to completion; absent when unknown.
	ETASeconds *float64 `json:"eta_seconds,omitempty"`
	// Path is the folder holding the torrent's file or folder (under its
	// name).
	Path string `json:"path"`
	// Files lists the torrent's files (GET /v1/torrents/{infohash} only);
	// their paths are what /files/{path} takes.
	Files     []FileStatus `json:"files,omitempty"`
	Pinned    bool         `json:"pinned,omitempty"`
	Local     bool         `json:"local,omitempty"`
	Readers   int          `json:"readers,omitempty"`
	Channel   string       `json:"channel,omitempty"`
	Seq       uint64       `json:"seq,omitempty"`
	Added     time.Time    `json:"added"`
	Completed *time.Time   `json:"completed,omitempty"`
	Magnet    string       `json:"magnet,omitempty"`
}

// FileStatus is one file of a torrent.
type FileStatus struct {
	Path   string `json:"path"` // slash-separated, starting with the torrent's name
	Length int64  `json:"length"`
}

// ChannelStatus is one channel as the API shows it (GET /v1/channels).
type ChannelStatus struct {
	Name       string `json:"name"`
	Subscribed bool   `json:"subscribed"`
	// Current is the current release's sequence number (0: none): the one
	// DIR/channels/NAME/current (CurrentPath) points at.
	Current     uint64 `json:"current"`
	CurrentPath string `json:"current_path,omitempty"`
	CurrentName string `json:"current_name,omitempty"`
	// Latest is the newest release this agent heard of.
	Latest   uint64   `json:"latest"`
	Fetching []uint64 `json:"fetching,omitempty"`
	// Progress is that of the newest release being fetched, 0..1.
	Progress  float64  `json:"progress,omitempty"`
	DownRate  float64  `json:"down_rate"`
	UpRate    float64  `json:"up_rate"`
	Peers     int      `json:"peers"`
	Have      []uint64 `json:"have,omitempty"`
	Pinned    []uint64 `json:"pinned,omitempty"`
	Published []uint64 `json:"published,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// torrentStatusLocked snapshots an entry; a.mu is held.
func (a *Agent) torrentStatusLocked(e *entry, withFiles bool) TorrentStatus {
	s := TorrentStatus{
		InfoHash: e.rec.InfoHash, Name: e.rec.Name, State: e.state, Error: e.err, Size: e.rec.Size,
		DownRate: e.downRate, UpRate: e.upRate, Pinned: e.rec.Pinned, Local: e.local(), Readers: e.readers,
		Channel: e.rec.Channel, Seq: e.rec.Seq, Added: e.rec.Added, Magnet: e.rec.Magnet,
		Path: a.contentDir(e.rec.InfoHash), TrustedAtStart: e.trusted,
	}
	if e.local() {
		s.Path = filepath.Dir(e.rec.Path)
	}
	if !e.rec.Completed.IsZero() {
		c := e.rec.Completed
		s.Completed = &c
	}
	if e.t != nil {
		st := e.t.Stats()
		s.Pieces, s.HavePieces, s.HadAtStart, s.HashedAtStart = st.Pieces, st.Have, st.HadAtStart, st.HashedAtStart
		s.VerifiedPieces, s.HashFailures = st.Verified, st.HashFails
		s.Downloaded, s.Uploaded, s.Peers = st.Downloaded, st.Uploaded, st.Peers
		s.FirstPeerSeconds = st.FirstPeerAfter.Seconds()
		if st.TotalLength > 0 {
			s.Progress = float64(st.TotalLength-st.BytesLeft) / float64(st.TotalLength)
		}
		if st.Complete {
			s.Progress = 1
			zero := 0.0
			s.ETASeconds = &zero
		} else if e.downRate > 0 {
			eta := float64(st.BytesLeft) / e.downRate
			s.ETASeconds = &eta
		}
	}
	if withFiles && len(e.rec.Info) > 0 {
		if info, err := metainfo.ParseInfo(e.rec.Info); err == nil {
			if files, err := info.LocalFiles(); err == nil {
				for _, f := range files {
					s.Files = append(s.Files, FileStatus{Path: filepath.ToSlash(f.Path), Length: f.Length})
				}
			}
		}
	}
	return s
}

// Torrents lists every torrent of the store, by name then info hash.
func (a *Agent) Torrents() []TorrentStatus {
	a.mu.Lock()
	out := make([]TorrentStatus, 0, len(a.entries))
	for _, e := range a.entries {
		out = append(out, a.torrentStatusLocked(e, false))
	}
	a.mu.Unlock()
	slices.SortFunc(out, func(x, y TorrentStatus) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return strings.Compare(x.InfoHash, y.InfoHash)
	})
	return out
}

// Torrent returns one torrent's status, with its files.
func (a *Agent) Torrent(ih metainfo.InfoHash) (TorrentStatus, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.entries[ih]
	if e == nil {
		return TorrentStatus{}, false
	}
	return a.torrentStatusLocked(e, true), true
}

// channelStatusLocked snapshots a subscriber; a.mu is held.
func (a *Agent) channelStatusLocked(s *subscriber) ChannelStatus {
	cs := ChannelStatus{
		Name: s.name, Subscribed: s.rec.Subscribed, Current: s.rec.Current, Latest: s.sub.Latest(),
		Fetching: s.sub.Fetching(), Have: s.sub.Held(), Pinned: slices.Clone(s.rec.Pinned), Error: s.lastErr,
	}
	for seq := range s.releases {
		cs.Latest = max(cs.Latest, seq)
	}
	if cs.Current != 0 {
		cs.CurrentPath = filepath.Join(a.cfg.Dir, "channels", s.name, "current")
	}
	if s.published != nil {
		cs.Published = []uint64{s.published.Seq}
	}
	var newest uint64
	if len(cs.Fetching) > 0 {
		newest = cs.Fetching[len(cs.Fetching)-1]
	}
	for _, e := range a.entries {
		if e.rec.Channel != s.name {
			continue
		}
		cs.DownRate += e.downRate
		cs.UpRate += e.upRate
		if e.rec.Seq == cs.Current {
			cs.CurrentName = e.rec.Name
		}
		if e.t == nil {
			continue
		}
		st := e.t.Stats()
		cs.Peers += st.Peers
		if e.rec.Seq == newest && st.TotalLength > 0 {
			cs.Progress = float64(st.TotalLength-st.BytesLeft) / float64(st.TotalLength)
		}
	}
	return cs
}

// Channels lists the channels this agent follows or publishes, by name.
func (a *Agent) Channels() []ChannelStatus {
	a.mu.Lock()
	out := make([]ChannelStatus, 0, len(a.channels))
	for _, s := range a.channels {
		out = append(out, a.channelStatusLocked(s))
	}
	a.mu.Unlock()
	slices.SortFunc(out, func(x, y ChannelStatus) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// Channel returns one channel's status.
func (a *Agent) Channel(name string) (ChannelStatus, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.channels[name]
	if s == nil {
		return ChannelStatus{}, false
	}
	return a.channelStatusLocked(s), true
}
