package e2e

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// fileSpec is one file of a generated payload: a path relative to the
// payload root and a size in bytes.
type fileSpec struct {
	path string
	size int64
}

// writeTree writes each file under root with deterministic pseudo-random
// content derived from seed and the file's path, so a failing run can be
// replayed byte for byte. It returns the total size.
func writeTree(t *testing.T, root string, seed uint64, files ...fileSpec) int64 {
	t.Helper()
	var total int64
	for _, f := range files {
		writeRandomFile(t, filepath.Join(root, f.path), f.size, seed^pathSeed(f.path))
		total += f.size
	}
	return total
}

// writeRandomFile writes size deterministic pseudo-random bytes to path.
func writeRandomFile(t *testing.T, path string, size int64, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var key [32]byte
	for i := range 4 {
		for j := range 8 {
			key[i*8+j] = byte((seed + uint64(i)*0x9e3779b97f4a7c15) >> (8 * j))
		}
	}
	if _, err := io.CopyN(f, rand.NewChaCha8(key), size); err != nil {
		f.Close()
		t.Fatalf("write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
}

// pathSeed mixes a path into a seed (FNV-1a).
func pathSeed(p string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(p); i++ {
		h ^= uint64(p[i])
		h *= 1099511628211
	}
	return h
}

// listFiles returns the regular files under root as slash-separated
// relative paths, sorted.
func listFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(out)
	return out, err
}

// sameTree fails the test unless got holds exactly the files of want (a
// file or a directory) with identical bytes.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	if err := compareTrees(want, got); err != nil {
		t.Fatalf("copy %s differs from %s: %v", got, want, err)
	}
}

// compareTrees reports the first difference between two files or trees.
func compareTrees(want, got string) error {
	wi, err := os.Stat(want)
	if err != nil {
		return err
	}
	if !wi.IsDir() {
		return compareFiles(want, got)
	}
	wf, err := listFiles(want)
	if err != nil {
		return fmt.Errorf("list source: %w", err)
	}
	gf, err := listFiles(got)
	if err != nil {
		return fmt.Errorf("list copy: %w", err)
	}
	if fmt.Sprint(wf) != fmt.Sprint(gf) {
		return fmt.Errorf("file sets differ:\nwant %v\ngot  %v", wf, gf)
	}
	for _, rel := range wf {
		if err := compareFiles(filepath.Join(want, rel), filepath.Join(got, rel)); err != nil {
			return err
		}
	}
	return nil
}

// compareFiles compares two files chunk by chunk and names the first
// differing offset.
func compareFiles(want, got string) error {
	a, err := os.Open(want)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := os.Open(got)
	if err != nil {
		return err
	}
	defer b.Close()
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		na, errA := io.ReadFull(a, bufA)
		nb, errB := io.ReadFull(b, bufB)
		if !bytes.Equal(bufA[:na], bufB[:nb]) {
			for i := 0; i < min(na, nb); i++ {
				if bufA[i] != bufB[i] {
					return fmt.Errorf("%s: first difference at byte %d", got, off+int64(i))
				}
			}
			return fmt.Errorf("%s: length differs from %s (near byte %d)", got, want, off+int64(min(na, nb)))
		}
		off += int64(na)
		endA := errA == io.EOF || errA == io.ErrUnexpectedEOF
		endB := errB == io.EOF || errB == io.ErrUnexpectedEOF
		if errA != nil && !endA {
			return errA
		}
		if errB != nil && !endB {
			return errB
		}
		if endA || endB {
			return nil // equal chunks and one ended: both ended at off
		}
	}
}

// TestCompareTrees checks the comparison helper itself, so a broken helper
// cannot make the end-to-end tests pass vacuously.
func TestCompareTrees(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	files := []fileSpec{{"x/big.bin", 3<<20 + 5}, {"tiny", 1}}
	writeTree(t, a, 7, files...)
	writeTree(t, b, 7, files...)
	if err := compareTrees(a, b); err != nil {
		t.Fatalf("identical trees: %v", err)
	}
	// One flipped byte past the first chunk.
	p := filepath.Join(b, "x/big.bin")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[2<<20+3] ^= 1
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := compareTrees(a, b); err == nil {
		t.Fatal("flipped byte not detected")
	}
	// Truncated file.
	if err := os.WriteFile(p, data[:len(data)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := compareTrees(a, b); err == nil {
		t.Fatal("truncation not detected")
	}
	// Extra file.
	writeTree(t, b, 7, files[0])
	writeRandomFile(t, filepath.Join(b, "extra"), 1, 1)
	if err := compareTrees(a, b); err == nil {
		t.Fatal("extra file not detected")
	}
	// A different seed gives different content.
	c := filepath.Join(dir, "c")
	writeTree(t, c, 8, files...)
	if err := compareTrees(a, c); err == nil {
		t.Fatal("different seed gave identical data")
	}
}
