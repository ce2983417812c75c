package storage

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestManyFilesUnderLowFDLimit downloads, checks and reads back a torrent
// of 1,000 files in a child process whose open-file limit is 200. Before
// descriptors were opened lazily and bounded, Open failed with "too many
// open files". The child runs this same test binary, so the limit cannot
// disturb the parent's other tests.
func TestManyFilesUnderLowFDLimit(t *testing.T) {
	if os.Getenv("SHOAL_STORAGE_FDLIMIT_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestManyFilesUnderLowFDLimit$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "SHOAL_STORAGE_FDLIMIT_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child with a low open-file limit: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("--- PASS: TestManyFilesUnderLowFDLimit")) {
			t.Fatalf("child did not run the test:\n%s", out)
		}
		return
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = 200
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}

	const n = 1000
	files := make([]File, n)
	for i := range files {
		files[i] = File{Path: filepath.Join(fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%04d.bin", i)), Length: int64(700 + i%13)}
	}
	var total int64
	for _, f := range files {
		total += f.Length
	}
	data := randomData(newRand(t), total)
	l := layoutOf(t, files, 4096, data)
	dir := t.TempDir()
	w, err := Open(dir, l, ReadWrite)
	if err != nil {
		t.Fatalf("open %d files for download under a limit of %d: %v", n, lim.Cur, err)
	}
	for p := 0; p < l.NumPieces(); p++ {
		off := int64(p) * l.PieceLength
		if err := w.WriteBlock(p, 0, data[off:off+l.PieceSize(p)]); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.fds.numOpen(); got > maxOpenFiles {
		t.Errorf("%d descriptors open, bound %d", got, maxOpenFiles)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := Open(dir, l, ReadOnly)
	if err != nil {
		t.Fatalf("open %d files for seeding: %v", n, err)
	}
	defer r.Close()
	good, err := r.Check(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for p, ok := range good {
		if !ok {
			t.Fatalf("piece %d does not verify", p)
		}
	}
	got := make([]byte, total)
	if _, err := r.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data read back differs")
	}
}
