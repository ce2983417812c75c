package storage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// cut splits data into buffers of random sizes (empty ones included).
func cut(t *testing.T, data []byte, seedFrom *[]int) [][]byte {
	t.Helper()
	var bufs [][]byte
	sizes := *seedFrom
	for i := 0; len(data) > 0; i++ {
		n := min(len(data), sizes[i%len(sizes)])
		bufs = append(bufs, data[:n])
		data = data[n:]
	}
	return bufs
}

// TestVectoredMatchesPlain writes and reads random ranges with WritevAt and
// ReadvAt, cut into buffers of random sizes, across the file boundaries of
// a multi-file layout (an empty file included), and checks them against
// the plain positioned calls.
func TestVectoredMatchesPlain(t *testing.T) {
	r := newRand(t)
	data := randomData(r, 4020)
	l := layoutOf(t, threeFiles, threePiece, data)
	dir := t.TempDir()
	s := mustOpen(t, dir, l, ReadWrite)
	total := int(l.TotalLength())
	sizes := []int{0, 1, 7, 100, 513, 1000}
	for range 300 {
		off := r.IntN(total)
		n := r.IntN(total - off + 1)
		r.Shuffle(len(sizes), func(i, j int) { sizes[i], sizes[j] = sizes[j], sizes[i] })
		bufs := cut(t, data[off:off+n], &sizes)
		m, err := s.WritevAt(bufs, int64(off))
		if err != nil || m != n {
			t.Fatalf("WritevAt(%d bytes in %d buffers at %d) = %d, %v", n, len(bufs), off, m, err)
		}
		got := make([]byte, n)
		if err := s.ReadvAt(cut(t, got, &sizes), int64(off)); err != nil {
			t.Fatalf("ReadvAt(%d bytes at %d): %v", n, off, err)
		}
		if !bytes.Equal(got, data[off:off+n]) {
			t.Fatalf("ReadvAt(%d bytes at %d) read other bytes than written", n, off)
		}
		if err := s.StartWriteback(int64(off), int64(n)); err != nil {
			t.Fatalf("StartWriteback(%d, %d): %v", off, n, err)
		}
	}
	// One write of everything, cut across every file boundary.
	if _, err := s.WritevAt(cut(t, data, &sizes), 0); err != nil {
		t.Fatal(err)
	}
	if got := filesContent(t, dir, l); !bytes.Equal(got, data) {
		t.Fatal("files differ from the data written")
	}
}

// TestVectoredManyBuffers writes more buffers than one pwritev takes.
func TestVectoredManyBuffers(t *testing.T) {
	r := newRand(t)
	data := randomData(r, 3*maxIovecs+5)
	l := layoutOf(t, []File{{Path: "f", Length: int64(len(data))}}, 1<<20, data)
	dir := t.TempDir()
	s := mustOpen(t, dir, l, ReadWrite)
	bufs := make([][]byte, len(data))
	for i := range data {
		bufs[i] = data[i : i+1]
	}
	if n, err := s.WritevAt(bufs, 0); err != nil || n != len(data) {
		t.Fatalf("WritevAt of %d one-byte buffers = %d, %v", len(bufs), n, err)
	}
	got := make([]byte, len(data))
	gbufs := make([][]byte, len(got))
	for i := range got {
		gbufs[i] = got[i : i+1]
	}
	if err := s.ReadvAt(gbufs, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadvAt of %d one-byte buffers: %v (equal %v)", len(gbufs), err, bytes.Equal(got, data))
	}
}

// TestVectoredBounds checks the refusals: out of range, read-only, and a
// file shorter than the layout.
func TestVectoredBounds(t *testing.T) {
	r := newRand(t)
	data := randomData(r, 1000)
	l := layoutOf(t, []File{{Path: "f", Length: 1000}}, 512, data)
	dir := t.TempDir()
	s := mustOpen(t, dir, l, ReadWrite)
	for _, off := range []int64{-1, 999, 1000} {
		if _, err := s.WritevAt([][]byte{make([]byte, 2)}, off); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("WritevAt of 2 bytes at %d: %v, want ErrOutOfRange", off, err)
		}
		if err := s.ReadvAt([][]byte{make([]byte, 2)}, off); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("ReadvAt of 2 bytes at %d: %v, want ErrOutOfRange", off, err)
		}
	}
	if _, err := s.WritevAt([][]byte{data}, 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ro := mustOpen(t, dir, l, ReadOnly)
	if _, err := ro.WritevAt([][]byte{data[:1]}, 0); !errors.Is(err, ErrReadOnly) {
		t.Errorf("WritevAt on a read-only storage: %v, want ErrReadOnly", err)
	}
	// The file shrinks under the storage: the read says so.
	if err := os.Truncate(filepath.Join(dir, "f"), 500); err != nil {
		t.Fatal(err)
	}
	if err := ro.ReadvAt([][]byte{make([]byte, 100), make([]byte, 100)}, 450); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadvAt past the end of a truncated file: %v, want io.ErrUnexpectedEOF", err)
	}
}
