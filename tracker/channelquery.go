package tracker

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

// channelQuery is the query string of a channel endpoint, parsed.
type channelQuery struct {
	// Key is the announce key of a private tracker ("key").
	Key string
	// After is "after" of /next: the seq the caller has; 0 if absent.
	After uint64
	// Seq is "seq" of a publish: the seq to register; 0 for the next.
	Seq uint64
	// Wait is "wait" of /next (a Go duration, or milliseconds), at most
	// max; max when absent.
	Wait time.Duration
}

// parseChannelQuery parses raw, bounded like an announce query; wait is
// clamped to 0..maxWait. Errors wrap channel.ErrInvalid and are safe to
// show the caller.
func parseChannelQuery(raw string, maxWait time.Duration) (channelQuery, error) {
	q := channelQuery{Wait: maxWait}
	if len(raw) > maxQueryLen {
		return q, fmt.Errorf("%w: query longer than %d bytes", channel.ErrInvalid, maxQueryLen)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("%w: malformed query", channel.ErrInvalid)
	}
	q.Key = vals.Get("key")
	if q.After, err = seqParam(vals, "after", 0); err != nil {
		return q, err
	}
	if q.Seq, err = seqParam(vals, "seq", 1); err != nil {
		return q, err
	}
	if s := vals.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			ms, err2 := strconv.ParseUint(s, 10, 32)
			if err2 != nil {
				return q, fmt.Errorf("%w: wait=%q is not a duration", channel.ErrInvalid, clipString(s))
			}
			d = time.Duration(ms) * time.Millisecond
		}
		q.Wait = min(max(d, 0), maxWait)
	}
	return q, nil
}

// seqParam parses the sequence number in vals[name], which must be in
// least..channel.MaxSeq when present; 0 when absent.
func seqParam(vals url.Values, name string, least uint64) (uint64, error) {
	s := vals.Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n < least || n > channel.MaxSeq {
		return 0, fmt.Errorf("%w: %s=%q: want an integer in %d..%d", channel.ErrInvalid, name, clipString(s), least, uint64(channel.MaxSeq))
	}
	return n, nil
}

func clipString(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
