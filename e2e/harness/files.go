package harness

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

// FileSpec is one file of a generated payload.
type FileSpec struct {
	Path string // relative to the payload root, slash-separated
	Size int64  // in bytes
}

// WriteTree writes each file under root with deterministic pseudo-random
// content derived from seed and the file's path, so a failing run can be
// replayed byte for byte. It returns the total size.
func WriteTree(t testing.TB, root string, seed uint64, files ...FileSpec) int64 {
	t.Helper()
	var total int64
	for _, f := range files {
		WriteRandomFile(t, filepath.Join(root, filepath.FromSlash(f.Path)), f.Size, seed^pathSeed(f.Path))
		total += f.Size
	}
	return total
}

// WriteRandomFile writes size pseudo-random bytes, determined by seed, to
// path, creating its parent directories.
func WriteRandomFile(t testing.TB, path string, size int64, seed uint64) {
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

// SameTree fails the test unless got holds exactly the files of want (a
// file or a directory) with identical bytes.
func SameTree(t testing.TB, want, got string) {
	t.Helper()
	if err := CompareTrees(want, got); err != nil {
		t.Fatalf("copy %s differs from %s: %v", got, want, err)
	}
}

// CompareTrees reports the first difference between two files or trees:
// a differing byte, a length, or a file present in only one of them.
func CompareTrees(want, got string) error {
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
