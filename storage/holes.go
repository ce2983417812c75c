package storage

import (
	"crypto/sha1"
	"sync"
)

// zeroSums caches the SHA-1 of n zero bytes, by n: a check of a sparse or
// preallocated file needs it for at most two sizes (full and last piece).
var zeroSums sync.Map // int64 -> [20]byte

// zeroSum is the SHA-1 of n zero bytes.
func zeroSum(n int64) [20]byte {
	if v, ok := zeroSums.Load(n); ok {
		return v.([20]byte)
	}
	h := sha1.New()
	zeros := make([]byte, min(n, hashChunk))
	for left := n; left > 0; left -= int64(len(zeros)) {
		h.Write(zeros[:min(left, int64(len(zeros)))])
	}
	var sum [20]byte
	h.Sum(sum[:0])
	zeroSums.Store(n, sum)
	return sum
}

// holePiece reports whether every byte of piece p lies in a hole of its
// files (never written, or preallocated and unwritten), so it reads as
// zeros and can be checked against the SHA-1 of zeros without reading it.
// A resumed download whose files are mostly unwritten, or a sparse file,
// then checks in a fraction of the time.
func (s *Storage) holePiece(p int) bool {
	off := int64(p) * s.layout.PieceLength
	size := s.pieceSize(p)
	if size == 0 {
		return false
	}
	hole := true
	s.ix.each(off, int(size), func(sp span) error {
		if hole && !s.isHole(sp.file, sp.fileOff, int64(sp.bufHi-sp.bufLo)) {
			hole = false
		}
		return nil
	})
	return hole
}
