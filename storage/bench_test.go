package storage

import (
	"slices"
	"testing"
)

// benchStorage returns a written 32 MiB two-file torrent with 1 MiB pieces.
func benchStorage(b *testing.B) (*Storage, []byte) {
	const pieceLength, total = 1 << 20, 32 << 20
	data := randomData(newRand(b), total)
	files := []File{{Path: "a.bin", Length: total/2 + 12345}, {Path: "b.bin", Length: total/2 - 12345}}
	s := mustOpen(b, b.TempDir(), layoutOf(b, files, pieceLength, data), ReadWrite)
	if _, err := s.WriteAt(data, 0); err != nil {
		b.Fatal(err)
	}
	return s, data
}

// BenchmarkVerifyPiece reports hashing throughput of 1 MiB pieces read back
// from disk (mostly the page cache).
func BenchmarkVerifyPiece(b *testing.B) {
	s, _ := benchStorage(b)
	n := s.Layout().NumPieces()
	b.SetBytes(s.Layout().PieceLength)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if ok, err := s.VerifyPiece(i % n); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkCheck reports whole-torrent resume check throughput, hashing on
// all CPUs.
func BenchmarkCheck(b *testing.B) {
	s, data := benchStorage(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		good, err := s.Check(b.Context(), nil)
		if err != nil || slices.Contains(good, false) {
			b.Fatal(good, err)
		}
	}
}

// BenchmarkWriteBlock reports throughput of 16 KiB block writes, the
// request size peers use.
func BenchmarkWriteBlock(b *testing.B) {
	s, data := benchStorage(b)
	const block = 16 << 10
	l := s.Layout()
	perPiece := int(l.PieceLength / block)
	n := l.NumPieces() * perPiece
	b.SetBytes(block)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		k := i % n
		piece, begin := k/perPiece, int64(k%perPiece)*block
		off := int64(piece)*l.PieceLength + begin
		if err := s.WriteBlock(piece, begin, data[off:off+block]); err != nil {
			b.Fatal(err)
		}
	}
}
