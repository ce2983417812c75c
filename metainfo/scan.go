package metainfo

import (
	"fmt"
)

// A small bencode scanner (BEP 3) for the dictionaries and lists of a
// metainfo file. It checks the syntax of every value and returns the parts
// as sub-slices of its input, copying nothing, so a large torrent costs
// about its own size to parse; and it refuses a dictionary that repeats a
// key, which a map decoder would silently resolve to the last value (two
// "length" or "pieces" keys could then mean different torrents to
// different clients). Keys out of order are accepted, as real clients do.
// Leaf values (numbers, short strings, lists of strings) are still decoded
// with the bencode package through decodeStrict.

// scanValue checks the value starting at b[i] and returns the offset just
// past it.
func scanValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("unexpected end at offset %d", i)
	}
	switch c := b[i]; {
	case c == 'i':
		_, end, err := scanInt(b, i)
		return end, err
	case c >= '0' && c <= '9':
		_, end, err := scanString(b, i)
		return end, err
	case c == 'l':
		if depth >= maxDepth {
			return 0, fmt.Errorf("nesting deeper than %d at offset %d", maxDepth, i)
		}
		i++
		for {
			if i >= len(b) {
				return 0, fmt.Errorf("unterminated list at offset %d", i)
			}
			if b[i] == 'e' {
				return i + 1, nil
			}
			var err error
			if i, err = scanValue(b, i, depth+1); err != nil {
				return 0, err
			}
		}
	case c == 'd':
		if depth >= maxDepth {
			return 0, fmt.Errorf("nesting deeper than %d at offset %d", maxDepth, i)
		}
		return scanDict(b, i, depth, nil)
	default:
		return 0, fmt.Errorf("unexpected byte %q at offset %d", c, i)
	}
}

// scanDict checks the dictionary starting at b[i] and returns the offset
// past it; with a non-nil visit it reports each key and raw value. A
// repeated key is an error.
func scanDict(b []byte, i, depth int, visit func(key string, val []byte)) (int, error) {
	start := i
	i++
	var keys map[string]struct{}
	for {
		if i >= len(b) {
			return 0, fmt.Errorf("unterminated dictionary at offset %d", start)
		}
		if b[i] == 'e' {
			return i + 1, nil
		}
		if b[i] < '0' || b[i] > '9' {
			return 0, fmt.Errorf("dictionary key at offset %d is not a string", i)
		}
		key, vStart, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		if keys == nil {
			keys = make(map[string]struct{})
		}
		if _, dup := keys[string(key)]; dup {
			return 0, fmt.Errorf("duplicate key %q at offset %d", key, i)
		}
		keys[string(key)] = struct{}{}
		vEnd, err := scanValue(b, vStart, depth+1)
		if err != nil {
			return 0, err
		}
		if visit != nil {
			visit(string(key), b[vStart:vEnd:vEnd])
		}
		i = vEnd
	}
}

// scanString reads the byte string at b[i] ("len:bytes") and returns it
// and the offset past it.
func scanString(b []byte, i int) ([]byte, int, error) {
	start := i
	n := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i > start && b[start] == '0' {
			return nil, 0, fmt.Errorf("string length with a leading zero at offset %d", start)
		}
		if n > len(b) {
			return nil, 0, fmt.Errorf("string at offset %d longer than the input", start)
		}
		n = n*10 + int(b[i]-'0')
	}
	if i == start || i >= len(b) || b[i] != ':' {
		return nil, 0, fmt.Errorf("bad string length at offset %d", start)
	}
	i++
	if n > len(b)-i {
		return nil, 0, fmt.Errorf("string at offset %d longer than the input", start)
	}
	return b[i : i+n : i+n], i + n, nil
}

// scanInt reads the integer at b[i] ("i...e") and returns it and the
// offset past it. Leading zeros, "-0" and values beyond int64 are refused.
func scanInt(b []byte, i int) (int64, int, error) {
	start := i
	i++
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	digits := i
	var v int64
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := int64(b[i] - '0')
		if v > (1<<63-1-d)/10 {
			return 0, 0, fmt.Errorf("integer at offset %d out of range", start)
		}
		v = v*10 + d
	}
	switch {
	case i == digits || i >= len(b) || b[i] != 'e':
		return 0, 0, fmt.Errorf("bad integer at offset %d", start)
	case b[digits] == '0' && (i-digits > 1 || neg):
		return 0, 0, fmt.Errorf("integer with a leading zero at offset %d", start)
	}
	if neg {
		v = -v
	}
	return v, i + 1, nil
}

// parseDict parses b, which must be exactly one dictionary, into its keys
// and raw values (sub-slices of b).
func parseDict(b []byte) (rawDict, error) {
	if len(b) == 0 || b[0] != 'd' {
		return nil, fmt.Errorf("not a dictionary")
	}
	d := make(rawDict)
	end, err := scanDict(b, 0, 0, func(k string, v []byte) { d[k] = v })
	if err != nil {
		return nil, err
	}
	if end != len(b) {
		return nil, fmt.Errorf("trailing data after offset %d", end)
	}
	return d, nil
}

// parseList parses b, which must be exactly one list, into its raw items
// (sub-slices of b).
func parseList(b []byte) ([][]byte, error) {
	if len(b) == 0 || b[0] != 'l' {
		return nil, fmt.Errorf("not a list")
	}
	end, err := scanValue(b, 0, 0)
	if err != nil {
		return nil, err
	}
	if end != len(b) {
		return nil, fmt.Errorf("trailing data after offset %d", end)
	}
	var items [][]byte
	for i := 1; b[i] != 'e'; {
		next, _ := scanValue(b, i, 1) // checked above
		items = append(items, b[i:next:next])
		i = next
	}
	return items, nil
}

// parseBytes parses b, which must be exactly one byte string, returning a
// sub-slice of b.
func parseBytes(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return nil, fmt.Errorf("not a string")
	}
	s, end, err := scanString(b, 0)
	if err != nil {
		return nil, err
	}
	if end != len(b) {
		return nil, fmt.Errorf("trailing data after offset %d", end)
	}
	return s, nil
}
