package metainfo

import (
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidInfoHash reports a string that is neither 40 hex digits nor 32
// base32 characters.
var ErrInvalidInfoHash = errors.New("metainfo: invalid info hash")

// InfoHash is a BitTorrent v1 info hash: the SHA-1 of the bencoded info
// dictionary (BEP 3). It names a torrent on the wire, at trackers and in
// magnet links.
type InfoHash [20]byte

// String returns the info hash as 40 lowercase hex digits.
func (h InfoHash) String() string { return hex.EncodeToString(h[:]) }

// HexString returns the info hash as 40 lowercase hex digits, the same as
// String; it exists for callers that want to be explicit about the format.
func (h InfoHash) HexString() string { return h.String() }

// ParseInfoHash parses an info hash written as 40 hex digits or as 32
// base32 characters (RFC 4648 alphabet, no padding, as some magnet links
// use). Both forms are case-insensitive.
func ParseInfoHash(s string) (InfoHash, error) {
	var h InfoHash
	switch len(s) {
	case 40:
		if _, err := hex.Decode(h[:], []byte(s)); err != nil {
			return InfoHash{}, fmt.Errorf("%w %q: %w", ErrInvalidInfoHash, s, err)
		}
	case 32:
		n, err := base32.StdEncoding.Decode(h[:], []byte(strings.ToUpper(s)))
		if err != nil {
			return InfoHash{}, fmt.Errorf("%w %q: %w", ErrInvalidInfoHash, s, err)
		}
		if n != len(h) {
			return InfoHash{}, fmt.Errorf("%w %q: decoded %d bytes", ErrInvalidInfoHash, s, n)
		}
	default:
		return InfoHash{}, fmt.Errorf("%w %q: length %d, want 40 (hex) or 32 (base32)", ErrInvalidInfoHash, s, len(s))
	}
	return h, nil
}
