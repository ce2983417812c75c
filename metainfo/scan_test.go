package metainfo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDuplicateKeysRefused: a dictionary that repeats a key, at the top,
// in the info dictionary or in a file entry, is refused with the key named;
// before, the last value silently won.
func TestDuplicateKeysRefused(t *testing.T) {
	p := string(pieces(1))
	tests := []struct{ name, info, top string }{
		{"info length twice", "d6:lengthi5e6:lengthi9e4:name1:x12:piece lengthi16e6:pieces20:" + p + "e", ""},
		{"info name twice", "d6:lengthi5e4:name1:x4:name1:y12:piece lengthi16e6:pieces20:" + p + "e", ""},
		{"file length twice", "d5:filesld6:lengthi5e6:lengthi3e4:pathl1:aeee4:name1:x12:piece lengthi16e6:pieces20:" + p + "e", ""},
		{"nested unknown key twice", "d1:xd1:ai1e1:ai2ee6:lengthi5e4:name1:x12:piece lengthi16e6:pieces20:" + p + "e", ""},
		{"top-level announce twice", "d6:lengthi5e4:name1:x12:piece lengthi16e6:pieces20:" + p + "e", "8:announce1:a8:announce1:b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.top == "" {
				_, err = ParseInfo([]byte(tt.info))
			} else {
				_, err = Parse([]byte("d" + tt.top + "4:info" + tt.info + "e"))
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "duplicate key") {
				t.Fatalf("err = %v, want ErrInvalid naming a duplicate key", err)
			}
		})
	}
	// Keys out of order are not an error (real clients accept them).
	if _, err := ParseInfo([]byte("d4:name1:x6:lengthi5e12:piece lengthi16e6:pieces20:" + p + "e")); err != nil {
		t.Errorf("unsorted keys refused: %v", err)
	}
}

// TestScanSyntax: the scanner refuses what BEP 3 does not allow.
func TestScanSyntax(t *testing.T) {
	for _, bad := range []string{"i03e", "i-0e", "ie", "i-e", "i9223372036854775808e", "03:abc", "4:abc", "l", "d1:ae", "di1ei2ee", "x", "d1:a", "2:a"} {
		if end, err := scanValue([]byte(bad), 0, 0); err == nil && end == len(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"i0e", "i-7e", "0:", "3:abc", "le", "de", "d1:ai1e1:bl1:cee", "i9223372036854775807e"} {
		if end, err := scanValue([]byte(good), 0, 0); err != nil || end != len(good) {
			t.Errorf("%q: end %d, err %v", good, end, err)
		}
	}
	deep := strings.Repeat("l", maxDepth+1) + strings.Repeat("e", maxDepth+1)
	if _, err := scanValue([]byte(deep), 0, 0); err == nil {
		t.Error("nesting beyond maxDepth accepted")
	}
}

// TestLoadCostsAboutTheFileSize loads a 20 MB torrent (a million piece
// hashes) and counts the bytes allocated: about one copy of the file, where
// decoding through maps of copied values cost 7 to 9 times its size.
func TestLoadCostsAboutTheFileSize(t *testing.T) {
	const n = 1 << 20
	info := fmt.Sprintf("d6:lengthi%de4:name3:big12:piece lengthi16384e6:pieces%d:", int64(n)*16384, 20*n) + string(pieces(n)) + "e"
	path := filepath.Join(t.TempDir(), "big.torrent")
	if err := os.WriteFile(path, []byte("d8:announce14:http://t/annou4:info"+info+"e"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	mi, err := Load(path)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Info.NumPieces() != n {
		t.Fatalf("%d pieces, want %d", mi.Info.NumPieces(), n)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Load of %d bytes allocated %d bytes (%.2fx)", fi.Size(), alloc, float64(alloc)/float64(fi.Size()))
	if limit := uint64(fi.Size()) * 3 / 2; alloc > limit {
		t.Errorf("Load of a %d-byte torrent allocated %d bytes, want at most %d (1.5x)", fi.Size(), alloc, limit)
	}
}
