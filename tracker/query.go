package tracker

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/shoal-p2p/shoal/trackerclient"
)

// maxQueryLen bounds an announce query; real ones are a few hundred bytes.
const maxQueryLen = 4 << 10

// errBadQuery marks an announce the server refuses with a failure reason.
var errBadQuery = errors.New("invalid announce")

// announceQuery is an announce as the server parses it (BEP 3).
type announceQuery struct {
	trackerclient.AnnounceRequest
	// NumWantSet tells an explicit numwant (even 0) from an absent one.
	NumWantSet bool
	// Compact is false only when the peer sent compact=0 (BEP 23).
	Compact bool
	// IP is the optional "ip" parameter, if it parsed as an address.
	IP netip.Addr
}

// parseAnnounceQuery parses the raw query string of an announce. info_hash
// and peer_id are raw 20-byte strings, percent-encoded byte by byte.
// Errors wrap errBadQuery and are safe to show the peer.
func parseAnnounceQuery(raw string) (announceQuery, error) {
	var q announceQuery
	if len(raw) > maxQueryLen {
		return q, fmt.Errorf("%w: query longer than %d bytes", errBadQuery, maxQueryLen)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("%w: malformed query", errBadQuery)
	}
	if err := fixed20(vals, "info_hash", &q.InfoHash); err != nil {
		return q, err
	}
	if err := fixed20(vals, "peer_id", &q.PeerID); err != nil {
		return q, err
	}
	port, err := strconv.ParseUint(vals.Get("port"), 10, 16)
	if err != nil || port == 0 {
		return q, fmt.Errorf("%w: missing or invalid port", errBadQuery)
	}
	q.Port = uint16(port)
	if q.Uploaded, err = byteCount(vals, "uploaded", false); err != nil {
		return q, err
	}
	if q.Downloaded, err = byteCount(vals, "downloaded", false); err != nil {
		return q, err
	}
	if q.Left, err = byteCount(vals, "left", true); err != nil {
		return q, err
	}
	switch e := trackerclient.Event(vals.Get("event")); e {
	case trackerclient.EventNone, trackerclient.EventStarted, trackerclient.EventCompleted, trackerclient.EventStopped:
		q.Event = e
	case "paused": // BEP 21: a partial seed pausing is a regular update here.
		q.Event = trackerclient.EventNone
	default:
		return q, fmt.Errorf("%w: unknown event", errBadQuery)
	}
	if vals.Has("numwant") {
		n, err := strconv.Atoi(vals.Get("numwant"))
		if err != nil {
			return q, fmt.Errorf("%w: invalid numwant", errBadQuery)
		}
		// Negative asks for the default, as some clients send -1.
		if n >= 0 {
			q.NumWant, q.NumWantSet = n, true
		}
	}
	q.Compact = vals.Get("compact") != "0"
	q.Key = vals.Get("key")
	// The location label (package zone), checked by Server.announce for
	// both protocols.
	q.Zone = vals.Get("zone")
	if ip, err := netip.ParseAddr(vals.Get("ip")); err == nil {
		q.IP = ip.Unmap().WithZone("")
	}
	return q, nil
}

// fixed20 reads a required parameter that must be exactly 20 raw bytes.
func fixed20(vals url.Values, key string, dst *[20]byte) error {
	v, ok := vals[key]
	if !ok || len(v[0]) != 20 {
		return fmt.Errorf("%w: %s must be 20 bytes", errBadQuery, key)
	}
	copy(dst[:], v[0])
	return nil
}

// byteCount reads a non-negative byte count, 0 if absent and not required.
func byteCount(vals url.Values, key string, required bool) (int64, error) {
	if !vals.Has(key) {
		if required {
			return 0, fmt.Errorf("%w: missing %s", errBadQuery, key)
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(vals.Get(key), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: invalid %s", errBadQuery, key)
	}
	return n, nil
}
