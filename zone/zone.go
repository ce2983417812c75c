package zone

import (
	"errors"
	"fmt"
	"strings"
)

// Bounds on a label.
const (
	// MaxLen bounds a label in bytes (the same bound as a channel host
	// report's zone).
	MaxLen = 64
	// MaxLevels bounds the segments of a label.
	MaxLevels = 4
)

// ErrInvalid is wrapped by every error of [Check].
var ErrInvalid = errors.New("invalid zone")

// Check validates label: empty (no location), or 1 to MaxLevels non-empty
// segments of [A-Za-z0-9._:-] joined by "/", at most MaxLen bytes. Its
// errors are safe to show to the host that sent the label.
func Check(label string) error {
	if label == "" {
		return nil
	}
	if len(label) > MaxLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalid, len(label), MaxLen)
	}
	levels := 1
	for i := 0; i < len(label); i++ {
		c := label[i]
		switch {
		case c == '/':
			if i == 0 || i == len(label)-1 || label[i-1] == '/' {
				return fmt.Errorf("%w: %q has an empty segment", ErrInvalid, label)
			}
			levels++
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return fmt.Errorf("%w: %q: character %q not in [A-Za-z0-9._:-/]", ErrInvalid, printable(label), c)
		}
	}
	if levels > MaxLevels {
		return fmt.Errorf("%w: %q has %d levels, limit %d", ErrInvalid, label, levels, MaxLevels)
	}
	return nil
}

// Levels counts the segments of a valid label (0 for the empty label).
func Levels(label string) int {
	if label == "" {
		return 0
	}
	return strings.Count(label, "/") + 1
}

// Common counts the leading segments two valid labels share: Levels(a)
// when a == b, 0 when either is empty or their first segments differ.
// "dc1/row4/rack12" and "dc1/row4/rack13" share 2.
func Common(a, b string) int {
	if a == "" || b == "" {
		return 0
	}
	n := 0
	for {
		i, j := strings.IndexByte(a, '/'), strings.IndexByte(b, '/')
		sa, sb := a, b
		if i >= 0 {
			sa = a[:i]
		}
		if j >= 0 {
			sb = b[:j]
		}
		if sa != sb {
			return n
		}
		n++
		if i < 0 || j < 0 {
			return n
		}
		a, b = a[i+1:], b[j+1:]
	}
}

// printable replaces bytes that are not printable ASCII with '?', so an
// error quoting a hostile label stays one readable line.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}
