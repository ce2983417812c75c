package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-p2p/shoal/zone"
)

func TestExtendedHandshakeRoundTrip(t *testing.T) {
	tests := []ExtendedHandshake{
		{M: map[string]int{}},
		{
			M:            map[string]int{"ut_metadata": 2, "ut_pex": 1, "lt_donthave": 0},
			V:            "Shoal 0.1",
			Reqq:         500,
			Port:         6881,
			YourIP:       []byte{192, 0, 2, 7},
			MetadataSize: 31235,
		},
		{M: map[string]int{"x": 255}, YourIP: make([]byte, 16)},
		{M: map[string]int{}, Zone: "dc1/row4/rack12"},
		{M: map[string]int{}, Zone: strings.Repeat("z", zone.MaxLen)},
	}
	for _, e := range tests {
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseExtendedHandshake(b)
		if err != nil {
			t.Fatalf("parse %q: %v", b, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", b, got, e)
		}
	}
}

func TestExtendedHandshakeGolden(t *testing.T) {
	e := ExtendedHandshake{M: map[string]int{"ut_pex": 1, "ut_metadata": 2}, V: "S", Port: 6881}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Keys sorted as bencode requires (BEP 3); absent fields are omitted.
	const want = "d1:md11:ut_metadatai2e6:ut_pexi1ee1:pi6881e1:v1:Se"
	if string(b) != want {
		t.Fatalf("Marshal = %s, want %s", b, want)
	}
	// A handshake as libtorrent sends it, with keys Shoal does not use.
	in := "d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei5012e4:reqqi500e11:upload_onlyi1e1:v17:qBittorrent/4.5.26:yourip4:\x7f\x00\x00\x01e"
	got, err := ParseExtendedHandshake([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	wantE := ExtendedHandshake{
		M:            map[string]int{"lt_donthave": 7, "share_mode": 8, "upload_only": 3, "ut_holepunch": 4, "ut_metadata": 2, "ut_pex": 1},
		V:            "qBittorrent/4.5.2",
		Reqq:         500,
		YourIP:       []byte{127, 0, 0, 1},
		MetadataSize: 5012,
	}
	if !reflect.DeepEqual(got, wantE) {
		t.Fatalf("got %+v\nwant %+v", got, wantE)
	}
}

func TestExtendedHandshakeToleratesWrongTypes(t *testing.T) {
	in := "d" +
		"1:md1:ai1e1:b3:str1:cli1ee1:di256e1:ei-1e1:fi99999999999999999999999ee" +
		"13:metadata_sizei-5e" +
		"1:pi70000e" +
		"4:reqq3:abc" +
		"1:vi5e" +
		"6:yourip3:abc" +
		"e"
	got, err := ParseExtendedHandshake([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := ExtendedHandshake{M: map[string]int{"a": 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// "m" of the wrong type leaves M nil rather than failing.
	got, err = ParseExtendedHandshake([]byte("d1:m3:abc1:v1:xe"))
	if err != nil || got.M != nil || got.V != "x" {
		t.Fatalf("m as string: %+v, %v", got, err)
	}
}

func TestExtendedHandshakeRejects(t *testing.T) {
	tests := map[string]string{
		"empty":        "",
		"list":         "le",
		"int":          "i1e",
		"string":       "3:abc",
		"unterminated": "d1:md",
		"trailing":     "d1:mdee" + "x",
		"deep":         "d1:x" + strings.Repeat("l", 20) + strings.Repeat("e", 20) + "e",
		"too large":    "d1:x" + "65536:" + strings.Repeat("a", 65536) + "e",
		"garbage":      "\x00\x01\x02",
	}
	for name, in := range tests {
		if _, err := ParseExtendedHandshake([]byte(in)); !errors.Is(err, ErrBadExtendedHandshake) {
			t.Errorf("%s: err = %v, want ErrBadExtendedHandshake", name, err)
		}
	}
}

func TestExtendedHandshakeMarshalRejectsBadID(t *testing.T) {
	for _, id := range []int{-1, 256} {
		if _, err := (ExtendedHandshake{M: map[string]int{"x": id}}).Marshal(); err == nil {
			t.Errorf("id %d: Marshal succeeded", id)
		}
	}
}

func TestParseExtendedHandshakeEmptyDict(t *testing.T) {
	e, err := ParseExtendedHandshake([]byte("de"))
	if err != nil {
		t.Fatalf("empty dictionary: %v", err)
	}
	if e.Reqq != 0 || e.V != "" || len(e.M) != 0 {
		t.Fatalf("empty dictionary gave %+v", e)
	}
	for _, bad := range []string{"le", "i5e", "4:spam"} {
		if _, err := ParseExtendedHandshake([]byte(bad)); err == nil {
			t.Errorf("%q: want an error for a non-dictionary", bad)
		}
	}
}

// TestExtendedHandshakeZone: the zone travels under "shoal_zone"; a label
// that is too long, has a bad character or the wrong type is dropped
// (the rest of the handshake still counts), and Marshal refuses one.
func TestExtendedHandshakeZone(t *testing.T) {
	b, err := ExtendedHandshake{M: map[string]int{}, Reqq: 8, Zone: "dc1/rack2"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := "d1:mde4:reqqi8e10:shoal_zone9:dc1/rack2e"; string(b) != want {
		t.Fatalf("Marshal = %s, want %s", b, want)
	}
	long := strings.Repeat("a", zone.MaxLen+1)
	for _, in := range []string{
		"d1:mde4:reqqi8e10:shoal_zone" + "65:" + long + "e",
		"d1:mde4:reqqi8e10:shoal_zone6:a\x1b[2Jbe",
		"d1:mde4:reqqi8e10:shoal_zone4:a//be",
		"d1:mde4:reqqi8e10:shoal_zonei5ee",
		"d1:mde4:reqqi8e10:shoal_zoneld1:ai1eeee",
	} {
		got, err := ParseExtendedHandshake([]byte(in))
		if err != nil {
			t.Fatalf("parse %q: %v", in, err)
		}
		if want := (ExtendedHandshake{M: map[string]int{}, Reqq: 8}); !reflect.DeepEqual(got, want) {
			t.Errorf("parse %q = %+v, want %+v", in, got, want)
		}
	}
	if _, err := (ExtendedHandshake{Zone: long}).Marshal(); !errors.Is(err, zone.ErrInvalid) {
		t.Errorf("Marshal of a %d-byte zone: %v, want zone.ErrInvalid", len(long), err)
	}
}
