package metainfo

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/anacrolix/torrent/bencode"
)

// MaxSize bounds the size of a metainfo file or info dictionary this
// package will decode. Real torrents are far smaller; the bound keeps a
// hostile input from costing more than a fixed amount of memory.
const MaxSize = 64 << 20

// maxDepth bounds bencode nesting. A metainfo file nests at most four
// levels (dict, files list, file dict, path list); the slack allows
// unknown extension keys.
const maxDepth = 32

// Sentinel errors callers may branch on.
var (
	// ErrTooLarge reports input larger than MaxSize.
	ErrTooLarge = errors.New("metainfo: input too large")
	// ErrInvalid reports input that is not a well-formed metainfo file,
	// info dictionary or option set.
	ErrInvalid = errors.New("metainfo: invalid")
)

// decodeStrict decodes exactly one bencoded value from b into v with
// bounded depth and string length, refusing trailing bytes.
func decodeStrict(b []byte, v any) (err error) {
	if len(b) > MaxSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxSize)
	}
	// The decoder is written to recover its own panics; this is a last
	// line of defence so that hostile input can never crash the caller.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bencode: decoder panic: %v", r)
		}
	}()
	d := bencode.NewDecoder(bytes.NewReader(b))
	d.MaxDepth = maxDepth
	d.MaxStrLen = int64(len(b)) + 1 // zero would mean the package default
	if err := d.Decode(v); err != nil {
		return err
	}
	if err := d.ReadEOF(); err != nil {
		return fmt.Errorf("trailing data after offset %d", d.Offset)
	}
	return nil
}

// rawDict is a bencoded dictionary whose values are kept undecoded.
type rawDict map[string]bencode.Bytes

// decodeField decodes the value of key into v. It reports whether the key
// was present; a present value of the wrong type is an error.
func (d rawDict) decodeField(key string, v any) (bool, error) {
	raw, ok := d[key]
	if !ok {
		return false, nil
	}
	if err := decodeStrict(raw, v); err != nil {
		return true, fmt.Errorf("%w: key %q: %w", ErrInvalid, key, err)
	}
	return true, nil
}
