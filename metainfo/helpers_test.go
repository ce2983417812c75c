package metainfo

import (
	"crypto/sha1"
	"os"
	"path/filepath"
	"testing"

	"github.com/anacrolix/torrent/bencode"
)

// writeFiles creates files under dir from a map of slash paths to
// contents.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// patterned returns n bytes that differ between seeds and positions, so a
// misplaced byte changes a hash.
func patterned(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed ^ byte(i>>8)
	}
	return b
}

// referencePieces hashes data in pieces of pieceLength, independently of
// the code under test.
func referencePieces(data []byte, pieceLength int) []byte {
	var out []byte
	for off := 0; off < len(data); off += pieceLength {
		h := sha1.Sum(data[off:min(off+pieceLength, len(data))])
		out = append(out, h[:]...)
	}
	return out
}

// mustBencode encodes v or fails the test.
func mustBencode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := bencode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pieces returns n dummy piece hashes.
func pieces(n int) []byte { return make([]byte, 20*n) }
