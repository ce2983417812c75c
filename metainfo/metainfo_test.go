package metainfo

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// handInfo is a canonical info dict written by hand, with an unknown key
// that this package does not model.
const handInfo = "d6:lengthi5e4:name3:abc12:piece lengthi16384e6:pieces20:" +
	"AAAAAAAAAAAAAAAAAAAA" + "7:privatei1e9:x-unknownl1:a1:bee"

func TestParseKeepsUnknownKeysByteExact(t *testing.T) {
	file := "d8:announce8:http://t13:announce-listll8:http://tel7:udp://u" +
		"ee7:comment2:hi10:created by4:test13:creation datei99e4:info" +
		handInfo + "8:url-listl9:http://w/ee"
	m, err := Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.InfoBytes) != handInfo {
		t.Fatalf("InfoBytes = %q", m.InfoBytes)
	}
	if m.InfoHash != sha1.Sum([]byte(handInfo)) {
		t.Fatal("InfoHash is not the SHA-1 of the raw info dict")
	}
	want := Info{Name: "abc", PieceLength: 16384, Pieces: []byte("AAAAAAAAAAAAAAAAAAAA"), Length: 5, Private: true}
	if !reflect.DeepEqual(m.Info, want) {
		t.Fatalf("Info = %+v", m.Info)
	}
	if m.Announce != "http://t" || m.Comment != "hi" || m.CreatedBy != "test" || m.CreationDate != 99 {
		t.Fatalf("fields = %+v", m)
	}
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != file {
		t.Fatalf("Marshal not byte-exact:\n got %q\nwant %q", out, file)
	}
}

func TestParseIgnoresBadInformationalFields(t *testing.T) {
	m, err := Parse([]byte("d7:commenti1e10:created byle13:creation date3:now4:info" + handInfo + "e"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Comment != "" || m.CreatedBy != "" || m.CreationDate != 0 {
		t.Fatalf("bad fields kept: %+v", m)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"not a dict", "l4:spame"},
		{"no info", "d8:announce1:xe"},
		{"info not a dict", "d4:infoi1ee"},
		{"trailing garbage", "d4:info" + handInfo + "ex"},
		{"second value", "d4:info" + handInfo + "ede"},
		{"truncated", "d4:info" + handInfo},
		{"bad announce type", "d8:announcei1e4:info" + handInfo + "e"},
		{"bad announce-list type", "d13:announce-listl1:xe4:info" + handInfo + "e"},
		{"string longer than input", "d4:info99999999999:e"},
		{"too deep", "d1:x" + strings.Repeat("l", 40) + strings.Repeat("e", 40) + "4:info" + handInfo + "e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := Parse([]byte(tt.in)); err == nil {
				t.Fatalf("Parse accepted %q: %+v", tt.in, m)
			} else if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// infoWith returns a valid multi-file info dict with fields overridden.
func infoWith(t testing.TB, over map[string]any) []byte {
	d := map[string]any{
		"name":         "dir",
		"piece length": 16384,
		"pieces":       pieces(1),
		"files": []any{
			map[string]any{"length": 10, "path": []string{"a", "b"}},
			map[string]any{"length": 0, "path": []string{"c"}},
		},
	}
	for k, v := range over {
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	return mustBencode(t, d)
}

func files(paths ...[]string) []any {
	var out []any
	for _, p := range paths {
		out = append(out, map[string]any{"length": 1, "path": p})
	}
	return out
}

func TestParseInfoValid(t *testing.T) {
	i, err := ParseInfo(infoWith(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &Info{Name: "dir", PieceLength: 16384, Pieces: pieces(1), Files: []FileInfo{
		{Length: 10, Path: []string{"a", "b"}}, {Length: 0, Path: []string{"c"}},
	}}
	if !reflect.DeepEqual(i, want) {
		t.Fatalf("got %+v", i)
	}
}

func TestParseInfoInvalid(t *testing.T) {
	tests := []struct {
		name string
		over map[string]any
	}{
		{"no name", map[string]any{"name": nil}},
		{"no piece length", map[string]any{"piece length": nil}},
		{"zero piece length", map[string]any{"piece length": 0}},
		{"negative piece length", map[string]any{"piece length": -16384}},
		{"huge piece length", map[string]any{"piece length": int64(1) << 40}},
		{"no pieces", map[string]any{"pieces": nil}},
		{"pieces not multiple of 20", map[string]any{"pieces": make([]byte, 21)}},
		{"too many pieces", map[string]any{"pieces": pieces(2)}},
		{"too few pieces", map[string]any{"pieces": pieces(0)}},
		{"length and files", map[string]any{"length": 10}},
		{"neither length nor files", map[string]any{"files": nil}},
		{"empty files list", map[string]any{"files": []any{}, "pieces": pieces(0)}},
		{"negative length", map[string]any{"files": nil, "length": -1}},
		{"zero total", map[string]any{"files": nil, "length": 0, "pieces": pieces(0)}},
		{"negative file length", map[string]any{"files": []any{
			map[string]any{"length": 11, "path": []string{"a"}},
			map[string]any{"length": -1, "path": []string{"b"}},
		}}},
		{"file without length", map[string]any{"files": []any{map[string]any{"path": []string{"a"}}}}},
		{"file without path", map[string]any{"files": []any{map[string]any{"length": 10}}}},
		{"length overflow", map[string]any{"files": []any{
			map[string]any{"length": int64(1) << 62, "path": []string{"a"}},
			map[string]any{"length": int64(1) << 62, "path": []string{"b"}},
			map[string]any{"length": int64(1) << 62, "path": []string{"c"}},
		}}},
		{"duplicate path", map[string]any{"pieces": pieces(1), "files": files([]string{"a"}, []string{"a"})}},
		{"file is also dir", map[string]any{"files": files([]string{"a"}, []string{"a", "b"})}},
		{"dir is also file", map[string]any{"files": files([]string{"a", "b"}, []string{"a"})}},
		{"name wrong type", map[string]any{"name": 5}},
		{"private wrong type", map[string]any{"private": "yes"}},
		{"path wrong type", map[string]any{"files": []any{map[string]any{"length": 1, "path": "a/b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := infoWith(t, tt.over)
			if i, err := ParseInfo(b); err == nil {
				t.Fatalf("ParseInfo accepted %q: %+v", b, i)
			} else if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestUnsafePaths(t *testing.T) {
	tests := []struct {
		name string
		over map[string]any
		path string // must appear quoted in the error
	}{
		{"dotdot traversal", map[string]any{"files": files([]string{"..", "..", "etc", "passwd"})}, "../../etc/passwd"},
		{"dotdot inside", map[string]any{"files": files([]string{"a", "..", "b"})}, "a/../b"},
		{"dot component", map[string]any{"files": files([]string{".", "a"})}, "./a"},
		{"empty component", map[string]any{"files": files([]string{"a", "", "b"})}, "a//b"},
		{"empty path", map[string]any{"files": files([]string{})}, ""},
		{"absolute via component", map[string]any{"files": files([]string{"/etc/passwd"})}, "/etc/passwd"},
		{"slash in component", map[string]any{"files": files([]string{"a/b"})}, "a/b"},
		{"backslash", map[string]any{"files": files([]string{`..\..\x`})}, `..\\..\\x`},
		{"nul", map[string]any{"files": files([]string{"a\x00b"})}, `a\x00b`},
		{"drive letter", map[string]any{"files": files([]string{"C:", "x"})}, "C:/x"},
		{"drive path", map[string]any{"files": files([]string{`c:\windows`})}, `c:\\windows`},
		{"empty name", map[string]any{"name": ""}, ""},
		{"dot name", map[string]any{"name": "."}, "."},
		{"dotdot name", map[string]any{"name": ".."}, ".."},
		{"absolute name", map[string]any{"name": "/etc"}, "/etc"},
		{"single file dotdot name", map[string]any{"files": nil, "length": 10, "name": "../x"}, "../x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInfo(infoWith(t, tt.over))
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("err = %v, want ErrUnsafePath", err)
			}
			if want := `unsafe file path "` + tt.path + `"`; !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not contain %q", err, want)
			}
		})
	}
}

func TestLocalFilesRechecksHandBuiltInfo(t *testing.T) {
	tests := []Info{
		{Name: "..", Length: 1},
		{Name: "ok", Files: []FileInfo{{Length: 1, Path: []string{"..", "x"}}}},
		{Name: "ok", Files: []FileInfo{{Length: 1, Path: nil}}},
	}
	for _, i := range tests {
		if _, err := i.LocalFiles(); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("LocalFiles(%+v) err = %v, want ErrUnsafePath", i, err)
		}
	}
}

func TestPieceAccessorsOutOfRange(t *testing.T) {
	i := Info{Name: "x", PieceLength: 10, Pieces: bytes.Repeat([]byte{7}, 40), Length: 15}
	if i.PieceSize(-1) != 0 || i.PieceSize(2) != 0 || i.PieceSize(1) != 5 || i.PieceSize(0) != 10 {
		t.Fatalf("PieceSize wrong: %d %d %d %d", i.PieceSize(-1), i.PieceSize(0), i.PieceSize(1), i.PieceSize(2))
	}
	if i.PieceHash(2) != ([20]byte{}) || i.PieceHash(-1) != ([20]byte{}) {
		t.Fatal("out of range PieceHash not zero")
	}
	if h := i.PieceHash(1); h[0] != 7 || h[19] != 7 {
		t.Fatalf("PieceHash(1) = %x", h)
	}
}

func TestSizeBounds(t *testing.T) {
	big := make([]byte, MaxSize+1)
	if _, err := Parse(big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Parse(MaxSize+1) err = %v", err)
	}
	if _, err := ParseInfo(big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ParseInfo(MaxSize+1) err = %v", err)
	}

	path := filepath.Join(t.TempDir(), "huge.torrent")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxSize + 1); err != nil { // sparse: no real disk use
		t.Fatal(err)
	}
	f.Close()
	_, err = Load(path)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load(huge) err = %v, want ErrTooLarge mentioning the path", err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.torrent")
	if err := os.WriteFile(path, []byte("d4:info"+handInfo+"e"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Info.Name != "abc" {
		t.Fatalf("name = %q", m.Info.Name)
	}
	missing := filepath.Join(t.TempDir(), "missing.torrent")
	if _, err := Load(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Load(missing) err = %v", err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load(garbage) err = %v", err)
	}
}

func TestMarshalWithoutInfoBytes(t *testing.T) {
	if _, err := (&MetaInfo{Announce: "x"}).Marshal(); err == nil {
		t.Fatal("Marshal without InfoBytes succeeded")
	}
}

func TestTrackers(t *testing.T) {
	tests := []struct {
		name string
		m    MetaInfo
		want []string
	}{
		{"none", MetaInfo{}, nil},
		{"announce only", MetaInfo{Announce: "a"}, []string{"a"}},
		{"list wins", MetaInfo{Announce: "a", AnnounceList: [][]string{{"b", "c"}, {"d"}}}, []string{"b", "c", "d"}},
		{"dedup across tiers", MetaInfo{AnnounceList: [][]string{{"b", "b"}, {"c", "b", ""}}}, []string{"b", "c"}},
		{"empty list falls back", MetaInfo{Announce: "a", AnnounceList: [][]string{{}, {""}}}, []string{"a"}},
	}
	for _, tt := range tests {
		if got := tt.m.Trackers(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Trackers = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestMetaInfoMagnet(t *testing.T) {
	m, err := Parse([]byte("d8:announce8:http://t4:info" + handInfo + "e"))
	if err != nil {
		t.Fatal(err)
	}
	want := Magnet{InfoHash: sha1.Sum([]byte(handInfo)), DisplayName: "abc", Trackers: []string{"http://t"}}
	if got := m.Magnet(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Magnet = %+v, want %+v", got, want)
	}
}

func TestParseDoesNotAliasInput(t *testing.T) {
	b := []byte("d4:info" + handInfo + "e")
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'Z' // callers reuse network buffers
	}
	if m.Info.Pieces[0] != 'A' || string(m.InfoBytes) != handInfo || m.Info.Name != "abc" {
		t.Fatal("parsed MetaInfo shares memory with the input")
	}
}
