package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestBitfieldGolden(t *testing.T) {
	// BEP 3: the high bit of the first byte is piece 0.
	have := []bool{true, false, true, false, false, false, false, true, false, true}
	want := []byte{0xA1, 0x40}
	if got := BitfieldFromBools(have); !bytes.Equal(got, want) {
		t.Fatalf("BitfieldFromBools = %x, want %x", got, want)
	}
	got, err := ParseBitfield(want, len(have))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, have) {
		t.Fatalf("ParseBitfield = %v, want %v", got, have)
	}
}

func TestBitfieldRoundTripSizes(t *testing.T) {
	for n := 0; n <= 33; n++ {
		have := make([]bool, n)
		for i := range have {
			have[i] = (i*7+n)%3 == 0
		}
		b := BitfieldFromBools(have)
		if len(b) != BitfieldLen(n) {
			t.Fatalf("n=%d: %d bytes, want %d", n, len(b), BitfieldLen(n))
		}
		got, err := ParseBitfield(b, n)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !reflect.DeepEqual(got, have) {
			t.Fatalf("n=%d: got %v, want %v", n, got, have)
		}
	}
}

func TestParseBitfieldRejects(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		n    int
	}{
		{"too short", []byte{0xFF}, 9},
		{"too long", []byte{0xFF, 0x00}, 8},
		{"empty for one piece", nil, 1},
		{"byte for no pieces", []byte{0}, 0},
		{"last spare bit", []byte{0xFF, 0x81}, 9},
		{"first spare bit", []byte{0x20}, 2},
		{"negative count", nil, -1},
	}
	for _, tt := range tests {
		if _, err := ParseBitfield(tt.b, tt.n); !errors.Is(err, ErrBadBitfield) {
			t.Errorf("%s: err = %v, want ErrBadBitfield", tt.name, err)
		}
	}
	if _, err := ParseBitfield([]byte{0xFF, 0x80}, 9); err != nil {
		t.Errorf("no spare bits set: %v", err)
	}
}
