package storage

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// block is one request-sized part of a piece.
type block struct {
	piece int
	begin int64
	n     int64
}

// blocksOf cuts every piece of l into blocks of at most size bytes.
func blocksOf(l Layout, size int64) []block {
	var bs []block
	for p := range l.NumPieces() {
		ps := l.PieceSize(p)
		for b := int64(0); b < ps; b += size {
			bs = append(bs, block{p, b, min(size, ps-b)})
		}
	}
	return bs
}

func TestWriteBlocksInRandomOrder(t *testing.T) {
	r := newRand(t)
	data := randomData(r, 4020)
	l := layoutOf(t, threeFiles, threePiece, data)
	dir := t.TempDir()
	s := mustOpen(t, dir, l, ReadWrite)

	// Blocks of 100 bytes do not line up with pieces or files.
	bs := blocksOf(l, 100)
	r.Shuffle(len(bs), func(i, j int) { bs[i], bs[j] = bs[j], bs[i] })
	var wg sync.WaitGroup
	errs := make(chan error, len(bs))
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(bs); i += 4 {
				b := bs[i]
				off := int64(b.piece)*l.PieceLength + b.begin
				errs <- s.WriteBlock(b.piece, b.begin, data[off:off+b.n])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	for p := range l.NumPieces() {
		ok, err := s.VerifyPiece(p)
		if err != nil || !ok {
			t.Errorf("VerifyPiece(%d) = %v, %v; want true", p, ok, err)
		}
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := filesContent(t, dir, l); !bytes.Equal(got, data) {
		t.Fatal("files on disk differ from the source")
	}
	all := make([]byte, len(data))
	if n, err := s.ReadAt(all, 0); err != nil || n != len(data) || !bytes.Equal(all, data) {
		t.Fatalf("ReadAt whole = %d, %v; equal %v", n, err, bytes.Equal(all, data))
	}
	for _, b := range blocksOf(l, 77) {
		got := make([]byte, b.n)
		off := int64(b.piece)*l.PieceLength + b.begin
		if err := s.ReadBlock(b.piece, b.begin, got); err != nil || !bytes.Equal(got, data[off:off+b.n]) {
			t.Fatalf("ReadBlock(%d, %d) = %v, equal %v", b.piece, b.begin, err, bytes.Equal(got, data[off:off+b.n]))
		}
	}
}

func TestCorruptByteFailsOnlyItsPiece(t *testing.T) {
	r := newRand(t)
	data := randomData(r, 4020)
	l := layoutOf(t, threeFiles, threePiece, data)
	dir := t.TempDir()
	s := mustOpen(t, dir, l, ReadWrite)
	writeAllPieces(t, s, data, 0, 1, 2, 3, 4, 5, 6, 7)

	// One offset in each file, including the bytes right at file edges.
	for _, off := range []int64{0, 600, 999, 1000, 1019, 1020, 1023, 1024, 2500, 4019} {
		bad := []byte{data[off] ^ 0x80}
		if _, err := s.WriteAt(bad, off); err != nil {
			t.Fatal(err)
		}
		for p := range l.NumPieces() {
			ok, err := s.VerifyPiece(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(p) != off/l.PieceLength; ok != want {
				t.Errorf("byte %d corrupted: VerifyPiece(%d) = %v, want %v", off, p, ok, want)
			}
		}
		if _, err := s.WriteAt(data[off:off+1], off); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadWriteKeepsExistingData: a short file keeps its bytes and is
// extended; a long one keeps its first Length bytes and loses the rest,
// which no piece covers (junk appended to a finished download would
// otherwise survive every verification), and Open reports the cut.
func TestReadWriteKeepsExistingData(t *testing.T) {
	dir := t.TempDir()
	files := []File{{Path: "short", Length: 10}, {Path: "long", Length: 4}}
	if err := os.WriteFile(filepath.Join(dir, "short"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "long"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := layoutOf(t, files, 8, make([]byte, 14))
	s := mustOpen(t, dir, l, ReadWrite)
	got := make([]byte, 14)
	if _, err := s.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if want := []byte("abc\x00\x00\x00\x00\x00\x00\x000123"); !bytes.Equal(got, want) {
		t.Errorf("data = %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "long")); string(b) != "0123" {
		t.Errorf("longer file holds %q, want it cut to %q", b, "0123")
	}
	if got, want := s.Truncated(), []Truncation{{Path: "long", From: 10, To: 4}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Truncated() = %+v, want %+v", got, want)
	}
}

func TestReadOnly(t *testing.T) {
	data := randomData(newRand(t), 4020)
	l := layoutOf(t, threeFiles, threePiece, data)
	dir := t.TempDir()
	w := mustOpen(t, dir, l, ReadWrite)
	writeAllPieces(t, w, data, 0, 1, 2, 3, 4, 5, 6, 7)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	s := mustOpen(t, dir, l, ReadOnly)
	good, err := s.Check(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for p, ok := range good {
		if !ok {
			t.Errorf("piece %d not good when seeding", p)
		}
	}
	if err := s.WriteBlock(0, 0, []byte{1}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("WriteBlock read-only: %v, want ErrReadOnly", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "t", "a.bin")); b[0] != data[0] {
		t.Error("read-only write changed the file")
	}

	t.Run("missing file", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "t", "sub"), 0o755)
		for _, f := range threeFiles {
			if f.Path != filepath.Join("t", "sub", "b.bin") {
				os.WriteFile(filepath.Join(dir, f.Path), make([]byte, f.Length), 0o644)
			}
		}
		_, err := Open(dir, l, ReadOnly)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `"t/sub/b.bin"`) {
			t.Fatalf("err = %v, want not-exist naming t/sub/b.bin", err)
		}
		t.Log(err)
		if _, err := os.Stat(filepath.Join(dir, "t", "sub", "b.bin")); err == nil {
			t.Error("read-only Open created the file")
		}
	})
	t.Run("wrong size", func(t *testing.T) {
		if err := os.Truncate(filepath.Join(dir, "t", "c.bin"), 2999); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, l, ReadOnly)
		if !errors.Is(err, ErrWrongSize) || !strings.Contains(err.Error(), `"t/c.bin"`) ||
			!strings.Contains(err.Error(), "2999 bytes, want 3000") {
			t.Fatalf("err = %v, want wrong size naming t/c.bin", err)
		}
		t.Log(err)
	})
	t.Run("directory in place of file", func(t *testing.T) {
		one := layoutOf(t, []File{{Path: "t", Length: 4}}, 4, make([]byte, 4))
		if _, err := Open(dir, one, ReadOnly); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("err = %v, want not a regular file", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope")
		if _, err := Open(missing, l, ReadOnly); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want not-exist", err)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Error("read-only Open created the directory")
		}
	})
}

func TestOutOfRange(t *testing.T) {
	data := make([]byte, 4020)
	l := layoutOf(t, threeFiles, threePiece, data)
	s := mustOpen(t, t.TempDir(), l, ReadWrite)
	last := l.NumPieces() - 1
	lastSize := l.PieceSize(last)
	cases := []struct {
		name  string
		piece int
		begin int64
		n     int
	}{
		{"negative piece", -1, 0, 1},
		{"piece past end", last + 1, 0, 1},
		{"negative begin", 0, -1, 1},
		{"runs past piece", 0, 500, 13},
		{"begin past piece", 0, 513, 0},
		{"runs past short last piece", last, lastSize - 4, 5},
		{"full length in short last piece", last, 0, threePiece},
	}
	for _, c := range cases {
		buf := make([]byte, c.n)
		if err := s.ReadBlock(c.piece, c.begin, buf); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%s: ReadBlock err = %v", c.name, err)
		}
		if err := s.WriteBlock(c.piece, c.begin, buf); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%s: WriteBlock err = %v", c.name, err)
		}
	}
	if _, err := s.VerifyPiece(last + 1); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("VerifyPiece past end: %v", err)
	}
	if err := s.WriteBlock(last, lastSize-4, make([]byte, 4)); err != nil {
		t.Errorf("block ending exactly at the end: %v", err)
	}
	if n, err := s.WriteAt(make([]byte, 2), 4019); n != 0 || !errors.Is(err, ErrOutOfRange) {
		t.Errorf("WriteAt past end = %d, %v", n, err)
	}
	if _, err := s.WriteAt([]byte{1}, -1); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("WriteAt negative: %v", err)
	}
	if _, err := s.ReadAt([]byte{1}, -1); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("ReadAt negative: %v", err)
	}
	if n, err := s.ReadAt(make([]byte, 10), 4015); n != 5 || err != io.EOF {
		t.Errorf("ReadAt over the end = %d, %v; want 5, EOF", n, err)
	}
	if n, err := s.ReadAt(make([]byte, 10), 5000); n != 0 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 0, EOF", n, err)
	}
}

func TestReadAtMatchesModel(t *testing.T) {
	r := newRand(t)
	files := []File{{"a", 0}, {"b", 7}, {"c", 0}, {"d", 0}, {"e", 1}, {"f", 300}, {"g", 0}, {"h", 64}}
	var total int64
	for _, f := range files {
		total += f.Length
	}
	model := make([]byte, total)
	l := layoutOf(t, files, 50, model)
	dir := t.TempDir()
	s := mustOpen(t, dir, l, ReadWrite)
	for range 500 {
		off := r.Int64N(total)
		n := r.Int64N(total - off + 1)
		if r.IntN(2) == 0 {
			p := randomData(r, n)
			copy(model[off:], p)
			if w, err := s.WriteAt(p, off); err != nil || w != int(n) {
				t.Fatalf("WriteAt(%d bytes, %d) = %d, %v", n, off, w, err)
			}
			continue
		}
		got := make([]byte, n)
		if m, err := s.ReadAt(got, off); err != nil || m != int(n) || !bytes.Equal(got, model[off:off+n]) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v; equal %v", n, off, m, err, bytes.Equal(got, model[off:off+n]))
		}
	}
	if got := filesContent(t, dir, l); !bytes.Equal(got, model) {
		t.Fatal("files differ from the model")
	}
}

func TestHashPieces(t *testing.T) {
	data := randomData(newRand(t), 3*64+5)
	for _, n := range []int{0, 1, 63, 64, 65, 3 * 64, len(data)} {
		got, err := HashPieces(bytes.NewReader(data[:n]), 64)
		if err != nil {
			t.Fatal(err)
		}
		want := (n + 63) / 64
		if len(got) != want {
			t.Fatalf("%d bytes: %d hashes, want %d", n, len(got), want)
		}
		for i, h := range got {
			chunk := data[i*64 : min(n, (i+1)*64)]
			if h != sha1Sum(chunk) {
				t.Errorf("%d bytes: hash %d wrong", n, i)
			}
		}
	}
	boom := errors.New("boom")
	if _, err := HashPieces(io.MultiReader(bytes.NewReader(data[:100]), iotestErr{boom}), 64); !errors.Is(err, boom) {
		t.Errorf("reader error: %v", err)
	}
	if _, err := HashPieces(bytes.NewReader(data), 0); !errors.Is(err, ErrInvalidLayout) {
		t.Errorf("zero piece length: %v", err)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }
