package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
)

// Every parser's fuzz target checks that it never panics and that whatever
// it accepts re-encodes to exactly the input (or, for the extended
// handshake, to a fixed point). Seed corpora live in testdata/fuzz.

func FuzzParseMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		if b, _ := m.Marshal(); len(b) < 1024 { // big seeds slow the fuzzer down
			f.Add(b[4:])
		}
	}
	f.Add([]byte{byte(Piece), 0, 0, 0})
	f.Add([]byte{0x42})
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := ParseMessage(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownMessage) && !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		b, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("parsed %+v but cannot encode it: %v", m, err)
		}
		if binary.BigEndian.Uint32(b) != uint32(len(payload)) || !bytes.Equal(b[4:], payload) {
			t.Fatalf("re-encoded %x, input %x", b, payload)
		}
	})
}

func FuzzReadMessage(f *testing.F) {
	f.Add(encodeAll(f, sampleMessages()[:10]), uint32(0))
	f.Add(encodeAll(f, []Message{{Type: Have, Index: 1}, {KeepAlive: true}, {Type: Piece, Block: []byte("x")}}), uint32(20))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3}, uint32(0))
	f.Add([]byte{0, 0, 0, 5, 4, 0}, uint32(0))
	f.Fuzz(func(t *testing.T, stream []byte, maxLen uint32) {
		limit := maxLen
		if limit == 0 || limit > MaxMessageLength {
			limit = MaxMessageLength
		}
		r := NewReader(bytes.NewReader(stream), maxLen)
		// into reads the same stream with ReadMessageInto: it must agree.
		into := NewReader(bytes.NewReader(stream), maxLen)
		block := make([]byte, BlockSize)
		var again []byte
		for {
			m, err := r.ReadMessage()
			m2, err2 := into.ReadMessageInto(block)
			if (err == nil) != (err2 == nil) || (err == nil && !reflect.DeepEqual(cloneMessage(m), cloneMessage(m2))) {
				t.Fatalf("ReadMessage gave %+v, %v; ReadMessageInto %+v, %v", m, err, m2, err2)
			}
			if err == io.EOF {
				if !bytes.Equal(again, stream) {
					t.Fatalf("messages re-encode to %x, stream was %x", again, stream)
				}
				return
			}
			if err != nil {
				if !bytes.HasPrefix(stream, again) {
					t.Fatalf("messages before the error re-encode to %x, not a prefix of %x", again, stream)
				}
				return
			}
			before := len(again)
			if again, err = m.AppendBinary(again); err != nil {
				t.Fatalf("read %+v but cannot encode it: %v", m, err)
			}
			if uint32(len(again)-before-4) > limit {
				t.Fatalf("read a %d-byte message past the %d limit", len(again)-before-4, limit)
			}
		}
	})
}

func FuzzParseHandshake(f *testing.F) {
	f.Add(goldenHandshake)
	f.Add(Handshake{}.Marshal())
	f.Add(goldenHandshake[:48])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHandshake(b)
		if err != nil {
			if !errors.Is(err, ErrBadHandshake) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if got := h.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, input %x", got, b)
		}
		reserved, infoHash, err := ReadHandshakeStart(bytes.NewReader(b))
		if err != nil || reserved != h.Reserved || infoHash != h.InfoHash {
			t.Fatalf("ReadHandshakeStart disagrees with ParseHandshake: %x %x %v", reserved, infoHash, err)
		}
	})
}

func FuzzParseExtendedHandshake(f *testing.F) {
	f.Add([]byte("d1:md11:ut_metadatai2e6:ut_pexi1ee1:pi6881e1:v1:Se"))
	f.Add([]byte("d1:md1:ai1e1:b3:stre4:reqq3:abc1:vi5e6:yourip4:abcde"))
	f.Add([]byte("d13:metadata_sizei-5e1:pi70000ee"))
	f.Add([]byte("le"))
	f.Add([]byte("d1:xlllleeeee"))
	f.Add([]byte("d1:mde4:reqqi8e10:shoal_zone9:dc1/rack2e"))
	f.Add([]byte("d1:mde10:shoal_zone4:a//be"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseExtendedHandshake(b)
		if err != nil {
			if !errors.Is(err, ErrBadExtendedHandshake) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		out, err := e.Marshal()
		if err != nil {
			t.Fatalf("parsed %+v but cannot marshal it: %v", e, err)
		}
		again, err := ParseExtendedHandshake(out)
		if err != nil {
			t.Fatalf("cannot parse own encoding %q: %v", out, err)
		}
		if e.M == nil {
			e.M = map[string]int{}
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("not a fixed point:\n first %+v\nsecond %+v", e, again)
		}
	})
}

func FuzzParseBitfield(f *testing.F) {
	f.Add([]byte{0xA1, 0x40}, 10)
	f.Add([]byte{0xFF, 0x81}, 9)
	f.Add([]byte{}, 0)
	f.Add([]byte{0xFF}, -1)
	f.Fuzz(func(t *testing.T, b []byte, numPieces int) {
		have, err := ParseBitfield(b, numPieces)
		if err != nil {
			if !errors.Is(err, ErrBadBitfield) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(have) != numPieces {
			t.Fatalf("%d pieces, want %d", len(have), numPieces)
		}
		if got := BitfieldFromBools(have); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, input %x", got, b)
		}
	})
}
