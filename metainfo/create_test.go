package metainfo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestCreateSingleFile(t *testing.T) {
	dir := t.TempDir()
	data := patterned(100_000, 1)
	writeFiles(t, dir, map[string][]byte{"blob.bin": data})

	m, err := Create(filepath.Join(dir, "blob.bin"), CreateOptions{PieceLength: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	i := m.Info
	if i.Name != "blob.bin" || i.IsMultiFile() || i.Length != int64(len(data)) {
		t.Fatalf("info = name %q multi %v length %d", i.Name, i.IsMultiFile(), i.Length)
	}
	if !bytes.Equal(i.Pieces, referencePieces(data, 16<<10)) {
		t.Fatal("piece hashes differ from reference SHA-1")
	}
	if i.NumPieces() != 7 || i.PieceSize(0) != 16<<10 || i.PieceSize(6) != 100_000-6*16384 {
		t.Fatalf("pieces: n=%d first=%d last=%d", i.NumPieces(), i.PieceSize(0), i.PieceSize(6))
	}
	if m.CreatedBy != "shoal" {
		t.Errorf("CreatedBy = %q, want default shoal", m.CreatedBy)
	}
	lf, err := i.LocalFiles()
	if err != nil {
		t.Fatal(err)
	}
	if want := []LocalFile{{Path: "blob.bin", Length: 100_000}}; !reflect.DeepEqual(lf, want) {
		t.Fatalf("LocalFiles = %+v, want %+v", lf, want)
	}
}

func TestCreateMultiFileAcrossBoundaries(t *testing.T) {
	root := filepath.Join(t.TempDir(), "content")
	files := map[string][]byte{
		"c":     patterned(5, 3),
		"b/y":   patterned(16<<10+1, 4),
		"a":     patterned(10_000, 5),
		"b/x":   patterned(20_000, 6),
		"d":     nil,
		"a-z":   patterned(3, 7), // sorts after "a" but before "b/..." by component
		"b/z/q": patterned(1, 8),
	}
	writeFiles(t, root, files)
	if err := os.Symlink(filepath.Join(root, "a"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	order := []string{"a", "a-z", "b/x", "b/y", "b/z/q", "c", "d"}

	var progress []int64
	m, err := Create(root, CreateOptions{
		PieceLength: 16 << 10,
		Progress:    func(done, total int64) { progress = append(progress, done, total) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var stream []byte
	var want []LocalFile
	for _, p := range order {
		want = append(want, LocalFile{Path: filepath.Join("content", filepath.FromSlash(p)), Length: int64(len(files[p])), Offset: int64(len(stream))})
		stream = append(stream, files[p]...)
	}
	if !bytes.Equal(m.Info.Pieces, referencePieces(stream, 16<<10)) {
		t.Fatal("piece hashes differ from SHA-1 of the concatenated files")
	}
	got, err := m.Info.LocalFiles()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LocalFiles =\n%+v\nwant\n%+v", got, want)
	}
	if m.Info.TotalLength() != int64(len(stream)) {
		t.Fatalf("TotalLength = %d, want %d", m.Info.TotalLength(), len(stream))
	}
	if n := len(progress); n == 0 || progress[n-2] != int64(len(stream)) || progress[n-1] != int64(len(stream)) {
		t.Fatalf("progress did not end at total: %v", progress[max(0, len(progress)-2):])
	}
	for k := 2; k < len(progress); k += 2 {
		if progress[k] < progress[k-2] {
			t.Fatalf("progress went backwards: %v", progress)
		}
	}
}

func TestCreateDeterministic(t *testing.T) {
	root := filepath.Join(t.TempDir(), "d")
	writeFiles(t, root, map[string][]byte{"x/1": patterned(70_000, 1), "y": patterned(9, 2)})
	opts := CreateOptions{Trackers: []string{"http://t/a"}, CreationDate: 1700000000}
	var outs [][]byte
	for range 2 {
		m, err := Create(root, opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("two Create runs on the same tree differ")
	}
}

func TestCreateRoundTrip(t *testing.T) {
	root := filepath.Join(t.TempDir(), "rt")
	writeFiles(t, root, map[string][]byte{"f1": patterned(40_000, 1), "sub/f2": patterned(1, 2)})
	m, err := Create(root, CreateOptions{
		PieceLength:  16 << 10,
		Trackers:     []string{"http://a/announce", "udp://b:80", "http://a/announce", ""},
		Comment:      "hello",
		CreatedBy:    "test",
		CreationDate: 1234,
		Private:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Announce != "http://a/announce" || !reflect.DeepEqual(m.AnnounceList, [][]string{{"http://a/announce"}, {"udp://b:80"}}) {
		t.Fatalf("announce %q list %q", m.Announce, m.AnnounceList)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.InfoHash != m.InfoHash {
		t.Fatalf("info hash changed: %s -> %s", m.InfoHash, p.InfoHash)
	}
	if !reflect.DeepEqual(p, m) {
		t.Fatalf("round trip differs:\n%+v\n%+v", p, m)
	}
	if !p.Info.Private {
		t.Fatal("private flag lost")
	}
}

func TestCreateSingleTrackerHasNoAnnounceList(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"f": {1}})
	m, err := Create(filepath.Join(dir, "f"), CreateOptions{Trackers: []string{"http://only"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Announce != "http://only" || m.AnnounceList != nil {
		t.Fatalf("announce %q list %q", m.Announce, m.AnnounceList)
	}
}

func TestCreateErrors(t *testing.T) {
	empty := t.TempDir()
	onlyEmpty := t.TempDir()
	writeFiles(t, onlyEmpty, map[string][]byte{"a": nil, "b/c": nil})
	file := filepath.Join(t.TempDir(), "f")
	writeFiles(t, filepath.Dir(file), map[string][]byte{"f": {1, 2, 3}})
	unsafe := t.TempDir()
	writeFiles(t, unsafe, map[string][]byte{`back\slash`: {1}})

	tests := []struct {
		name string
		path string
		opts CreateOptions
		want error
	}{
		{"empty dir", empty, CreateOptions{}, ErrEmpty},
		{"only empty files", onlyEmpty, CreateOptions{}, ErrEmpty},
		{"piece length not power of two", file, CreateOptions{PieceLength: 3 << 14}, ErrInvalid},
		{"piece length too small", file, CreateOptions{PieceLength: 8 << 10}, ErrInvalid},
		{"unsafe name inside tree", unsafe, CreateOptions{}, ErrUnsafePath},
		{"missing", filepath.Join(empty, "nope"), CreateOptions{}, os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Create(tt.path, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAutoPieceLength(t *testing.T) {
	const KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
	tests := []struct {
		total, want int64
	}{
		{0, 128 * KiB},
		{1, 128 * KiB},
		{64 * MiB, 128 * KiB},     // 512 pieces
		{500 * MiB, 128 * KiB},    // 4,000 pieces exactly
		{500*MiB + 1, 256 * KiB},  // would be 4,001 at 128 KiB
		{512 * MiB, 256 * KiB},    // 2,048 pieces
		{1000 * MiB, 256 * KiB},   // 4,000 pieces exactly
		{1000*MiB + 1, 512 * KiB}, // would be 4,001 at 256 KiB
		{1 * GiB, 512 * KiB},      // 2,048 pieces
		{5e9, 2 * MiB},            // 2,385 pieces: 5 GB
		{5 * GiB, 2 * MiB},        // 2,560 pieces
		{30 * GiB, 8 * MiB},       // 3,840 pieces
		{62500 * MiB, 16 * MiB},   // 3,907 pieces
		{100 * GiB, 16 * MiB},     // capped: 6,400 pieces
		{1 << 62, 16 * MiB},       // no overflow
	}
	for _, tt := range tests {
		if got := AutoPieceLength(tt.total); got != tt.want {
			t.Errorf("AutoPieceLength(%d) = %d, want %d", tt.total, got, tt.want)
		}
	}
}
