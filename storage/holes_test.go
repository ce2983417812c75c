package storage

import (
	"bytes"
	"crypto/sha1"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCheckHoles checks a sparse file: pieces in holes are good exactly
// when the torrent's piece is zeros, pieces with data are hashed as before,
// and a preallocated file of a fresh download is all missing.
func TestCheckHoles(t *testing.T) {
	const piece = 64 << 10
	r := newRand(t)
	// Pieces: 0 data, 1 zeros (hole), 2 zeros (hole, torrent says data), 3
	// data, 4 short zeros (hole).
	data := make([]byte, 4*piece+1000)
	copy(data[0:piece], randomData(r, piece))
	copy(data[3*piece:4*piece], randomData(r, piece))
	want := append([]byte(nil), data...)
	copy(want[2*piece:3*piece], randomData(r, piece)) // what the torrent holds
	l := layoutOf(t, []File{{Path: "f", Length: int64(len(want))}}, piece, want)

	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{0, 3} {
		if _, err := f.WriteAt(data[p*piece:(p+1)*piece], int64(p)*piece); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	s := mustOpen(t, dir, l, ReadWrite)
	good, err := s.Check(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if exp := []bool{true, true, false, true, true}; !slices.Equal(good, exp) {
		t.Fatalf("check of a sparse file = %v, want %v", good, exp)
	}
	if sum := zeroSum(1000); sum != sha1.Sum(make([]byte, 1000)) {
		t.Fatal("zeroSum(1000) is not the SHA-1 of 1000 zeros")
	}
	if sum := zeroSum(hashChunk + 5); sum != sha1.Sum(make([]byte, hashChunk+5)) {
		t.Fatal("zeroSum across chunks is not the SHA-1 of zeros")
	}

	// A fresh download: preallocated, nothing written, nothing good, even
	// for pieces the torrent says are zeros.
	zeros := bytes.Repeat([]byte{0}, 3*piece)
	lz := layoutOf(t, []File{{Path: "z", Length: int64(len(zeros))}}, piece, zeros)
	fresh := mustOpen(t, t.TempDir(), lz, ReadWrite)
	good, err = fresh.Check(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(good, []bool{false, false, false}) {
		t.Fatalf("check of a fresh preallocated file = %v, want all missing", good)
	}
}
