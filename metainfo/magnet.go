package metainfo

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// ErrInvalidMagnet reports a string that is not a usable BitTorrent magnet
// link.
var ErrInvalidMagnet = errors.New("metainfo: invalid magnet link")

// Magnet is a BitTorrent magnet link (BEP 9): enough to find a swarm and
// fetch the info dictionary from its peers.
type Magnet struct {
	// InfoHash is the v1 info hash from "xt=urn:btih:".
	InfoHash InfoHash
	// DisplayName is the suggested name from "dn"; it may be empty.
	DisplayName string
	// Trackers are the "tr" tracker URLs, in order.
	Trackers []string
	// Peers are "x.pe" peer addresses in host:port form, in order.
	Peers []string
}

const btihPrefix = "urn:btih:"

// ParseMagnet parses a magnet URI. It requires the magnet scheme and
// exactly one v1 info hash ("xt=urn:btih:" followed by 40 hex or 32 base32
// characters; repeats of the same hash are tolerated). Empty tr values and
// x.pe values that are not host:port with a valid port are dropped, since
// they are only hints. Other parameters are ignored.
func ParseMagnet(s string) (Magnet, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Magnet{}, fmt.Errorf("%w: %w", ErrInvalidMagnet, err)
	}
	if !strings.EqualFold(u.Scheme, "magnet") {
		return Magnet{}, fmt.Errorf("%w: not a magnet URI (scheme %q)", ErrInvalidMagnet, u.Scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Magnet{}, fmt.Errorf("%w: query: %w", ErrInvalidMagnet, err)
	}
	var m Magnet
	found := false
	for _, xt := range q["xt"] {
		if len(xt) < len(btihPrefix) || !strings.EqualFold(xt[:len(btihPrefix)], btihPrefix) {
			continue // another hash type, e.g. urn:btmh (BEP 52)
		}
		h, err := ParseInfoHash(xt[len(btihPrefix):])
		if err != nil {
			return Magnet{}, fmt.Errorf("%w: xt: %w", ErrInvalidMagnet, err)
		}
		if found && h != m.InfoHash {
			return Magnet{}, fmt.Errorf("%w: conflicting info hashes %s and %s", ErrInvalidMagnet, m.InfoHash, h)
		}
		m.InfoHash, found = h, true
	}
	if !found {
		return Magnet{}, fmt.Errorf("%w: no xt=urn:btih: parameter", ErrInvalidMagnet)
	}
	m.DisplayName = q.Get("dn")
	for _, tr := range q["tr"] {
		if tr != "" {
			m.Trackers = append(m.Trackers, tr)
		}
	}
	for _, pe := range q["x.pe"] {
		if validPeer(pe) {
			m.Peers = append(m.Peers, pe)
		}
	}
	return m, nil
}

// validPeer reports whether s is host:port with a non-empty host and a
// port in 1..65535.
func validPeer(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n != 0
}

// String formats the magnet link: xt with the hex info hash, then dn, tr
// and x.pe when set, with values percent-encoded.
func (m Magnet) String() string {
	var b strings.Builder
	b.WriteString("magnet:?xt=" + btihPrefix + m.InfoHash.String())
	add := func(key, value string) {
		b.WriteString("&" + key + "=" + queryEscape(value))
	}
	if m.DisplayName != "" {
		add("dn", m.DisplayName)
	}
	for _, tr := range m.Trackers {
		add("tr", tr)
	}
	for _, pe := range m.Peers {
		add("x.pe", pe)
	}
	return b.String()
}

// queryEscape escapes a query value using %20 for spaces, which every
// client reads, rather than '+', which some do not.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
