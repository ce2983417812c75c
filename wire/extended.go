package wire

import (
	"bytes"
	"fmt"

	"github.com/anacrolix/torrent/bencode"

	"github.com/shoal-p2p/shoal/zone"
)

// ExtendedHandshakeID is the extended message id of the extension protocol
// handshake (BEP 10); other ids are those each side advertises in M.
const ExtendedHandshakeID = 0

// MaxExtendedHandshakeLen bounds the bencoded extended handshake
// ParseExtendedHandshake accepts. Real handshakes are a few hundred bytes;
// the bound keeps decoding cheap on hostile input.
const MaxExtendedHandshakeLen = 64 << 10

// maxExtendedHandshakeDepth bounds dict/list nesting in a handshake: the
// known keys need two levels, and unknown ones rarely more.
const maxExtendedHandshakeDepth = 8

// ExtendedHandshake is the payload of the extension protocol handshake
// (BEP 10, extended message id 0), with the keys Shoal uses.
type ExtendedHandshake struct {
	// M maps an extension name to the extended message id the SENDER wants
	// to receive that extension's messages on; 0 disables an extension
	// enabled earlier. Ids outside 0-255 are dropped when parsing.
	M map[string]int
	// V is the client name and version ("v").
	V string
	// Reqq is the number of outstanding requests the sender accepts
	// ("reqq"), 0 if absent.
	Reqq int
	// Port is the sender's listening port ("p"), 0 if absent.
	Port int
	// YourIP is the receiver's address as the sender sees it ("yourip"):
	// 4 bytes for IPv4, 16 for IPv6.
	YourIP []byte
	// MetadataSize is the size of the info dictionary ("metadata_size",
	// BEP 9), 0 if absent.
	MetadataSize int
	// Zone is the sender's location label ("shoal_zone", a Shoal key; see
	// package zone), "" if absent. Other clients ignore the key, as BEP 10
	// asks of unknown keys. A label that is not valid (zone.Check: at most
	// zone.MaxLen bytes) is dropped when parsing and refused when
	// marshalling.
	Zone string
}

// zoneKey is the extended handshake key of ExtendedHandshake.Zone.
const zoneKey = "shoal_zone"

// Marshal returns the bencoded dictionary of e. "m" is always present (BEP 10
// requires it); the other keys only when non-zero.
func (e ExtendedHandshake) Marshal() ([]byte, error) {
	m := make(map[string]int64, len(e.M))
	for name, id := range e.M {
		if id < 0 || id > 255 {
			return nil, fmt.Errorf("marshal extended handshake: extension %q has id %d outside 0-255", name, id)
		}
		m[name] = int64(id)
	}
	if err := zone.Check(e.Zone); err != nil {
		return nil, fmt.Errorf("marshal extended handshake: %w", err)
	}
	d := map[string]any{"m": m}
	if e.V != "" {
		d["v"] = e.V
	}
	if e.Reqq != 0 {
		d["reqq"] = int64(e.Reqq)
	}
	if e.Port != 0 {
		d["p"] = int64(e.Port)
	}
	if len(e.YourIP) != 0 {
		d["yourip"] = string(e.YourIP)
	}
	if e.MetadataSize != 0 {
		d["metadata_size"] = int64(e.MetadataSize)
	}
	if e.Zone != "" {
		d[zoneKey] = e.Zone
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("marshal extended handshake: %w", err)
	}
	return b, nil
}

// ParseExtendedHandshake decodes a bencoded extended handshake. It fails
// (ErrBadExtendedHandshake) only if b is larger than MaxExtendedHandshakeLen,
// is not exactly one bencoded dictionary, or nests too deeply; keys with the
// wrong type or an out-of-range value are ignored, as are unknown keys.
func ParseExtendedHandshake(b []byte) (ExtendedHandshake, error) {
	if len(b) > MaxExtendedHandshakeLen {
		return ExtendedHandshake{}, fmt.Errorf("%w: %d bytes exceeds %d", ErrBadExtendedHandshake, len(b), MaxExtendedHandshakeLen)
	}
	dec := bencode.NewDecoder(bytes.NewReader(b))
	dec.MaxStrLen = MaxExtendedHandshakeLen
	dec.MaxDepth = maxExtendedHandshakeDepth
	d := map[string]any{} // non-nil, so an empty "de" decodes as an empty handshake
	if err := dec.Decode(&d); err != nil {
		return ExtendedHandshake{}, fmt.Errorf("%w: %w", ErrBadExtendedHandshake, err)
	}
	if err := dec.ReadEOF(); err != nil {
		return ExtendedHandshake{}, fmt.Errorf("%w: trailing bytes after dictionary", ErrBadExtendedHandshake)
	}
	var e ExtendedHandshake
	if m, ok := d["m"].(map[string]any); ok {
		e.M = make(map[string]int, len(m))
		for name, v := range m {
			if id, ok := intIn(v, 0, 255); ok {
				e.M[name] = id
			}
		}
	}
	if v, ok := d["v"].(string); ok {
		e.V = v
	}
	if n, ok := intIn(d["reqq"], 0, 1<<31-1); ok {
		e.Reqq = n
	}
	if n, ok := intIn(d["p"], 0, 65535); ok {
		e.Port = n
	}
	if ip, ok := d["yourip"].(string); ok && (len(ip) == 4 || len(ip) == 16) {
		e.YourIP = []byte(ip)
	}
	if n, ok := intIn(d["metadata_size"], 0, 1<<31-1); ok {
		e.MetadataSize = n
	}
	if z, ok := d[zoneKey].(string); ok && zone.Check(z) == nil {
		e.Zone = z
	}
	return e, nil
}

// intIn returns v as an int if it is a bencoded integer within [lo, hi].
// Integers too big for int64 decode as *big.Int and are always out of range.
func intIn(v any, lo, hi int64) (int, bool) {
	n, ok := v.(int64)
	if !ok || n < lo || n > hi {
		return 0, false
	}
	return int(n), true
}
