package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// goldenHandshake is written by hand from BEP 3: pstrlen 19, "BitTorrent
// protocol", reserved bytes with the BEP 10 bit (byte 5, 0x10) and the BEP 6
// bit (byte 7, 0x04), info hash 0x01..0x14, peer id "-SH0001-" + 12 x 'a'.
var goldenHandshake = []byte("\x13BitTorrent protocol" +
	"\x00\x00\x00\x00\x00\x10\x00\x04" +
	"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14" +
	"-SH0001-aaaaaaaaaaaa")

func goldenHandshakeValue() Handshake {
	h := Handshake{Reserved: DefaultReserved()}
	for i := range h.InfoHash {
		h.InfoHash[i] = byte(i + 1)
	}
	copy(h.PeerID[:], "-SH0001-aaaaaaaaaaaa")
	return h
}

func TestHandshakeGolden(t *testing.T) {
	h := goldenHandshakeValue()
	if got := h.Marshal(); !bytes.Equal(got, goldenHandshake) {
		t.Fatalf("Marshal:\n got %x\nwant %x", got, goldenHandshake)
	}
	if got := h.AppendBinary([]byte("x")); !bytes.Equal(got, append([]byte("x"), goldenHandshake...)) {
		t.Fatalf("AppendBinary did not append: %x", got)
	}
	got, err := ParseHandshake(goldenHandshake)
	if err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Fatalf("ParseHandshake = %+v, want %+v", got, h)
	}
	if !got.SupportsFast() || !got.SupportsExtended() || got.SupportsDHT() {
		t.Fatalf("feature bits: fast=%v ext=%v dht=%v, want true true false", got.SupportsFast(), got.SupportsExtended(), got.SupportsDHT())
	}
}

func TestHandshakeFeatureBits(t *testing.T) {
	tests := []struct {
		name          string
		byte5, byte7  byte
		fast, ext, dh bool
	}{
		{"none", 0, 0, false, false, false},
		{"dht", 0, 0x01, false, false, true},
		{"fast", 0, 0x04, true, false, false},
		{"extended", 0x10, 0, false, true, false},
		{"all", 0xFF, 0xFF, true, true, true},
		{"other bits only", 0xEF, 0xFA, false, false, false},
	}
	for _, tt := range tests {
		var h Handshake
		h.Reserved[5], h.Reserved[7] = tt.byte5, tt.byte7
		if h.SupportsFast() != tt.fast || h.SupportsExtended() != tt.ext || h.SupportsDHT() != tt.dh {
			t.Errorf("%s: fast=%v ext=%v dht=%v, want %v %v %v", tt.name,
				h.SupportsFast(), h.SupportsExtended(), h.SupportsDHT(), tt.fast, tt.ext, tt.dh)
		}
	}
}

func TestParseHandshakeRejects(t *testing.T) {
	bad := func(mut func(b []byte) []byte) []byte {
		return mut(bytes.Clone(goldenHandshake))
	}
	tests := map[string][]byte{
		"empty":         nil,
		"short":         goldenHandshake[:67],
		"long":          append(bytes.Clone(goldenHandshake), 0),
		"pstrlen":       bad(func(b []byte) []byte { b[0] = 18; return b }),
		"pstr":          bad(func(b []byte) []byte { b[1] = 'b'; return b }),
		"http request":  []byte(strings.Repeat("GET / HTTP/1.1\r\n", 5)[:68]),
		"all zero":      make([]byte, 68),
		"pstr last chr": bad(func(b []byte) []byte { b[19] = 'L'; return b }),
	}
	for name, b := range tests {
		if _, err := ParseHandshake(b); !errors.Is(err, ErrBadHandshake) {
			t.Errorf("%s: err = %v, want ErrBadHandshake", name, err)
		}
	}
}

func TestReadHandshake(t *testing.T) {
	rest := []byte("next")
	r := bytes.NewReader(append(bytes.Clone(goldenHandshake), rest...))
	h, err := ReadHandshake(r)
	if err != nil {
		t.Fatal(err)
	}
	if h != goldenHandshakeValue() {
		t.Fatalf("got %+v", h)
	}
	if left, _ := io.ReadAll(r); !bytes.Equal(left, rest) {
		t.Fatalf("ReadHandshake consumed too much: left %q", left)
	}

	_, err = ReadHandshake(bytes.NewReader(goldenHandshake[:50]))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated: err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReadHandshakeInTwoSteps(t *testing.T) {
	r := bytes.NewReader(goldenHandshake)
	reserved, infoHash, err := ReadHandshakeStart(r)
	if err != nil {
		t.Fatal(err)
	}
	want := goldenHandshakeValue()
	if reserved != want.Reserved || infoHash != want.InfoHash {
		t.Fatalf("start = %x %x, want %x %x", reserved, infoHash, want.Reserved, want.InfoHash)
	}
	if r.Len() != 20 {
		t.Fatalf("ReadHandshakeStart left %d bytes, want 20", r.Len())
	}
	id, err := ReadPeerID(r)
	if err != nil {
		t.Fatal(err)
	}
	if id != want.PeerID {
		t.Fatalf("peer id = %q, want %q", id, want.PeerID)
	}

	bad := bytes.Clone(goldenHandshake)
	bad[5] = 'x'
	if _, _, err := ReadHandshakeStart(bytes.NewReader(bad)); !errors.Is(err, ErrBadHandshake) {
		t.Fatalf("bad pstr: err = %v, want ErrBadHandshake", err)
	}
	if _, err := ReadPeerID(bytes.NewReader(make([]byte, 19))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short peer id: err = %v", err)
	}
}
