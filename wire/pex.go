package wire

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/anacrolix/torrent/bencode"
)

// MaxPEXPeers bounds each list of a ut_pex message, per address family:
// ParsePEXMessage keeps at most this many added and this many dropped IPv4
// peers, and as many IPv6 ones, and drops the rest. BEP 11 asks senders for
// at most 50 added and 50 dropped; the slack tolerates generous senders.
const MaxPEXPeers = 200

// MaxPEXMessageLen bounds the ut_pex payload ParsePEXMessage decodes; a
// message with MaxPEXPeers in every list is under 10 KiB.
const MaxPEXMessageLen = 64 << 10

// maxPEXDepth bounds nesting in a ut_pex dictionary: the known keys need one
// level, the rest tolerates small unknown values.
const maxPEXDepth = 4

// ErrBadPEXMessage reports a ut_pex payload that is too large or is not one
// bencoded dictionary.
var ErrBadPEXMessage = errors.New("wire: bad ut_pex message")

// PEXFlags are the per-peer flags of a ut_pex "added.f" / "added6.f" entry
// (BEP 11).
type PEXFlags byte

// The BEP 11 peer flags.
const (
	// PEXPrefersEncryption: the peer prefers encrypted connections.
	PEXPrefersEncryption PEXFlags = 0x01
	// PEXSeed: the peer is a seed or upload-only.
	PEXSeed PEXFlags = 0x02
	// PEXSupportsUTP: the peer supports uTP.
	PEXSupportsUTP PEXFlags = 0x04
	// PEXSupportsHolepunch: the peer supports ut_holepunch (BEP 55).
	PEXSupportsHolepunch PEXFlags = 0x08
	// PEXReachable: the sender connected out to the peer, so the peer is
	// reachable.
	PEXReachable PEXFlags = 0x10
)

// PEXPeer is one added peer of a ut_pex message.
type PEXPeer struct {
	// Addr is the peer's address; IPv4 addresses are never 4in6-mapped.
	Addr netip.AddrPort
	// Flags are what the sender knows about the peer.
	Flags PEXFlags
}

// PEXMessage is the payload of a ut_pex extended message (BEP 11): peers the
// sender connected to and disconnected from since its last message. On the
// wire IPv4 peers travel in "added", "added.f" and "dropped", IPv6 peers in
// "added6", "added6.f" and "dropped6".
type PEXMessage struct {
	// Added are the peers the sender has connected to, IPv4 ones first as
	// parsed.
	Added []PEXPeer
	// Dropped are the peers the sender has disconnected from, IPv4 ones
	// first as parsed.
	Dropped []netip.AddrPort
}

// Marshal returns the bencoded ut_pex dictionary of m, with all six keys
// present (empty strings for empty lists). It fails if an address is invalid,
// unspecified or has port 0, or if a list holds more than MaxPEXPeers peers
// of one family. 4in6-mapped addresses are sent as IPv4.
func (m PEXMessage) Marshal() ([]byte, error) {
	var added, added6, addedF, added6F, dropped, dropped6 []byte
	for _, p := range m.Added {
		four, err := checkPEXAddr(p.Addr)
		if err != nil {
			return nil, fmt.Errorf("marshal ut_pex added: %w", err)
		}
		if four {
			added = AppendCompactAddr(added, p.Addr)
			addedF = append(addedF, byte(p.Flags))
		} else {
			added6 = AppendCompactAddr(added6, p.Addr)
			added6F = append(added6F, byte(p.Flags))
		}
	}
	for _, a := range m.Dropped {
		four, err := checkPEXAddr(a)
		if err != nil {
			return nil, fmt.Errorf("marshal ut_pex dropped: %w", err)
		}
		if four {
			dropped = AppendCompactAddr(dropped, a)
		} else {
			dropped6 = AppendCompactAddr(dropped6, a)
		}
	}
	if len(addedF) > MaxPEXPeers || len(added6F) > MaxPEXPeers ||
		len(dropped) > MaxPEXPeers*CompactIPv4Len || len(dropped6) > MaxPEXPeers*CompactIPv6Len {
		return nil, fmt.Errorf("marshal ut_pex: more than %d peers of one family in a list", MaxPEXPeers)
	}
	d := map[string]string{
		"added": string(added), "added.f": string(addedF),
		"added6": string(added6), "added6.f": string(added6F),
		"dropped": string(dropped), "dropped6": string(dropped6),
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("marshal ut_pex: %w", err)
	}
	return b, nil
}

// checkPEXAddr reports whether a is IPv4 (mapped or not), or why it cannot
// be sent.
func checkPEXAddr(a netip.AddrPort) (bool, error) {
	ip := a.Addr().Unmap()
	if !a.IsValid() || ip.IsUnspecified() || a.Port() == 0 || ip.Zone() != "" {
		return false, fmt.Errorf("address %v cannot be exchanged", a)
	}
	return ip.Is4(), nil
}

// ParsePEXMessage decodes a ut_pex payload. It fails (ErrBadPEXMessage) only
// if b exceeds MaxPEXMessageLen, is not exactly one bencoded dictionary, or
// nests too deeply. Everything else is tolerated: missing keys or keys of the
// wrong type read as empty, a partial trailing compact entry is ignored, a
// flags string shorter than its peer list gives the remaining peers zero
// flags (a longer one is cut), entries with an unspecified address or port 0
// are skipped, 4in6-mapped addresses in "added6"/"dropped6" become IPv4, and
// only the first MaxPEXPeers entries of each list are kept.
func ParsePEXMessage(b []byte) (PEXMessage, error) {
	if len(b) > MaxPEXMessageLen {
		return PEXMessage{}, fmt.Errorf("%w: %w: %d bytes", ErrBadPEXMessage, ErrMessageTooLarge, len(b))
	}
	dec := bencode.NewDecoder(bytes.NewReader(b))
	dec.MaxStrLen = MaxPEXMessageLen
	dec.MaxDepth = maxPEXDepth
	// Non-nil, so that an empty dictionary decodes to an empty map; any
	// other bencode value fails to decode into it.
	d := map[string]any{}
	if err := dec.Decode(&d); err != nil {
		return PEXMessage{}, fmt.Errorf("%w: %w", ErrBadPEXMessage, err)
	}
	if err := dec.ReadEOF(); err != nil {
		return PEXMessage{}, fmt.Errorf("%w: trailing bytes after dictionary", ErrBadPEXMessage)
	}
	str := func(key string) []byte {
		s, _ := d[key].(string)
		return []byte(s)
	}
	var m PEXMessage
	m.Added = appendPEXAdded(m.Added, str("added"), str("added.f"), CompactIPv4Len)
	m.Added = appendPEXAdded(m.Added, str("added6"), str("added6.f"), CompactIPv6Len)
	m.Dropped = appendPEXDropped(m.Dropped, str("dropped"), CompactIPv4Len)
	m.Dropped = appendPEXDropped(m.Dropped, str("dropped6"), CompactIPv6Len)
	return m, nil
}

// appendPEXAdded appends the peers of one compact list and its flags,
// honouring at most MaxPEXPeers entries.
func appendPEXAdded(dst []PEXPeer, list, flags []byte, size int) []PEXPeer {
	for i := 0; i < MaxPEXPeers && (i+1)*size <= len(list); i++ {
		a, ok := parseCompact(list[i*size : (i+1)*size])
		if !ok {
			continue
		}
		var f PEXFlags
		if i < len(flags) {
			f = PEXFlags(flags[i])
		}
		dst = append(dst, PEXPeer{Addr: a, Flags: f})
	}
	return dst
}

// appendPEXDropped appends the addresses of one compact list, honouring at
// most MaxPEXPeers entries.
func appendPEXDropped(dst []netip.AddrPort, list []byte, size int) []netip.AddrPort {
	for i := 0; i < MaxPEXPeers && (i+1)*size <= len(list); i++ {
		if a, ok := parseCompact(list[i*size : (i+1)*size]); ok {
			dst = append(dst, a)
		}
	}
	return dst
}

// parseCompact decodes one compact entry of 6 or 18 bytes, rejecting an
// unspecified address or port 0.
func parseCompact(e []byte) (netip.AddrPort, bool) {
	a, ok := ParseCompactAddr(e)
	if !ok || a.Addr().IsUnspecified() || a.Port() == 0 {
		return netip.AddrPort{}, false
	}
	return a, true
}
