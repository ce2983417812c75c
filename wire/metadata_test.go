package wire

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// metadataPiece returns n bytes of a recognisable pattern.
func metadataPiece(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// Golden vectors written from the BEP 9 text: its request, data and reject
// examples (the data example's total_size 34256 gives three pieces, the last
// one 34256-2*16384 = 1488 bytes).
func TestMetadataGolden(t *testing.T) {
	last := metadataPiece(1488)
	first := metadataPiece(MetadataPieceSize)
	tests := []struct {
		name string
		wire string
		msg  MetadataMessage
	}{
		{"request", "d8:msg_typei0e5:piecei0ee", MetadataMessage{Type: MetadataRequest, Piece: 0}},
		{"request piece 3", "d8:msg_typei0e5:piecei3ee", MetadataMessage{Type: MetadataRequest, Piece: 3}},
		{"reject", "d8:msg_typei2e5:piecei0ee", MetadataMessage{Type: MetadataReject, Piece: 0}},
		{"data first piece", "d8:msg_typei1e5:piecei0e10:total_sizei34256ee" + string(first),
			MetadataMessage{Type: MetadataData, Piece: 0, TotalSize: 34256, Data: first}},
		{"data last piece", "d8:msg_typei1e5:piecei2e10:total_sizei34256ee" + string(last),
			MetadataMessage{Type: MetadataData, Piece: 2, TotalSize: 34256, Data: last}},
		{"data single short piece", "d8:msg_typei1e5:piecei0e10:total_sizei5eehello",
			MetadataMessage{Type: MetadataData, Piece: 0, TotalSize: 5, Data: []byte("hello")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.msg.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != tt.wire {
				t.Fatalf("Marshal = %.80q, want %.80q", got, tt.wire)
			}
			m, err := ParseMetadataMessage([]byte(tt.wire))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(m, tt.msg) {
				t.Fatalf("Parse = %+v, want %+v", m, tt.msg)
			}
		})
	}
}

// The trailing data of a data message may itself look like bencode; the
// parser must split at the end of the dictionary, not at the end of what
// could be decoded.
func TestMetadataDataThatLooksLikeBencode(t *testing.T) {
	for _, data := range []string{"e", "ee", "d1:ai1ee", "i5e", "4:spam", "d8:msg_typei0ee"} {
		b := "d8:msg_typei1e5:piecei0e10:total_sizei" + strconv.Itoa(len(data)) + "ee" + data
		m, err := ParseMetadataMessage([]byte(b))
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if string(m.Data) != data || m.TotalSize != len(data) {
			t.Fatalf("%q: got data %q total %d", b, m.Data, m.TotalSize)
		}
	}
}

func TestMetadataToleratesUnknownKeys(t *testing.T) {
	// Unknown keys, including a total_size on a request as some clients
	// send, are ignored.
	m, err := ParseMetadataMessage([]byte("d1:xli1ee8:msg_typei0e5:piecei7e10:total_sizei99ee"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (MetadataMessage{Type: MetadataRequest, Piece: 7}); !reflect.DeepEqual(m, want) {
		t.Fatalf("got %+v, want %+v", m, want)
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	msgs := []MetadataMessage{
		{Type: MetadataRequest, Piece: 0},
		{Type: MetadataRequest, Piece: MetadataPieces(MaxMetadataSize) - 1},
		{Type: MetadataReject, Piece: 41},
		{Type: MetadataData, Piece: 0, TotalSize: 1, Data: []byte{0}},
		{Type: MetadataData, Piece: 1, TotalSize: 2 * MetadataPieceSize, Data: metadataPiece(MetadataPieceSize)},
		{Type: MetadataData, Piece: 1023, TotalSize: MaxMetadataSize, Data: metadataPiece(MetadataPieceSize)},
	}
	for _, m := range msgs {
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("%v piece %d: Marshal: %v", m.Type, m.Piece, err)
		}
		got, err := ParseMetadataMessage(b)
		if err != nil {
			t.Fatalf("%v piece %d: Parse: %v", m.Type, m.Piece, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip: got %+v, want %+v", got, m)
		}
	}
}

func TestMetadataPieces(t *testing.T) {
	for _, tt := range []struct{ size, want int }{
		{-1, 0}, {0, 0}, {1, 1}, {MetadataPieceSize - 1, 1}, {MetadataPieceSize, 1},
		{MetadataPieceSize + 1, 2}, {34256, 3}, {MaxMetadataSize, 1024},
	} {
		if got := MetadataPieces(tt.size); got != tt.want {
			t.Errorf("MetadataPieces(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}

func TestMetadataRejects(t *testing.T) {
	full := string(metadataPiece(MetadataPieceSize))
	tests := []struct {
		name    string
		in      string
		unknown bool // wraps ErrUnknownMessage rather than ErrBadMetadataMessage
	}{
		{"empty", "", false},
		{"not a dict", "le", false},
		{"integer", "i0e", false},
		{"string", "3:abc", false},
		{"empty dict", "de", false},
		{"truncated dict", "d8:msg_typei0e5:piecei0e", false},
		{"missing msg_type", "d5:piecei0ee", false},
		{"missing piece", "d8:msg_typei0ee", false},
		{"string msg_type", "d8:msg_type1:05:piecei0ee", false},
		{"negative piece", "d8:msg_typei0e5:piecei-1ee", false},
		{"piece beyond max size", "d8:msg_typei0e5:piecei1024ee", false},
		{"huge piece", "d8:msg_typei0e5:piecei99999999999999999999999ee", false},
		{"request with trailing bytes", "d8:msg_typei0e5:piecei0eex", false},
		{"reject with trailing bytes", "d8:msg_typei2e5:piecei0ee\x00", false},
		{"data without total_size", "d8:msg_typei1e5:piecei0eeabc", false},
		{"data with zero total_size", "d8:msg_typei1e5:piecei0e10:total_sizei0ee", false},
		{"data with negative total_size", "d8:msg_typei1e5:piecei0e10:total_sizei-3eeabc", false},
		{"total_size too large", "d8:msg_typei1e5:piecei0e10:total_sizei16777217ee" + full, false},
		{"piece past total_size", "d8:msg_typei1e5:piecei1e10:total_sizei5eehello", false},
		{"short middle piece", "d8:msg_typei1e5:piecei0e10:total_sizei34256ee" + full[:100], false},
		{"long last piece", "d8:msg_typei1e5:piecei0e10:total_sizei5eehello!", false},
		{"data longer than a piece", "d8:msg_typei1e5:piecei0e10:total_sizei34256ee" + full + "x", false},
		{"deep nesting", "d1:x" + strings.Repeat("l", 50) + strings.Repeat("e", 50) + "8:msg_typei0e5:piecei0ee", false},
		{"dict too long", "d1:x1000:" + strings.Repeat("a", 1000) + "8:msg_typei0e5:piecei0ee", false},
		{"too large", "d8:msg_typei1e5:piecei0e10:total_sizei34256ee" + strings.Repeat(full, 2), false},
		{"unknown msg_type", "d8:msg_typei3e5:piecei0ee", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMetadataMessage([]byte(tt.in))
			if err == nil {
				t.Fatalf("accepted as %+v", m)
			}
			want := ErrBadMetadataMessage
			if tt.unknown {
				want = ErrUnknownMessage
			}
			if !errors.Is(err, want) {
				t.Fatalf("error %v does not wrap %v", err, want)
			}
		})
	}
}

func TestMetadataMarshalRejects(t *testing.T) {
	for _, m := range []MetadataMessage{
		{Type: MetadataRequest, Piece: -1},
		{Type: MetadataRequest, Piece: 1024},
		{Type: MetadataRequest, Piece: 0, Data: []byte("x")},
		{Type: MetadataReject, Piece: 0, TotalSize: 3},
		{Type: MetadataData, Piece: 0, TotalSize: 0},
		{Type: MetadataData, Piece: 0, TotalSize: MaxMetadataSize + 1, Data: metadataPiece(MetadataPieceSize)},
		{Type: MetadataData, Piece: 0, TotalSize: 5, Data: []byte("hi")},
		{Type: MetadataData, Piece: 1, TotalSize: 5, Data: []byte("hello")},
		{Type: 7, Piece: 0},
	} {
		if b, err := m.Marshal(); err == nil {
			t.Errorf("Marshal(%+v) = %.40q, want an error", m, b)
		}
	}
}

// FuzzParseMetadataMessage checks that the parser never panics, returns only
// its documented error kinds, and that whatever it accepts marshals to a
// canonical form that parses back to the same message, with Data the tail of
// the input.
func FuzzParseMetadataMessage(f *testing.F) {
	f.Add([]byte("d8:msg_typei0e5:piecei0ee"))
	f.Add([]byte("d8:msg_typei2e5:piecei3ee"))
	f.Add([]byte("d8:msg_typei1e5:piecei0e10:total_sizei5eehello"))
	f.Add([]byte("d8:msg_typei1e5:piecei0e10:total_sizei3eed1:ae"))
	f.Add([]byte("d1:xli1ee8:msg_typei0e5:piecei7e10:total_sizei99ee"))
	f.Add([]byte("d8:msg_typei9e5:piecei0ee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetadataMessage(b)
		if err != nil {
			if !errors.Is(err, ErrBadMetadataMessage) && !errors.Is(err, ErrUnknownMessage) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if !bytes.HasSuffix(b, m.Data) {
			t.Fatalf("data %q is not the tail of the input %q", m.Data, b)
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("parsed %+v but cannot marshal it: %v", m, err)
		}
		again, err := ParseMetadataMessage(out)
		if err != nil {
			t.Fatalf("cannot parse own encoding %q: %v", out, err)
		}
		if again.Type != m.Type || again.Piece != m.Piece || again.TotalSize != m.TotalSize || !bytes.Equal(again.Data, m.Data) {
			t.Fatalf("not a fixed point:\n first %+v\nsecond %+v", m, again)
		}
	})
}
