package storage

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOpenReportsDiskFull preallocates more than a 1 MiB tmpfs holds and
// expects Open, not a later write, to report it.
func TestOpenReportsDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root and CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})

	const big = 2 << 20
	l := Layout{
		Files:       []File{{Path: "small.bin", Length: 1000}, {Path: "big.bin", Length: big}},
		PieceLength: 1 << 20,
		PieceHashes: make([][20]byte, 3),
	}
	s, err := Open(filepath.Join(dir, "dl"), l, ReadWrite)
	if err == nil {
		s.Close()
		t.Fatal("Open of 2 MiB on a 1 MiB filesystem succeeded")
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
	if want := `storage: allocate "big.bin" (2097152 bytes): no space left on device`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	// The files opened before the failure were closed: the mount is not busy
	// and the small file is intact.
	if fi, err := os.Stat(filepath.Join(dir, "dl", "small.bin")); err != nil || fi.Size() != 1000 {
		t.Errorf("small.bin: %v, %v", fi, err)
	}
}
