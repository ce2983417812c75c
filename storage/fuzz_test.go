package storage

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSpans checks that the offset-to-file mapping tiles any range of any
// layout exactly: in order, without gaps, inside each file, skipping empty
// files. Every byte of lengths is one file's length.
func FuzzSpans(f *testing.F) {
	f.Add([]byte{10, 0, 5, 20}, uint16(8), uint16(10))
	f.Add([]byte{0, 0, 1, 0}, uint16(0), uint16(1))
	f.Add([]byte{255}, uint16(255), uint16(0))
	f.Add([]byte{3, 0, 0, 3, 0}, uint16(2), uint16(2))
	f.Fuzz(func(t *testing.T, lengths []byte, off16, n16 uint16) {
		files := make([]File, len(lengths))
		for i, b := range lengths {
			files[i] = File{Path: "f", Length: int64(b)}
		}
		ix := newIndex(files)
		if ix.total == 0 {
			return
		}
		off := int64(off16) % (ix.total + 1)
		n := int(int64(n16) % (ix.total - off + 1))

		next, lastFile := 0, -1
		err := ix.each(off, n, func(sp span) error {
			if sp.file <= lastFile || sp.file >= len(files) {
				t.Fatalf("file %d after %d", sp.file, lastFile)
			}
			lastFile = sp.file
			if sp.bufLo != next || sp.bufHi <= sp.bufLo {
				t.Fatalf("span [%d,%d) after %d bytes", sp.bufLo, sp.bufHi, next)
			}
			if sp.fileOff < 0 || sp.fileOff+int64(sp.bufHi-sp.bufLo) > files[sp.file].Length {
				t.Fatalf("span %+v outside file of %d bytes", sp, files[sp.file].Length)
			}
			if ix.starts[sp.file]+sp.fileOff != off+int64(sp.bufLo) {
				t.Fatalf("span %+v maps to the wrong stream offset", sp)
			}
			next = sp.bufHi
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if next != n {
			t.Fatalf("covered %d of %d bytes at %d", next, n, off)
		}
	})
}

// FuzzLayoutValidate feeds arbitrary paths and lengths to the layout check:
// it must not panic, and any layout it accepts must be safe to open.
// paths holds the file paths separated by NUL.
func FuzzLayoutValidate(f *testing.F) {
	f.Add("a/b.bin\x00a/c", int64(7), int64(3), int64(4), 3)
	f.Add("../x\x00y", int64(1), int64(1), int64(1), 2)
	f.Add("d\x00d/e", int64(1), int64(1), int64(1), 2)
	f.Add("x/..", int64(4), int64(0), int64(4), 1)
	f.Fuzz(func(t *testing.T, paths string, first, rest, pieceLength int64, hashes int) {
		names := strings.Split(paths, "\x00")
		l := Layout{PieceLength: pieceLength, PieceHashes: make([][20]byte, max(0, min(hashes, 64)))}
		for i, p := range names {
			length := rest
			if i == 0 {
				length = first
			}
			l.Files = append(l.Files, File{Path: p, Length: length})
		}
		if err := l.validate(); err != nil {
			return
		}
		if l.PieceLength <= 0 || l.TotalLength() <= 0 || l.NumPieces() != len(l.PieceHashes) {
			t.Fatalf("accepted inconsistent layout %+v", l)
		}
		for _, f := range l.Files {
			if f.Length < 0 || !filepath.IsLocal(f.Path) || filepath.Clean(f.Path) == "." {
				t.Fatalf("accepted file %+v", f)
			}
		}
	})
}
