package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sampleMessages has one message of every type, with only the fields that
// belong to its type set, as ParseMessage returns them.
func sampleMessages() []Message {
	block := bytes.Repeat([]byte{0xAB}, BlockSize)
	return []Message{
		{KeepAlive: true},
		{Type: Choke},
		{Type: Unchoke},
		{Type: Interested},
		{Type: NotInterested},
		{Type: Have, Index: 5},
		{Type: Bitfield, Bitfield: []byte{0xFF, 0x80}},
		{Type: Bitfield, Bitfield: []byte{}},
		{Type: Request, Index: 1, Begin: 2 * BlockSize, Length: BlockSize},
		{Type: Piece, Index: 1, Begin: 16384, Length: 3, Block: []byte("abc")},
		{Type: Piece, Index: 0xFFFFFFFF, Begin: 0, Length: BlockSize, Block: block},
		{Type: Piece, Index: 2, Begin: 0, Length: 0, Block: []byte{}},
		{Type: Cancel, Index: 1, Begin: 0, Length: BlockSize},
		{Type: Port, Port: 6881},
		{Type: Suggest, Index: 42},
		{Type: HaveAll},
		{Type: HaveNone},
		{Type: Reject, Index: 3, Begin: 4, Length: 5},
		{Type: AllowedFast, Index: 1313},
		{Type: Extended, ExtendedID: 0, ExtendedPayload: []byte("d1:md6:ut_pexi1eee")},
		{Type: Extended, ExtendedID: 3, ExtendedPayload: []byte{}},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("%v: %v", m.Type, err)
		}
		if got := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3]); got != len(b)-4 {
			t.Fatalf("%v: length prefix %d, payload %d bytes", m.Type, got, len(b)-4)
		}
		got, err := ParseMessage(b[4:])
		if err != nil {
			t.Fatalf("%v: parse: %v", m.Type, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%v: round trip\n got %+v\nwant %+v", m.Type, got, m)
		}
	}
}

func TestMessageGolden(t *testing.T) {
	// Written by hand from the message layouts in BEP 3, BEP 5, BEP 6 and BEP 10.
	tests := []struct {
		m   Message
		hex string
	}{
		{Message{KeepAlive: true}, "00000000"},
		{Message{Type: Choke}, "00000001 00"},
		{Message{Type: Unchoke}, "00000001 01"},
		{Message{Type: Interested}, "00000001 02"},
		{Message{Type: NotInterested}, "00000001 03"},
		{Message{Type: Have, Index: 5}, "00000005 04 00000005"},
		{Message{Type: Bitfield, Bitfield: []byte{0xA0}}, "00000002 05 a0"},
		{Message{Type: Request, Index: 1, Begin: 0x4000, Length: 0x4000}, "0000000d 06 00000001 00004000 00004000"},
		{Message{Type: Piece, Index: 1, Begin: 0x4000, Length: 2, Block: []byte{0xDE, 0xAD}}, "0000000b 07 00000001 00004000 dead"},
		{Message{Type: Cancel, Index: 1, Begin: 0x4000, Length: 0x4000}, "0000000d 08 00000001 00004000 00004000"},
		{Message{Type: Port, Port: 6881}, "00000003 09 1ae1"},
		{Message{Type: Suggest, Index: 7}, "00000005 0d 00000007"},
		{Message{Type: HaveAll}, "00000001 0e"},
		{Message{Type: HaveNone}, "00000001 0f"},
		{Message{Type: Reject, Index: 2, Begin: 0, Length: 0x4000}, "0000000d 10 00000002 00000000 00004000"},
		{Message{Type: AllowedFast, Index: 0x0102}, "00000005 11 00000102"},
		{Message{Type: Extended, ExtendedID: 0, ExtendedPayload: []byte("de")}, "00000004 14 00 6465"},
	}
	for _, tt := range tests {
		want, err := hex.DecodeString(strings.ReplaceAll(tt.hex, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		got, err := tt.m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("%v: %v", tt.m.Type, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%v: encoded %x, want %x", tt.m.Type, got, want)
		}
		parsed, err := ParseMessage(want[4:])
		if err != nil {
			t.Fatalf("%v: parse: %v", tt.m.Type, err)
		}
		if !reflect.DeepEqual(parsed, tt.m) {
			t.Errorf("%v: parsed %+v, want %+v", tt.m.Type, parsed, tt.m)
		}
	}
}

func TestEncodeIgnoresForeignFields(t *testing.T) {
	m := Message{Type: Have, Index: 9, Begin: 1, Length: 2, Block: []byte("x"), Port: 3, Bitfield: []byte{1}}
	got, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 0, 0, 5, 4, 0, 0, 0, 9}; !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	// A keep-alive ignores Type and everything else.
	got, _ = Message{KeepAlive: true, Type: Piece, Block: []byte("x")}.Marshal()
	if !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Fatalf("keep-alive encoded as %x", got)
	}
	// Piece's Length is derived from the block, not taken from the field.
	got, _ = Message{Type: Piece, Length: 999, Block: []byte("ab")}.Marshal()
	if want := []byte{0, 0, 0, 11, 7, 0, 0, 0, 0, 0, 0, 0, 0, 'a', 'b'}; !bytes.Equal(got, want) {
		t.Fatalf("piece encoded as %x, want %x", got, want)
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want error
	}{
		{"oversized block", Message{Type: Piece, Block: make([]byte, BlockSize+1)}, ErrMalformed},
		{"oversized bitfield", Message{Type: Bitfield, Bitfield: make([]byte, MaxMessageLength)}, ErrMessageTooLarge},
		{"oversized extended", Message{Type: Extended, ExtendedPayload: make([]byte, MaxMessageLength-1)}, ErrMessageTooLarge},
		{"unknown type", Message{Type: 99}, ErrUnknownMessage},
	}
	for _, tt := range tests {
		b, err := tt.m.AppendBinary([]byte("keep"))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if string(b) != "keep" {
			t.Errorf("%s: appended %q on error", tt.name, b)
		}
	}
	// Largest allowed sizes still encode.
	for _, m := range []Message{
		{Type: Bitfield, Bitfield: make([]byte, MaxMessageLength-1)},
		{Type: Extended, ExtendedPayload: make([]byte, MaxMessageLength-2)},
	} {
		if _, err := m.Marshal(); err != nil {
			t.Errorf("%v at the size limit: %v", m.Type, err)
		}
	}
	var buf bytes.Buffer
	if err := WriteMessage(&buf, Message{Type: 200}); !errors.Is(err, ErrUnknownMessage) || buf.Len() != 0 {
		t.Errorf("WriteMessage(unknown) = %v, wrote %d bytes", err, buf.Len())
	}
}

func TestParseRejectsWrongSizes(t *testing.T) {
	fixed := map[MessageType]int{
		Choke: 1, Unchoke: 1, Interested: 1, NotInterested: 1, HaveAll: 1, HaveNone: 1,
		Have: 5, Suggest: 5, AllowedFast: 5,
		Request: 13, Cancel: 13, Reject: 13,
		Port: 3,
	}
	for typ, n := range fixed {
		for _, size := range []int{n - 1, n + 1, n + 100} {
			if size < 1 {
				continue
			}
			payload := make([]byte, size)
			payload[0] = byte(typ)
			if _, err := ParseMessage(payload); !errors.Is(err, ErrMalformed) {
				t.Errorf("%v with %d-byte payload: err = %v, want ErrMalformed", typ, size, err)
			}
		}
	}
	for _, p := range [][]byte{
		{byte(Piece)},
		{byte(Piece), 0, 0, 0, 1, 0, 0, 0},
		append([]byte{byte(Piece), 0, 0, 0, 0, 0, 0, 0, 0}, make([]byte, BlockSize+1)...),
		{byte(Extended)},
	} {
		if _, err := ParseMessage(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("%v with %d-byte payload: err = %v, want ErrMalformed", MessageType(p[0]), len(p), err)
		}
	}
	if _, err := ParseMessage(make([]byte, MaxMessageLength+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("oversized payload: err = %v, want ErrMessageTooLarge", err)
	}
}

func TestParseUnknownCarriesID(t *testing.T) {
	for _, id := range []byte{10, 11, 12, 0x12, 21, 255} {
		_, err := ParseMessage([]byte{id, 1, 2, 3})
		if !errors.Is(err, ErrUnknownMessage) {
			t.Fatalf("id %d: err = %v, want ErrUnknownMessage", id, err)
		}
		var ue *UnknownMessageError
		if !errors.As(err, &ue) || ue.Type != MessageType(id) {
			t.Fatalf("id %d: err = %#v does not carry the id", id, err)
		}
	}
}

func TestParseAliasesPayload(t *testing.T) {
	payload := []byte{byte(Piece), 0, 0, 0, 0, 0, 0, 0, 0, 'a'}
	m, err := ParseMessage(payload)
	if err != nil {
		t.Fatal(err)
	}
	payload[9] = 'b'
	if string(m.Block) != "b" {
		t.Fatalf("Block does not alias the payload: %q", m.Block)
	}
}
