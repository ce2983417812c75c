package storage

import (
	"bytes"
	"os"
	"path/filepath"
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
