package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// parseSize reads a byte count such as "256MB", "1.5GiB", "64k" or "1048576".
// Decimal units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB,
// GiB, TiB) powers of 1024; a trailing "bit" counts bits ("400Mbit").
func parseSize(s string) (float64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit such as 50MB, 400Mbit or 1GiB", s)
	}
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "/s"), "ps")
	u := strings.ToLower(unit)
	bits := false
	switch {
	case strings.HasSuffix(u, "bit"):
		bits, u = true, strings.TrimSuffix(u, "bit")
	case len(unit) > 1 && unit[len(unit)-1] == 'b':
		// A lower-case b after a prefix means bits, as in "400Mb".
		bits, u = true, strings.TrimSuffix(u, "b")
	default:
		u = strings.TrimSuffix(u, "b")
	}
	mult := 1.0
	switch u {
	case "":
	case "k":
		mult = 1e3
	case "m":
		mult = 1e6
	case "g":
		mult = 1e9
	case "t":
		mult = 1e12
	case "ki":
		mult = 1 << 10
	case "mi":
		mult = 1 << 20
	case "gi":
		mult = 1 << 30
	case "ti":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("invalid size %q: unknown unit %q", s, unit)
	}
	v *= mult
	if bits {
		v /= 8
	}
	return v, nil
}

// formatBytes renders a byte count with a decimal unit, e.g. "256.0 MB".
func formatBytes(n float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for n >= 1000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
