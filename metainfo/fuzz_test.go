package metainfo

import (
	"bytes"
	"crypto/sha1"
	"path/filepath"
	"reflect"
	"testing"
)

// checkInfo asserts the invariants ParseInfo promises for an accepted
// info dict.
func checkInfo(t *testing.T, i *Info) {
	t.Helper()
	total := i.TotalLength()
	if total <= 0 || i.PieceLength <= 0 {
		t.Fatalf("accepted total %d piece length %d", total, i.PieceLength)
	}
	n := i.NumPieces()
	if n == 0 || i.PieceSize(n-1) <= 0 || int64(n-1)*i.PieceLength+i.PieceSize(n-1) != total {
		t.Fatalf("piece layout does not cover %d bytes: n=%d last=%d", total, n, i.PieceSize(n-1))
	}
	lf, err := i.LocalFiles()
	if err != nil {
		t.Fatalf("accepted info has bad files: %v", err)
	}
	var off int64
	for _, f := range lf {
		if !filepath.IsLocal(f.Path) || f.Offset != off || f.Length < 0 {
			t.Fatalf("bad local file %+v at offset %d", f, off)
		}
		off += f.Length
	}
	if off != total {
		t.Fatalf("files cover %d bytes, total %d", off, total)
	}
	b, err := i.encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseInfo(b)
	if err != nil {
		t.Fatalf("re-encoded info refused: %v", err)
	}
	if !reflect.DeepEqual(again, i) {
		t.Fatalf("re-encoded info differs:\n%+v\n%+v", again, i)
	}
}

func FuzzParseInfo(f *testing.F) {
	f.Add([]byte(handInfo))
	f.Add(infoWith(f, nil))
	f.Add(infoWith(f, map[string]any{"files": files([]string{"..", "x"})}))
	f.Add([]byte("d5:filesld6:lengthi3e4:pathl1:a1:beee4:name1:d12:piece lengthi2e6:pieces40:" + string(pieces(2)) + "e"))
	f.Add([]byte("le"))
	f.Fuzz(func(t *testing.T, b []byte) {
		i, err := ParseInfo(b)
		if err != nil {
			return
		}
		checkInfo(t, i)
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("d8:announce8:http://t4:info" + handInfo + "e"))
	f.Add([]byte("d13:announce-listll1:aee7:comment1:c4:info" + handInfo + "8:url-list1:ue"))
	f.Add([]byte("d4:infoi1ee"))
	f.Add([]byte("d4:info" + handInfo + "ex"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		if m.InfoHash != sha1.Sum(m.InfoBytes) || !bytes.Contains(b, m.InfoBytes) {
			t.Fatal("info hash or bytes do not match the input")
		}
		checkInfo(t, &m.Info)
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed file: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of marshalled file: %v", err)
		}
		if again.InfoHash != m.InfoHash || !reflect.DeepEqual(again.Info, m.Info) || !reflect.DeepEqual(again.Trackers(), m.Trackers()) {
			t.Fatal("Marshal/Parse round trip changed the torrent")
		}
	})
}

func FuzzParseMagnet(f *testing.F) {
	f.Add("magnet:?xt=urn:btih:" + hashHex)
	f.Add("magnet:?xt=urn:btih:" + hashBase32 + "&dn=a%20b&tr=udp://t:1&tr=http://u&x.pe=1.2.3.4:5")
	f.Add("magnet:?xt=urn:btmh:1220ab")
	f.Add("http://x/")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMagnet(s)
		if err != nil {
			return
		}
		again, err := ParseMagnet(m.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", m.String(), err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip changed magnet:\n%+v\n%+v", m, again)
		}
	})
}

// FuzzScan checks the bencode scanner: no panic on any input, and an
// accepted dictionary splits into values that each scan to their own end.
func FuzzScan(f *testing.F) {
	f.Add([]byte(handInfo))
	f.Add([]byte("d1:ai1e1:ad1:bleee"))
	f.Add([]byte("li-1e0:4:spame"))
	f.Add([]byte("i0e"))
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := scanValue(b, 0, 0)
		if err != nil {
			return
		}
		if end <= 0 || end > len(b) {
			t.Fatalf("end %d outside the input of %d bytes", end, len(b))
		}
		if b[0] != 'd' || end != len(b) {
			return
		}
		d, err := parseDict(b)
		if err != nil {
			t.Fatalf("scanned dictionary refused by parseDict: %v", err)
		}
		for k, v := range d {
			if e, err := scanValue(v, 0, 1); err != nil || e != len(v) {
				t.Fatalf("value of %q does not scan to its end: %d of %d, %v", k, e, len(v), err)
			}
		}
	})
}
