package metainfo

import (
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

// A known hash in both encodings: hex and its RFC 4648 base32 form.
const (
	hashHex    = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
	hashBase32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK"
)

func mustHash(t *testing.T, s string) InfoHash {
	t.Helper()
	var h InfoHash
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestParseInfoHash(t *testing.T) {
	want := mustHash(t, hashHex)
	for _, s := range []string{hashHex, "C12FE1C06BBA254A9DC9F519B335AA7C1367A88A", hashBase32, "yex6dqdlxisuvhoj6um3gnnkpqjwpkek"} {
		h, err := ParseInfoHash(s)
		if err != nil || h != want {
			t.Errorf("ParseInfoHash(%q) = %s, %v; want %s", s, h, err, want)
		}
	}
	if want.String() != hashHex || want.HexString() != hashHex {
		t.Errorf("String = %q, HexString = %q", want.String(), want.HexString())
	}
	for _, s := range []string{"", hashHex[:39], hashHex + "0", "z" + hashHex[1:], hashBase32[:31] + "1", hashBase32[:31] + "="} {
		if _, err := ParseInfoHash(s); !errors.Is(err, ErrInvalidInfoHash) {
			t.Errorf("ParseInfoHash(%q) err = %v, want ErrInvalidInfoHash", s, err)
		}
	}
}

func TestParseMagnet(t *testing.T) {
	h := mustHash(t, hashHex)
	tests := []struct {
		name, in string
		want     Magnet
	}{
		{"hex", "magnet:?xt=urn:btih:" + hashHex, Magnet{InfoHash: h}},
		{"base32", "magnet:?xt=urn:btih:" + hashBase32, Magnet{InfoHash: h}},
		{"case-insensitive scheme and urn", "MAGNET:?xt=URN:BTIH:" + hashHex, Magnet{InfoHash: h}},
		{"dn with escapes", "magnet:?xt=urn:btih:" + hashHex + "&dn=My%20File+v2%26x", Magnet{InfoHash: h, DisplayName: "My File v2&x"}},
		{"many tr in order", "magnet:?tr=http%3A%2F%2Fa%2Fannounce&xt=urn:btih:" + hashHex + "&tr=udp://b:80&tr=",
			Magnet{InfoHash: h, Trackers: []string{"http://a/announce", "udp://b:80"}}},
		{"x.pe peers, bad ones dropped", "magnet:?xt=urn:btih:" + hashHex + "&x.pe=1.2.3.4:6881&x.pe=[::1]:7000&x.pe=nope&x.pe=h:0&x.pe=h:99999&x.pe=:80",
			Magnet{InfoHash: h, Peers: []string{"1.2.3.4:6881", "[::1]:7000"}}},
		{"btmh alongside btih", "magnet:?xt=urn:btmh:1220abcd&xt=urn:btih:" + hashHex, Magnet{InfoHash: h}},
		{"same btih twice", "magnet:?xt=urn:btih:" + hashHex + "&xt=urn:btih:" + hashBase32, Magnet{InfoHash: h}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMagnet(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseMagnetErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"http url", "http://example.com/?xt=urn:btih:" + hashHex},
		{"no scheme", "?xt=urn:btih:" + hashHex},
		{"no xt", "magnet:?dn=x"},
		{"only btmh", "magnet:?xt=urn:btmh:1220abcd"},
		{"short hash", "magnet:?xt=urn:btih:abcd"},
		{"bad hex", "magnet:?xt=urn:btih:" + "g" + hashHex[1:]},
		{"bad base32", "magnet:?xt=urn:btih:" + "1" + hashBase32[1:]},
		{"conflicting hashes", "magnet:?xt=urn:btih:" + hashHex + "&xt=urn:btih:" + "0" + hashHex[1:]},
		{"bad escape", "magnet:?xt=urn:btih:" + hashHex + "&dn=%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := ParseMagnet(tt.in); !errors.Is(err, ErrInvalidMagnet) {
				t.Fatalf("ParseMagnet(%q) = %+v, %v; want ErrInvalidMagnet", tt.in, m, err)
			}
		})
	}
}

func TestMagnetString(t *testing.T) {
	h := mustHash(t, hashHex)
	tests := []struct {
		m    Magnet
		want string
	}{
		{Magnet{InfoHash: h}, "magnet:?xt=urn:btih:" + hashHex},
		{
			Magnet{InfoHash: h, DisplayName: "a b+c&d", Trackers: []string{"http://t/a?x=1", "udp://u:1"}, Peers: []string{"[::1]:7"}},
			"magnet:?xt=urn:btih:" + hashHex + "&dn=a%20b%2Bc%26d&tr=http%3A%2F%2Ft%2Fa%3Fx%3D1&tr=udp%3A%2F%2Fu%3A1&x.pe=%5B%3A%3A1%5D%3A7",
		},
	}
	for _, tt := range tests {
		got := tt.m.String()
		if got != tt.want {
			t.Errorf("String =\n%s\nwant\n%s", got, tt.want)
		}
		back, err := ParseMagnet(got)
		if err != nil || !reflect.DeepEqual(back, tt.m) {
			t.Errorf("round trip of %s = %+v, %v", got, back, err)
		}
	}
}
