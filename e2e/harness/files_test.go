package harness

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCompareTrees checks the comparison helper itself, so a broken helper
// cannot make the end-to-end tests pass vacuously.
func TestCompareTrees(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	files := []FileSpec{{Path: "x/big.bin", Size: 3<<20 + 5}, {Path: "tiny", Size: 1}}
	WriteTree(t, a, 7, files...)
	WriteTree(t, b, 7, files...)
	if err := CompareTrees(a, b); err != nil {
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
	if err := CompareTrees(a, b); err == nil {
		t.Fatal("flipped byte not detected")
	}
	// Truncated file.
	if err := os.WriteFile(p, data[:len(data)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CompareTrees(a, b); err == nil {
		t.Fatal("truncation not detected")
	}
	// Extra file.
	WriteTree(t, b, 7, files[0])
	WriteRandomFile(t, filepath.Join(b, "extra"), 1, 1)
	if err := CompareTrees(a, b); err == nil {
		t.Fatal("extra file not detected")
	}
	// A different seed gives different content.
	c := filepath.Join(dir, "c")
	WriteTree(t, c, 8, files...)
	if err := CompareTrees(a, c); err == nil {
		t.Fatal("different seed gave identical data")
	}
}
