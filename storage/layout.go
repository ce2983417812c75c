package storage

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
)

// ErrInvalidLayout is returned by Open when a Layout is inconsistent: bad
// lengths, a piece hash count that does not match the data, duplicate paths.
var ErrInvalidLayout = errors.New("storage: invalid layout")

// ErrUnsafePath is returned by Open when a file path is not a plain relative
// path that stays inside the download directory.
var ErrUnsafePath = errors.New("storage: unsafe path")

// File is one file of a torrent: its path relative to the download
// directory, in OS form (for example "name/sub/a.bin"), and its length in
// bytes. Files may be empty.
type File struct {
	Path   string
	Length int64
}

// Layout describes how a torrent's byte stream is stored: the files in
// stream order, the piece length, and the SHA-1 of every piece (BEP 3). The
// runtime builds it from the metainfo.
type Layout struct {
	Files       []File
	PieceLength int64
	PieceHashes [][20]byte
}

// TotalLength is the sum of the file lengths, the size of the byte stream.
func (l Layout) TotalLength() int64 {
	var n int64
	for _, f := range l.Files {
		n += f.Length
	}
	return n
}

// NumPieces is how many pieces the data is cut into: the total length
// divided by the piece length, rounded up. It is 0 if PieceLength is not
// positive.
func (l Layout) NumPieces() int {
	if l.PieceLength <= 0 {
		return 0
	}
	total := l.TotalLength()
	n := total / l.PieceLength
	if total%l.PieceLength != 0 {
		n++
	}
	return int(n)
}

// PieceSize is the length of piece p: PieceLength for every piece but the
// last, which holds the remainder. It is 0 for a piece index out of range.
func (l Layout) PieceSize(p int) int64 {
	n := l.NumPieces()
	if p < 0 || p >= n {
		return 0
	}
	if p < n-1 {
		return l.PieceLength
	}
	return l.TotalLength() - int64(p)*l.PieceLength
}

// clone returns a deep copy so that a Storage is not affected by a caller
// later changing the slices it passed in, and vice versa.
func (l Layout) clone() Layout {
	return Layout{
		Files:       append([]File(nil), l.Files...),
		PieceLength: l.PieceLength,
		PieceHashes: append([][20]byte(nil), l.PieceHashes...),
	}
}

// validate checks lengths, piece and hash counts and paths.
func (l Layout) validate() error {
	if l.PieceLength <= 0 {
		return fmt.Errorf("%w: piece length %d", ErrInvalidLayout, l.PieceLength)
	}
	if len(l.Files) == 0 {
		return fmt.Errorf("%w: no files", ErrInvalidLayout)
	}
	var total int64
	seen := make(map[string]bool, len(l.Files))
	for _, f := range l.Files {
		if f.Length < 0 {
			return fmt.Errorf("%w: %q has negative length %d", ErrInvalidLayout, f.Path, f.Length)
		}
		if f.Length > math.MaxInt64-total {
			return fmt.Errorf("%w: total length overflows", ErrInvalidLayout)
		}
		total += f.Length
		if !filepath.IsLocal(f.Path) || filepath.Clean(f.Path) == "." {
			return fmt.Errorf("%w: %q", ErrUnsafePath, f.Path)
		}
		clean := filepath.Clean(f.Path)
		if seen[clean] {
			return fmt.Errorf("%w: duplicate path %q", ErrInvalidLayout, f.Path)
		}
		seen[clean] = true
	}
	// A path may not be both a file and a directory holding another file.
	for p := range seen {
		for d := filepath.Dir(p); d != "."; d = filepath.Dir(d) {
			if seen[d] {
				return fmt.Errorf("%w: %q is a file and a directory", ErrInvalidLayout, d)
			}
		}
	}
	if total == 0 {
		return fmt.Errorf("%w: no data", ErrInvalidLayout)
	}
	if want := l.NumPieces(); len(l.PieceHashes) != want {
		return fmt.Errorf("%w: %d piece hashes for %d bytes in pieces of %d (want %d)",
			ErrInvalidLayout, len(l.PieceHashes), total, l.PieceLength, want)
	}
	return nil
}

// index maps torrent-global offsets to files. starts[i] is the offset of
// file i in the stream; zero-length files occupy no bytes.
type index struct {
	starts []int64
	lens   []int64
	total  int64
}

func newIndex(files []File) index {
	ix := index{starts: make([]int64, len(files)), lens: make([]int64, len(files))}
	for i, f := range files {
		ix.starts[i] = ix.total
		ix.lens[i] = f.Length
		ix.total += f.Length
	}
	return ix
}

// span is the part of a stream range that lies in one file: bytes
// [bufLo, bufHi) of the caller's buffer go to offset fileOff of file.
type span struct {
	file         int
	fileOff      int64
	bufLo, bufHi int
}

// each calls fn, in stream order, for every file holding part of the range
// [off, off+n). The range must lie within [0, total]. Zero-length files are
// never visited.
func (ix index) each(off int64, n int, fn func(span) error) error {
	// First file whose end is past off.
	i := sort.Search(len(ix.starts), func(i int) bool { return ix.starts[i]+ix.lens[i] > off })
	done := 0
	for ; done < n && i < len(ix.starts); i++ {
		if ix.lens[i] == 0 {
			continue
		}
		fileOff := off + int64(done) - ix.starts[i]
		take := ix.lens[i] - fileOff
		if rest := int64(n - done); take > rest {
			take = rest
		}
		if err := fn(span{file: i, fileOff: fileOff, bufLo: done, bufHi: done + int(take)}); err != nil {
			return err
		}
		done += int(take)
	}
	return nil
}
