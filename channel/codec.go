package channel

import (
	"encoding/json"
	"fmt"
)

// ReleaseList is the body of GET /v1/channels/{name}: the releases the
// tracker keeps of one channel, oldest first.
type ReleaseList struct {
	Channel  string    `json:"channel"`
	Releases []Release `json:"releases"`
}

// SummaryList is the body of GET /v1/channels.
type SummaryList struct {
	Channels []Summary `json:"channels"`
}

// ErrorBody is the body of every error reply of the channel endpoints.
type ErrorBody struct {
	Error string `json:"error"`
}

// MaxErrorSize bounds an error reply's body.
const MaxErrorSize = 4 << 10

// ParseRelease decodes and validates one Release (MaxReleaseSize bytes at
// most). Unknown fields are ignored, so newer trackers can add some.
func ParseRelease(b []byte) (Release, error) {
	var r Release
	if err := decode(b, MaxReleaseSize, "release", &r); err != nil {
		return Release{}, err
	}
	if err := r.Validate(); err != nil {
		return Release{}, err
	}
	return r, nil
}

// ParseHostReport decodes and validates a HostReport (MaxReportSize bytes
// at most).
func ParseHostReport(b []byte) (HostReport, error) {
	var r HostReport
	if err := decode(b, MaxReportSize, "host report", &r); err != nil {
		return HostReport{}, err
	}
	if err := r.Validate(); err != nil {
		return HostReport{}, fmt.Errorf("host report: %w", err)
	}
	return r, nil
}

// ParseReleaseList decodes and validates a ReleaseList (MaxListSize bytes
// at most): every release valid and of the list's channel, in strictly
// increasing Seq order.
func ParseReleaseList(b []byte) (ReleaseList, error) {
	var l ReleaseList
	if err := decode(b, MaxListSize, "release list", &l); err != nil {
		return ReleaseList{}, err
	}
	if err := ValidName(l.Channel); err != nil {
		return ReleaseList{}, fmt.Errorf("release list: %w", err)
	}
	for i, r := range l.Releases {
		if err := r.Validate(); err != nil {
			return ReleaseList{}, fmt.Errorf("release list: %w", err)
		}
		if r.Channel != l.Channel {
			return ReleaseList{}, fmt.Errorf("%w: release list of %s holds a release of %s", ErrInvalid, l.Channel, r.Channel)
		}
		if i > 0 && r.Seq <= l.Releases[i-1].Seq {
			return ReleaseList{}, fmt.Errorf("%w: release list of %s: seq %d after %d", ErrInvalid, l.Channel, r.Seq, l.Releases[i-1].Seq)
		}
	}
	return l, nil
}

// ParseSummaryList decodes and validates a SummaryList (MaxListSize bytes
// at most): valid, distinct channel names, each latest release of its
// channel, and non-negative counts.
func ParseSummaryList(b []byte) (SummaryList, error) {
	var l SummaryList
	if err := decode(b, MaxListSize, "channel list", &l); err != nil {
		return SummaryList{}, err
	}
	seen := make(map[string]bool, len(l.Channels))
	for _, s := range l.Channels {
		if err := ValidName(s.Channel); err != nil {
			return SummaryList{}, fmt.Errorf("channel list: %w", err)
		}
		if seen[s.Channel] {
			return SummaryList{}, fmt.Errorf("%w: channel list names %s twice", ErrInvalid, s.Channel)
		}
		seen[s.Channel] = true
		if s.Releases < 0 || s.Subscribers < 0 {
			return SummaryList{}, fmt.Errorf("%w: channel %s: negative count", ErrInvalid, s.Channel)
		}
		if s.Latest != nil {
			if err := s.Latest.Validate(); err != nil {
				return SummaryList{}, fmt.Errorf("channel list: %w", err)
			}
			if s.Latest.Channel != s.Channel {
				return SummaryList{}, fmt.Errorf("%w: channel %s: latest release is of %s", ErrInvalid, s.Channel, s.Latest.Channel)
			}
		}
	}
	return l, nil
}

// ParseErrorBody decodes an error reply (MaxErrorSize bytes at most).
func ParseErrorBody(b []byte) (ErrorBody, error) {
	var e ErrorBody
	if err := decode(b, MaxErrorSize, "error reply", &e); err != nil {
		return ErrorBody{}, err
	}
	return e, nil
}

// decode unmarshals one JSON value of at most limit bytes into v.
func decode(b []byte, limit int, what string, v any) error {
	if len(b) > limit {
		return fmt.Errorf("%w: %s of %d bytes, limit %d", ErrTooLarge, what, len(b), limit)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, what, err)
	}
	return nil
}
