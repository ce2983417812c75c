package storage

import (
	"context"
	"crypto/sha1"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func sha1Sum(b []byte) [20]byte { return sha1.Sum(b) }

// zeroPieceData is random data whose piece 3 is all zeros, so that hashing
// a freshly allocated file would wrongly find that piece good.
func zeroPieceData(t *testing.T) []byte {
	data := randomData(newRand(t), 4020)
	clear(data[3*threePiece : 4*threePiece])
	return data
}

func TestCheckResume(t *testing.T) {
	data := zeroPieceData(t)
	l := layoutOf(t, threeFiles, threePiece, data)
	dir := t.TempDir()

	s := mustOpen(t, dir, l, ReadWrite)
	good, err := s.Check(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := make([]bool, 8); !slices.Equal(good, want) {
		t.Fatalf("fresh files: good = %v, want none (piece 3 is zeros but was never written)", good)
	}
	written := []int{0, 1, 3, 6, 7}
	writeAllPieces(t, s, data, written...)
	// Some bytes of piece 2 but not all of it.
	if err := s.WriteBlock(2, 0, data[2*threePiece:2*threePiece+100]); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, dir, l, ReadWrite)
	var calls []int
	good, err = s.Check(t.Context(), func(done, total int) {
		if total != 8 {
			t.Errorf("progress total = %d", total)
		}
		calls = append(calls, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]bool, 8)
	for _, p := range written {
		want[p] = true
	}
	if !slices.Equal(good, want) {
		t.Errorf("after reopen: good = %v, want %v", good, want)
	}
	if !slices.Equal(calls, []int{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("progress calls = %v", calls)
	}
}

func TestCheckSkipsOnlyNeverWrittenPieces(t *testing.T) {
	data := zeroPieceData(t)
	l := layoutOf(t, threeFiles, threePiece, data)
	dir := t.TempDir()
	// Only a.bin exists, complete: pieces 0 lies wholly in it; piece 1 also
	// needs b.bin and c.bin, which do not exist yet.
	s := mustOpen(t, dir, Layout{Files: threeFiles[:1], PieceLength: threePiece, PieceHashes: l.PieceHashes[:2]}, ReadWrite)
	if _, err := s.WriteAt(data[:1000], 0); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = mustOpen(t, dir, l, ReadWrite)
	good, err := s.Check(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, false, false, false, false, false, false}; !slices.Equal(good, want) {
		t.Errorf("good = %v, want %v", good, want)
	}
	for p := range 8 {
		if got, want := s.neverWritten(p), p != 0; got != want {
			t.Errorf("neverWritten(%d) = %v, want %v", p, got, want)
		}
	}
}

func TestCheckCancel(t *testing.T) {
	data := randomData(newRand(t), 4020)
	l := layoutOf(t, threeFiles, threePiece, data)
	dir := t.TempDir()
	s := mustOpen(t, dir, l, ReadWrite)
	writeAllPieces(t, s, data, 0, 1, 2, 3, 4, 5, 6, 7)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if good, err := s.Check(ctx, nil); !errors.Is(err, context.Canceled) || good != nil {
		t.Errorf("cancelled before: %v, %v", good, err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	last := 0
	good, err := s.Check(ctx, func(done, total int) {
		last = done
		if done == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || good != nil {
		t.Errorf("cancelled midway: %v, %v", good, err)
	}
	if last != 2 {
		t.Errorf("progress went on to %d after cancel", last)
	}

	// A cancelled check leaves the storage usable.
	if good, err := s.Check(t.Context(), nil); err != nil || slices.Contains(good, false) {
		t.Errorf("check after cancel: %v, %v", good, err)
	}
}

func TestCheckReportsReadErrors(t *testing.T) {
	data := randomData(newRand(t), 4020)
	l := layoutOf(t, threeFiles, threePiece, data)
	dir := t.TempDir()
	s := mustOpen(t, dir, l, ReadWrite)
	writeAllPieces(t, s, data, 0, 1, 2, 3, 4, 5, 6, 7)
	// Someone else shortens a file behind our back.
	if err := os.Truncate(filepath.Join(dir, "t", "c.bin"), 100); err != nil {
		t.Fatal(err)
	}
	good, err := s.Check(t.Context(), nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), `"t/c.bin"`) || good != nil {
		t.Fatalf("Check = %v, %v; want unexpected EOF naming t/c.bin", good, err)
	}
	t.Log(err)
}
