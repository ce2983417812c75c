package trackerclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors that callers of [Announce] and [Scrape] may branch on.
var (
	// ErrTrackerFailure means the tracker answered with a "failure reason"
	// (BEP 3): it understood the request and refused it.
	ErrTrackerFailure = errors.New("tracker failure")
	// ErrUnsupportedScheme means the announce URL is not http, https or
	// udp, or a udp URL lacks a port.
	ErrUnsupportedScheme = errors.New("unsupported announce URL scheme")
	// ErrHTTPStatus means the tracker answered with an HTTP status other
	// than 200 OK and no bencoded failure reason.
	ErrHTTPStatus = errors.New("unexpected HTTP status")
	// ErrBadResponse means the tracker's reply could not be decoded.
	ErrBadResponse = errors.New("malformed tracker response")
)

// MaxResponseSize bounds the body of an announce reply that [Announce]
// will read; a larger reply is rejected rather than buffered.
const MaxResponseSize = 1 << 20

// Event is the announce event of BEP 3: empty for a regular re-announce.
type Event string

// The announce events of BEP 3.
const (
	EventNone      Event = ""
	EventStarted   Event = "started"
	EventCompleted Event = "completed"
	EventStopped   Event = "stopped"
)

// AnnounceRequest is what a peer tells a tracker about itself and one
// torrent (BEP 3).
type AnnounceRequest struct {
	InfoHash [20]byte
	PeerID   [20]byte
	// Port is where the peer accepts connections.
	Port uint16
	// Uploaded, Downloaded and Left are byte counts since the "started"
	// event; Left is zero for a seeder.
	Uploaded, Downloaded, Left int64
	Event                      Event
	// NumWant is how many peers the peer asks for; 0 leaves it to the
	// tracker's default.
	NumWant int
	// Key is an optional opaque token that identifies the peer across
	// address changes; empty omits it.
	Key string
	// Zone is the peer's location label (package zone: "dc1/row4/rack12",
	// broadest first), sent as the "zone" parameter (over UDP in the BEP 41
	// URL data's query) so that a Shoal tracker can hand out near peers
	// first; empty omits it. Other trackers ignore unknown parameters.
	Zone string
}

// AnnounceResponse is a tracker's successful reply to an announce.
type AnnounceResponse struct {
	// Interval is how long to wait before the next regular announce.
	Interval time.Duration
	// MinInterval, if non-zero, is the shortest wait the tracker allows.
	MinInterval time.Duration
	// Peers holds the peers handed out, IPv4 and IPv6 alike, from the
	// compact (BEP 23, BEP 7 "peers6") or the dictionary form.
	Peers []netip.AddrPort
	// Complete and Incomplete count the swarm's seeders and leechers.
	Complete, Incomplete int
	// WarningMessage is a non-fatal message from the tracker, if any.
	WarningMessage string
}

// httpGet fetches rawURL and reads its body, refusing a body over
// MaxResponseSize. Errors leave out the URL (with its query), which callers
// name themselves.
func httpGet(ctx context.Context, hc *http.Client, rawURL string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		// url.Error repeats the full query; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading reply: %w", err)
	}
	if len(body) > MaxResponseSize {
		return nil, nil, fmt.Errorf("%w: reply larger than %d bytes", ErrBadResponse, MaxResponseSize)
	}
	return resp, body, nil
}

// Announce sends req to the tracker at announceURL and decodes its reply:
// over HTTP(S) for http and https URLs (BEP 3), over UDP for udp URLs
// (BEP 15, with the URL's path sent as BEP 41 URL data). A nil hc uses
// http.DefaultClient; UDP ignores it. A tracker that refuses the announce
// yields an error wrapping [ErrTrackerFailure]; every error names
// announceURL.
func Announce(ctx context.Context, hc *http.Client, announceURL string, req AnnounceRequest) (*AnnounceResponse, error) {
	if u, err := url.Parse(announceURL); err == nil && u.Scheme == "udp" {
		ar, err := announceUDP(ctx, u, req)
		if err != nil {
			return nil, fmt.Errorf("tracker: announce to %s: %w", announceURL, err)
		}
		return ar, nil
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	full, err := AnnounceURL(announceURL, req)
	if err != nil {
		return nil, fmt.Errorf("tracker: announce to %s: %w", announceURL, err)
	}
	resp, body, err := httpGet(ctx, hc, full)
	if err != nil {
		return nil, fmt.Errorf("tracker: announce to %s: %w", announceURL, err)
	}
	ar, err := ParseAnnounceResponse(body)
	if resp.StatusCode != http.StatusOK {
		// Some trackers send their failure reason with an error status.
		if errors.Is(err, ErrTrackerFailure) {
			return nil, fmt.Errorf("tracker: announce to %s: HTTP %s: %w", announceURL, resp.Status, err)
		}
		return nil, fmt.Errorf("tracker: announce to %s: %w %s", announceURL, ErrHTTPStatus, resp.Status)
	}
	if err != nil {
		return nil, fmt.Errorf("tracker: announce to %s: %w", announceURL, err)
	}
	return ar, nil
}

// AnnounceURL is the URL an HTTP announce of req to announceURL gets:
// req's parameters (BEP 3, compact=1) appended to any query the URL
// already has (a private tracker's passkey, say).
func AnnounceURL(announceURL string, req AnnounceRequest) (string, error) {
	u, err := url.Parse(announceURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%w: %q", ErrUnsupportedScheme, u.Scheme)
	}
	var q strings.Builder
	q.WriteString(u.RawQuery)
	add := func(k, v string) {
		if q.Len() > 0 {
			q.WriteByte('&')
		}
		q.WriteString(k)
		q.WriteByte('=')
		q.WriteString(v)
	}
	add("info_hash", escapeBytes(req.InfoHash[:]))
	add("peer_id", escapeBytes(req.PeerID[:]))
	add("port", strconv.FormatUint(uint64(req.Port), 10))
	add("uploaded", strconv.FormatInt(req.Uploaded, 10))
	add("downloaded", strconv.FormatInt(req.Downloaded, 10))
	add("left", strconv.FormatInt(req.Left, 10))
	add("compact", "1")
	if req.Event != EventNone {
		add("event", escapeBytes([]byte(req.Event)))
	}
	if req.NumWant > 0 {
		add("numwant", strconv.Itoa(req.NumWant))
	}
	if req.Key != "" {
		add("key", escapeBytes([]byte(req.Key)))
	}
	if req.Zone != "" {
		add("zone", escapeBytes([]byte(req.Zone)))
	}
	u.RawQuery = q.String()
	return u.String(), nil
}

// escapeBytes percent-encodes every byte of b except the unreserved
// characters of RFC 3986, as BEP 3 asks for info_hash and peer_id.
func escapeBytes(b []byte) string {
	const hex = "0123456789ABCDEF"
	var s strings.Builder
	s.Grow(3 * len(b))
	for _, c := range b {
		if isUnreserved(c) {
			s.WriteByte(c)
			continue
		}
		s.WriteByte('%')
		s.WriteByte(hex[c>>4])
		s.WriteByte(hex[c&15])
	}
	return s.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// secondsDuration converts whole seconds to a Duration.
func secondsDuration(secs int64) time.Duration { return time.Duration(secs) * time.Second }
