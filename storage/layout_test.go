package storage

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestLayoutSizes(t *testing.T) {
	l := Layout{Files: threeFiles, PieceLength: threePiece}
	if got := l.TotalLength(); got != 4020 {
		t.Errorf("TotalLength = %d, want 4020", got)
	}
	if got := l.NumPieces(); got != 8 {
		t.Errorf("NumPieces = %d, want 8", got)
	}
	for p, want := range map[int]int64{-1: 0, 0: 512, 6: 512, 7: 4020 - 7*512, 8: 0} {
		if got := l.PieceSize(p); got != want {
			t.Errorf("PieceSize(%d) = %d, want %d", p, got, want)
		}
	}
	exact := Layout{Files: []File{{Path: "x", Length: 1024}}, PieceLength: 512}
	if exact.NumPieces() != 2 || exact.PieceSize(1) != 512 {
		t.Errorf("exact multiple: %d pieces, last %d", exact.NumPieces(), exact.PieceSize(1))
	}
	huge := Layout{Files: threeFiles, PieceLength: math.MaxInt64}
	if huge.NumPieces() != 1 || huge.PieceSize(0) != 4020 {
		t.Errorf("huge piece length: %d pieces, first %d", huge.NumPieces(), huge.PieceSize(0))
	}
	if (Layout{Files: threeFiles}).NumPieces() != 0 {
		t.Error("zero piece length must give no pieces")
	}
}

func TestOpenRefusesBadLayouts(t *testing.T) {
	one := [][20]byte{{}}
	cases := []struct {
		name string
		l    Layout
		want error
	}{
		{"zero piece length", Layout{Files: []File{{"a", 1}}, PieceLength: 0, PieceHashes: one}, ErrInvalidLayout},
		{"no files", Layout{PieceLength: 4}, ErrInvalidLayout},
		{"no data", Layout{Files: []File{{"a", 0}}, PieceLength: 4}, ErrInvalidLayout},
		{"negative length", Layout{Files: []File{{"a", 8}, {"b", -4}}, PieceLength: 4, PieceHashes: one}, ErrInvalidLayout},
		{"too few hashes", Layout{Files: []File{{"a", 5}}, PieceLength: 4, PieceHashes: one}, ErrInvalidLayout},
		{"too many hashes", Layout{Files: []File{{"a", 4}}, PieceLength: 4, PieceHashes: make([][20]byte, 2)}, ErrInvalidLayout},
		{"overflow", Layout{Files: []File{{"a", 1 << 62}, {"b", 1 << 62}, {"c", 1 << 62}}, PieceLength: 1 << 40}, ErrInvalidLayout},
		{"duplicate", Layout{Files: []File{{"d/a", 2}, {"d/./a", 2}}, PieceLength: 4, PieceHashes: one}, ErrInvalidLayout},
		{"file and dir", Layout{Files: []File{{"d", 2}, {"d/a", 2}}, PieceLength: 4, PieceHashes: one}, ErrInvalidLayout},
		{"parent", Layout{Files: []File{{"../a", 4}}, PieceLength: 4, PieceHashes: one}, ErrUnsafePath},
		{"parent inside", Layout{Files: []File{{"x/../../a", 4}}, PieceLength: 4, PieceHashes: one}, ErrUnsafePath},
		{"absolute", Layout{Files: []File{{"/tmp/a", 4}}, PieceLength: 4, PieceHashes: one}, ErrUnsafePath},
		{"empty path", Layout{Files: []File{{"", 4}}, PieceLength: 4, PieceHashes: one}, ErrUnsafePath},
		{"dot", Layout{Files: []File{{".", 4}}, PieceLength: 4, PieceHashes: one}, ErrUnsafePath},
		{"dot dir", Layout{Files: []File{{"x/..", 4}}, PieceLength: 4, PieceHashes: one}, ErrUnsafePath},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "dl")
			s, err := Open(dir, c.l, ReadWrite)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			// Nothing may have been created, inside dir or next to it.
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("Open created %v", ents)
			}
		})
	}
}

func TestOpenRefusesSymlinkOutOfDir(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Skipf("cannot make symlink: %v", err)
	}
	l := layoutOf(t, []File{{Path: "out/a.bin", Length: 8}}, 8, make([]byte, 8))
	s, err := Open(dir, l, ReadWrite)
	if err == nil {
		s.Close()
		t.Fatal("Open followed a symlink out of the directory")
	}
	t.Log(err)
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("Open created %v outside the directory", ents)
	}
}

func TestLayoutIsCopied(t *testing.T) {
	data := make([]byte, 4020)
	l := layoutOf(t, append([]File(nil), threeFiles...), threePiece, data)
	s := mustOpen(t, t.TempDir(), l, ReadWrite)
	l.Files[0].Length = 1
	l.PieceHashes[0][0] ^= 1
	got := s.Layout()
	if got.Files[0].Length != 1000 || got.PieceHashes[0][0] == l.PieceHashes[0][0] {
		t.Fatal("Storage shares the caller's layout slices")
	}
	got.Files[0].Path = "changed"
	if s.Layout().Files[0].Path == "changed" {
		t.Fatal("Layout returns the Storage's own slices")
	}
}
