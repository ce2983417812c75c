package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestReadvAtOutOfCache: ReadvAt reads data the page cache does not hold
// (dropped after a sync), where the non-blocking raw read it tries first
// finds nothing and the ordinary read must take over, and data it holds.
func TestReadvAtOutOfCache(t *testing.T) {
	r := newRand(t)
	data := randomData(r, 1<<20)
	files := []File{{Path: "x.bin", Length: int64(len(data))}}
	l := layoutOf(t, files, 64<<10, data)
	dir := t.TempDir()
	path := filepath.Join(dir, "x.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	// Is the file out of the cache, so that the raw read declines?
	probe := make([]byte, 4096)
	iov := []unix.Iovec{{Base: &probe[0]}}
	iov[0].SetLen(len(probe))
	_, _, e := syscall.RawSyscall6(unix.SYS_PREADV2, f.Fd(), uintptr(unsafe.Pointer(&iov[0])), 1, 512<<10, 0, unix.RWF_NOWAIT)
	if e != unix.EAGAIN {
		t.Skipf("preadv2(RWF_NOWAIT) of a dropped page: %v, want EAGAIN (this file system keeps it cached)", e)
	}
	s := mustOpen(t, dir, l, ReadOnly)
	for _, off := range []int{512 << 10, 0, 512 << 10} { // the second read of 512 KiB is cached
		got := make([]byte, 256<<10)
		half := len(got) / 2
		if err := s.ReadvAt([][]byte{got[:half], got[half:]}, int64(off)); err != nil {
			t.Fatalf("ReadvAt at %d: %v", off, err)
		}
		if !bytes.Equal(got, data[off:off+len(got)]) {
			t.Fatalf("ReadvAt at %d read other bytes than the file holds", off)
		}
	}
}

// TestStartWritebacksOneCallPerFile: the write-back of several ranges is
// started with one call per file they touch, over the hull of their parts
// in that file, whatever their order; ranges outside the torrent are
// skipped, and a read-only storage starts nothing.
func TestStartWritebacksOneCallPerFile(t *testing.T) {
	type call struct {
		file      int
		off, size int64
	}
	var calls []call
	old := startWrite
	startWrite = func(i, fd int, off, n int64) error {
		calls = append(calls, call{i, off, n})
		return old(i, fd, off, n)
	}
	t.Cleanup(func() { startWrite = old })

	r := newRand(t)
	data := randomData(r, 4020) // a.bin 1000, empty 0, b.bin 20, c.bin 3000
	l := layoutOf(t, threeFiles, threePiece, data)
	dir := t.TempDir()
	s := mustOpen(t, dir, l, ReadWrite)
	if _, err := s.WritevAt([][]byte{data}, 0); err != nil {
		t.Fatal(err)
	}
	exts := []Extent{
		{Off: 3000, Len: 100},  // c.bin 1980-2080
		{Off: 100, Len: 50},    // a.bin 100-150
		{Off: 990, Len: 40},    // a.bin 990-1000, b.bin 0-20, c.bin 0-10
		{Off: 4000, Len: 100},  // past the end: skipped
		{Off: -1, Len: 10},     // skipped
		{Off: 500, Len: 0},     // empty: skipped
		{Off: 1500, Len: 2520}, // c.bin 480-3000
	}
	if err := s.StartWritebacks(exts); err != nil {
		t.Fatal(err)
	}
	want := []call{{0, 100, 900}, {2, 0, 20}, {3, 0, 3000}}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}

	calls = nil
	ro := mustOpen(t, dir, l, ReadOnly)
	if err := ro.StartWritebacks([]Extent{{Off: 0, Len: 100}}); err != nil || len(calls) != 0 {
		t.Fatalf("read-only: %v, calls %v", err, calls)
	}
}
