package channel

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shoal-p2p/shoal/metainfo"
)

// Release is one published version of a channel.
type Release struct {
	Channel     string    `json:"channel"`
	Seq         uint64    `json:"seq"`       // 1, 2, 3... per channel, never reused
	InfoHash    string    `json:"info_hash"` // 40 lowercase hex digits
	Name        string    `json:"name"`      // the torrent's name (info "name")
	Size        int64     `json:"size"`      // total bytes
	PieceLength int64     `json:"piece_length"`
	PublishedAt time.Time `json:"published_at"`
}

// HostReport is what an agent tells the tracker about itself and one
// channel: every few seconds, and at once on a change.
type HostReport struct {
	Host     string   `json:"host"`               // stable host name (agent --name, default os.Hostname())
	Zone     string   `json:"zone,omitempty"`     // rack/row/dc label, if any
	Current  uint64   `json:"current"`            // seq of the release now current, 0 if none
	Fetching uint64   `json:"fetching,omitempty"` // seq being fetched, 0 if none
	Progress float64  `json:"progress,omitempty"` // of Fetching, 0..1
	Have     []uint64 `json:"have,omitempty"`     // complete releases held (bounded by the agent's --keep)
	DownRate float64  `json:"down_rate"`          // payload bytes/s now
	UpRate   float64  `json:"up_rate"`
	Uploaded int64    `json:"uploaded"`         // payload bytes sent for this channel's releases since the agent started
	Origin   bool     `json:"origin,omitempty"` // this host published (its Uploaded is the origin egress)
}

// Summary is one channel as GET /v1/channels lists it.
type Summary struct {
	Channel string `json:"channel"`
	// Latest is the newest release, nil while the channel has none (it is
	// listed because hosts report on it, waiting for a first release).
	Latest *Release `json:"latest,omitempty"`
	// Releases counts the releases the tracker keeps.
	Releases int `json:"releases"`
	// Subscribers counts the hosts that reported on the channel recently.
	Subscribers int `json:"subscribers"`
}

// Errors callers branch on with errors.Is. The [Client] returns them
// wrapped in a [*StatusError] that carries the tracker's message.
var (
	// ErrUnknownChannel: no channel of that name (HTTP 404).
	ErrUnknownChannel = errors.New("unknown channel")
	// ErrForbidden: a missing or wrong key (HTTP 403).
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the sequence number is taken by another release (HTTP 409).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: a malformed or out-of-range value, sent or received
	// (HTTP 400).
	ErrInvalid = errors.New("invalid")
	// ErrTooLarge: a body over its bound (HTTP 413).
	ErrTooLarge = errors.New("too large")
)

// Bounds on what the codec and the [Client] accept.
const (
	// MaxNameLen bounds a channel name.
	MaxNameLen = 64
	// MaxHostLen and MaxZoneLen bound a report's host name and zone.
	MaxHostLen = 255
	MaxZoneLen = 64
	// MaxHave bounds the releases a report may list as held.
	MaxHave = 64
	// MaxReportSize bounds a HostReport's JSON.
	MaxReportSize = 16 << 10
	// MaxReleaseSize bounds one Release's JSON.
	MaxReleaseSize = 4 << 10
	// MaxListSize bounds a list reply (releases of a channel, channels).
	MaxListSize = 4 << 20
	// MaxInfoSize bounds an info dictionary (the same bound as a
	// metadata exchange's metadata_size).
	MaxInfoSize = 8 << 20
	// MaxTorrentNameLen bounds a release's Name.
	MaxTorrentNameLen = 1024
	// MaxSeq bounds sequence numbers, so that they stay exact as
	// JavaScript numbers (the fleet page) and never wrap.
	MaxSeq = 1<<53 - 1
)

// ValidName checks a channel name: 1 to MaxNameLen characters from
// [A-Za-z0-9._-], not starting with a dot. A valid name is safe as one
// path component (an agent keeps DIR/channels/NAME) and in a URL path.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty channel name", ErrInvalid)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: channel name of %d bytes, limit %d", ErrInvalid, len(name), MaxNameLen)
	}
	if name[0] == '.' {
		return fmt.Errorf("%w: channel name %q starts with a dot", ErrInvalid, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: channel name %q: character %q not in [A-Za-z0-9._-]", ErrInvalid, name, c)
		}
	}
	return nil
}

// Validate checks r's fields: a valid channel name, Seq >= 1, a
// lowercase hex info hash, a name, a positive size and a piece length
// within metainfo's bound.
func (r Release) Validate() error {
	if err := ValidName(r.Channel); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	switch {
	case r.Seq == 0 || r.Seq > MaxSeq:
		return fmt.Errorf("%w: release of %s has seq %d, want 1..%d", ErrInvalid, r.Channel, r.Seq, uint64(MaxSeq))
	case !validHexHash(r.InfoHash):
		return fmt.Errorf("%w: release %s/%d: info hash %q is not 40 lowercase hex digits", ErrInvalid, r.Channel, r.Seq, clip(r.InfoHash))
	case r.Name == "" || len(r.Name) > MaxTorrentNameLen || !utf8.ValidString(r.Name):
		return fmt.Errorf("%w: release %s/%d: name must be 1 to %d bytes of UTF-8", ErrInvalid, r.Channel, r.Seq, MaxTorrentNameLen)
	case r.Size <= 0:
		return fmt.Errorf("%w: release %s/%d: size %d", ErrInvalid, r.Channel, r.Seq, r.Size)
	case r.PieceLength <= 0 || r.PieceLength > metainfo.MaxPieceLength:
		return fmt.Errorf("%w: release %s/%d: piece length %d outside 1..%d", ErrInvalid, r.Channel, r.Seq, r.PieceLength, metainfo.MaxPieceLength)
	}
	return nil
}

// Hash returns the release's info hash as bytes; it assumes r validated.
func (r Release) Hash() metainfo.InfoHash {
	h, _ := metainfo.ParseInfoHash(r.InfoHash)
	return h
}

// Validate checks r's fields: a host name of 1 to MaxHostLen printable
// characters without spaces, a zone of at most MaxZoneLen such
// characters, Progress in 0..1, non-negative rates and Uploaded, and at
// most MaxHave held releases, every seq at most MaxSeq and none in Have 0.
func (r HostReport) Validate() error {
	if r.Host == "" || len(r.Host) > MaxHostLen {
		return fmt.Errorf("%w: host name must be 1 to %d bytes, got %d", ErrInvalid, MaxHostLen, len(r.Host))
	}
	if err := checkLabel("host name", r.Host); err != nil {
		return err
	}
	if len(r.Zone) > MaxZoneLen {
		return fmt.Errorf("%w: zone of %d bytes, limit %d", ErrInvalid, len(r.Zone), MaxZoneLen)
	}
	if err := checkLabel("zone", r.Zone); err != nil {
		return err
	}
	if !(r.Progress >= 0 && r.Progress <= 1) {
		return fmt.Errorf("%w: progress %v outside 0..1", ErrInvalid, r.Progress)
	}
	if !finiteNonNegative(r.DownRate) || !finiteNonNegative(r.UpRate) {
		return fmt.Errorf("%w: rates must be finite and non-negative (down %v, up %v)", ErrInvalid, r.DownRate, r.UpRate)
	}
	if r.Uploaded < 0 {
		return fmt.Errorf("%w: uploaded %d is negative", ErrInvalid, r.Uploaded)
	}
	if len(r.Have) > MaxHave {
		return fmt.Errorf("%w: %d releases in have, limit %d", ErrInvalid, len(r.Have), MaxHave)
	}
	if r.Current > MaxSeq || r.Fetching > MaxSeq {
		return fmt.Errorf("%w: seq over %d", ErrInvalid, uint64(MaxSeq))
	}
	for _, s := range r.Have {
		if s == 0 || s > MaxSeq {
			return fmt.Errorf("%w: have lists seq %d, want 1..%d", ErrInvalid, s, uint64(MaxSeq))
		}
	}
	return nil
}

// Holds reports whether the host holds release seq complete (as current
// or in Have).
func (r HostReport) Holds(seq uint64) bool {
	if seq == 0 {
		return false
	}
	if r.Current == seq {
		return true
	}
	for _, s := range r.Have {
		if s == seq {
			return true
		}
	}
	return false
}

// Highest returns the highest seq the report names (Current, Fetching or
// Have), 0 if none.
func (r HostReport) Highest() uint64 {
	m := max(r.Current, r.Fetching)
	for _, s := range r.Have {
		m = max(m, s)
	}
	return m
}

func checkLabel(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, what)
	}
	for _, c := range s {
		if !unicode.IsPrint(c) || unicode.IsSpace(c) {
			return fmt.Errorf("%w: %s %q has a space or control character", ErrInvalid, what, clip(s))
		}
	}
	return nil
}

func finiteNonNegative(f float64) bool { return f >= 0 && !math.IsInf(f, 1) }

func validHexHash(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
