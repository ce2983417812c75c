package storage

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// threeFiles is a layout in which piece 1 ([512,1024)) spans a.bin, the
// empty file, b.bin and c.bin, and the last piece is short.
var threeFiles = []File{
	{Path: filepath.Join("t", "a.bin"), Length: 1000},
	{Path: filepath.Join("t", "empty"), Length: 0},
	{Path: filepath.Join("t", "sub", "b.bin"), Length: 20},
	{Path: filepath.Join("t", "c.bin"), Length: 3000},
}

const threePiece = 512

// newRand returns a seeded source and logs the seed so a failure replays.
func newRand(t testing.TB) *rand.Rand {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0))
}

// randomData returns n random bytes.
func randomData(r *rand.Rand, n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// layoutOf builds a layout for data stored in files.
func layoutOf(t testing.TB, files []File, pieceLength int64, data []byte) Layout {
	t.Helper()
	hashes, err := HashPieces(bytes.NewReader(data), pieceLength)
	if err != nil {
		t.Fatal(err)
	}
	l := Layout{Files: files, PieceLength: pieceLength, PieceHashes: hashes}
	if got := l.TotalLength(); got != int64(len(data)) {
		t.Fatalf("layout holds %d bytes, data is %d", got, len(data))
	}
	return l
}

// mustOpen opens a storage and closes it at the end of the test.
func mustOpen(t testing.TB, dir string, l Layout, mode Mode) *Storage {
	t.Helper()
	s, err := Open(dir, l, mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// writeAllPieces writes the given pieces of data block by block.
func writeAllPieces(t testing.TB, s *Storage, data []byte, pieces ...int) {
	t.Helper()
	l := s.Layout()
	for _, p := range pieces {
		off := int64(p) * l.PieceLength
		if err := s.WriteBlock(p, 0, data[off:off+l.PieceSize(p)]); err != nil {
			t.Fatal(err)
		}
	}
}

// filesContent concatenates the files of l under dir as found on disk.
func filesContent(t testing.TB, dir string, l Layout) []byte {
	t.Helper()
	var all []byte
	for _, f := range l.Files {
		b, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != f.Length {
			t.Fatalf("%s is %d bytes, want %d", f.Path, len(b), f.Length)
		}
		all = append(all, b...)
	}
	return all
}

// HashPieces reads r to the end and returns the SHA-1 of each pieceLength
// bytes, the last piece holding the remainder (BEP 3). It streams, holding
// no more than a copy buffer; the tests build Layouts with it (torrent
// creation hashes in metainfo.Create).
func HashPieces(r io.Reader, pieceLength int64) ([][20]byte, error) {
	if pieceLength <= 0 {
		return nil, fmt.Errorf("%w: piece length %d", ErrInvalidLayout, pieceLength)
	}
	var sums [][20]byte
	buf := make([]byte, min(pieceLength, hashChunk))
	for {
		h := sha1.New()
		n, err := io.CopyBuffer(h, io.LimitReader(r, pieceLength), buf)
		if err == nil && n < pieceLength {
			err = io.EOF
		}
		if n > 0 {
			var sum [20]byte
			h.Sum(sum[:0])
			sums = append(sums, sum)
		}
		if err == io.EOF {
			return sums, nil
		}
		if err != nil {
			return nil, fmt.Errorf("storage: hash pieces: %w", err)
		}
	}
}
