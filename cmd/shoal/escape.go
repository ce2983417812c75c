package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable returns s safe to print on a terminal: control characters (C0,
// DEL, C1), Unicode format characters such as the bidirectional overrides,
// and bytes that are not UTF-8 are replaced by Go-style escapes (\x1b,
// \u202e). A torrent's name and paths come from whoever made it; printed raw,
// an escape sequence in one could recolour, retitle or rewrite the user's
// terminal, and a bidi override could make a name read as another.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x100 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeRune reports whether r must not reach a terminal as is.
func unsafeRune(r rune) bool {
	return (unicode.IsControl(r) && r != '\t') || unicode.Is(unicode.Cf, r)
}
