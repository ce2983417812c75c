package storage

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOpenReportsDiskFull preallocates more than a 1 MiB tmpfs holds and
// expects Open, not a later write, to report it, and to leave the folder as
// it was: the file it created is gone.
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
	// The files opened before the failure were closed (the unmount in the
	// cleanup would fail on a busy mount) and the ones Open created removed.
	for _, name := range []string{"small.bin", "big.bin"} {
		if _, err := os.Stat(filepath.Join(dir, "dl", name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the failed Open: %v, want it removed", name, err)
		}
	}
}

// mountExt4 makes a size-byte ext4 image under a temporary folder, loop
// mounts it and returns the mount point; the test is skipped when that is
// not possible here. The disk-full case then never touches the machine's
// own filesystem.
func mountExt4(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to loop-mount an ext4 image")
	}
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		t.Skip("mkfs.ext4 not installed (Debian package e2fsprogs)")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "fs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(mkfs, "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
		t.Skipf("mkfs.ext4: %v: %s", err, out)
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot loop-mount an ext4 image here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// freeBytes is the space available to unprivileged users on the
// filesystem holding path.
func freeBytes(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// TestFailedOpenGivesSpaceBackOnExt4: on ext4 a failed fallocate keeps the
// blocks it got, so before the undo a too-large download left the disk
// full after its "no space" error. Now the created files are removed, a
// partial file from an earlier run shrinks back to its old size with its
// bytes intact, and the free space is what it was.
func TestFailedOpenGivesSpaceBackOnExt4(t *testing.T) {
	mnt := mountExt4(t, 32<<20)
	dl := filepath.Join(mnt, "dl")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		t.Fatal(err)
	}
	partial := bytes.Repeat([]byte("resume"), 1000)
	if err := os.WriteFile(filepath.Join(dl, "a.bin"), partial, 0o644); err != nil {
		t.Fatal(err)
	}
	free := freeBytes(t, mnt)
	l := Layout{
		Files: []File{
			{Path: "a.bin", Length: 1 << 20},
			{Path: "sub/dir/b.bin", Length: 2 << 20},
			{Path: "c.bin", Length: free}, // with a and b, more than the disk has
		},
		PieceLength: 1 << 20,
	}
	l.PieceHashes = make([][20]byte, l.NumPieces())
	s, err := Open(dl, l, ReadWrite)
	if err == nil {
		s.Close()
		t.Fatal("Open of more than the disk holds succeeded")
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
	if after := freeBytes(t, mnt); after < free-64<<10 {
		t.Errorf("free space %d KiB after the failed Open, %d KiB before: the allocation was not given back", after>>10, free>>10)
	}
	if got, err := os.ReadFile(filepath.Join(dl, "a.bin")); err != nil || !bytes.Equal(got, partial) {
		t.Errorf("a.bin: %d bytes, %v; want its %d bytes from before", len(got), err, len(partial))
	}
	for _, name := range []string{"sub", "c.bin"} {
		if _, err := os.Stat(filepath.Join(dl, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the failed Open: %v, want it removed", name, err)
		}
	}
}
