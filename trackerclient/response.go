package trackerclient

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/shoal-p2p/shoal/wire"
)

// The announce reply is a bencoded dictionary (BEP 3). Peers come either
// compact (BEP 23: 4-byte IPv4 address and 2-byte port, big-endian; BEP 7:
// "peers6" with 16-byte IPv6 addresses) or as a list of dictionaries with
// "peer id", "ip" and "port".

const (
	compactPeerLen4 = wire.CompactIPv4Len
	compactPeerLen6 = wire.CompactIPv6Len
	// maxIntervalSeconds bounds the intervals we accept so they fit a
	// time.Duration with room to spare (about 68 years).
	maxIntervalSeconds = math.MaxInt32
)

// FailureError is a tracker's refusal of an announce: the "failure
// reason" of BEP 3. It matches [ErrTrackerFailure] under errors.Is.
type FailureError struct {
	// Reason is the tracker's message, verbatim.
	Reason string
}

// Error reports the reason, quoted, since it comes from the network.
func (e *FailureError) Error() string { return fmt.Sprintf("failure reason %q", e.Reason) }

// Is makes errors.Is(err, ErrTrackerFailure) hold for a FailureError.
func (e *FailureError) Is(target error) bool { return target == ErrTrackerFailure }

// wirePeer is one entry of the dictionary peer form.
type wirePeer struct {
	PeerID string `bencode:"peer id"`
	IP     string `bencode:"ip"`
	Port   int64  `bencode:"port"`
}

// ParseAnnounceResponse decodes the body of a tracker's HTTP announce
// reply (BEP 3; compact peers per BEP 23 and BEP 7, or the dictionary
// form). A reply with a failure reason yields a *FailureError; anything
// undecodable wraps ErrBadResponse. Dictionary-form peers whose address is
// not a literal IP or whose port is out of range are skipped, not fatal.
// No string in body may claim more than MaxResponseSize bytes.
func ParseAnnounceResponse(body []byte) (*AnnounceResponse, error) {
	var top map[string]bencode.Bytes
	if err := decodeBounded(body, &top); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if top == nil {
		return nil, fmt.Errorf("%w: not a dictionary", ErrBadResponse)
	}
	if raw, ok := top["failure reason"]; ok {
		var reason string
		if err := decodeBounded(raw, &reason); err != nil {
			return nil, fmt.Errorf("%w: failure reason: %w", ErrBadResponse, err)
		}
		return nil, &FailureError{Reason: reason}
	}

	var ar AnnounceResponse
	var err error
	if ar.Interval, err = intervalField(top, "interval"); err != nil {
		return nil, err
	}
	if ar.MinInterval, err = intervalField(top, "min interval"); err != nil {
		return nil, err
	}
	if ar.Complete, err = countField(top, "complete"); err != nil {
		return nil, err
	}
	if ar.Incomplete, err = countField(top, "incomplete"); err != nil {
		return nil, err
	}
	if raw, ok := top["warning message"]; ok {
		if err := decodeBounded(raw, &ar.WarningMessage); err != nil {
			return nil, fmt.Errorf("%w: warning message: %w", ErrBadResponse, err)
		}
	}
	if raw, ok := top["peers"]; ok {
		if ar.Peers, err = parsePeers(raw, compactPeerLen4); err != nil {
			return nil, fmt.Errorf("%w: peers: %w", ErrBadResponse, err)
		}
	}
	if raw, ok := top["peers6"]; ok {
		p6, err := parsePeers(raw, compactPeerLen6)
		if err != nil {
			return nil, fmt.Errorf("%w: peers6: %w", ErrBadResponse, err)
		}
		ar.Peers = append(ar.Peers, p6...)
	}
	return &ar, nil
}

// parsePeers decodes a peer list in compact form (a string of entries of
// entryLen bytes) or dictionary form (a list).
func parsePeers(raw []byte, entryLen int) ([]netip.AddrPort, error) {
	if len(raw) > 0 && raw[0] == 'l' {
		var list []wirePeer
		if err := decodeBounded(raw, &list); err != nil {
			return nil, err
		}
		peers := make([]netip.AddrPort, 0, len(list))
		for _, p := range list {
			addr, err := netip.ParseAddr(p.IP)
			if err != nil || p.Port <= 0 || p.Port > math.MaxUint16 {
				continue
			}
			peers = append(peers, netip.AddrPortFrom(addr.Unmap().WithZone(""), uint16(p.Port)))
		}
		return peers, nil
	}
	var compact []byte
	if err := decodeBounded(raw, &compact); err != nil {
		return nil, err
	}
	return decodeCompactPeers(compact, entryLen)
}

// decodeCompactPeers splits a BEP 23 (entryLen 6) or BEP 7 (entryLen 18)
// compact peer string.
func decodeCompactPeers(b []byte, entryLen int) ([]netip.AddrPort, error) {
	if len(b)%entryLen != 0 {
		return nil, fmt.Errorf("compact length %d is not a multiple of %d", len(b), entryLen)
	}
	peers := make([]netip.AddrPort, 0, len(b)/entryLen)
	for ; len(b) > 0; b = b[entryLen:] {
		p, _ := wire.ParseCompactAddr(b[:entryLen]) // entryLen is 6 or 18
		peers = append(peers, p)
	}
	return peers, nil
}

// intervalField reads an optional non-negative number of seconds.
func intervalField(top map[string]bencode.Bytes, key string) (time.Duration, error) {
	raw, ok := top[key]
	if !ok {
		return 0, nil
	}
	var secs int64
	if err := decodeBounded(raw, &secs); err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrBadResponse, key, err)
	}
	if secs < 0 || secs > maxIntervalSeconds {
		return 0, fmt.Errorf("%w: %s %d out of range", ErrBadResponse, key, secs)
	}
	return time.Duration(secs) * time.Second, nil
}

// countField reads an optional non-negative swarm count.
func countField(top map[string]bencode.Bytes, key string) (int, error) {
	raw, ok := top[key]
	if !ok {
		return 0, nil
	}
	var n int64
	if err := decodeBounded(raw, &n); err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrBadResponse, key, err)
	}
	if n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: %s %d out of range", ErrBadResponse, key, n)
	}
	return int(n), nil
}

// decodeBounded decodes one bencoded value from b, refusing strings longer
// than a whole reply may be, so a forged length cannot force a large
// allocation. Trailing bytes after the value are ignored, as some trackers
// append a newline.
func decodeBounded(b []byte, v any) error {
	d := bencode.NewDecoder(bytes.NewReader(b))
	d.MaxStrLen = MaxResponseSize
	if err := d.Decode(v); err != nil {
		return err
	}
	return nil
}
