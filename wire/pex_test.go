package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// goldenPEX is written by hand from BEP 11: compact IPv4 (4+2 bytes) and
// IPv6 (16+2 bytes) peers, one flag byte per added peer, keys sorted.
const goldenPEX = "d" +
	"5:added12:\x01\x02\x03\x04\x1a\xe1\x0a\x00\x00\x01\x00\x50" +
	"7:added.f2:\x12\x01" +
	"6:added618:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\xc8\xd5" +
	"8:added6.f1:\x04" +
	"7:dropped6:\x05\x06\x07\x08\x01\xbb" +
	"8:dropped60:" +
	"e"

var goldenPEXMessage = PEXMessage{
	Added: []PEXPeer{
		{Addr: ap("1.2.3.4:6881"), Flags: PEXSeed | PEXReachable},
		{Addr: ap("10.0.0.1:80"), Flags: PEXPrefersEncryption},
		{Addr: ap("[2001:db8::1]:51413"), Flags: PEXSupportsUTP},
	},
	Dropped: []netip.AddrPort{ap("5.6.7.8:443")},
}

func TestPEXGolden(t *testing.T) {
	got, err := goldenPEXMessage.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != goldenPEX {
		t.Fatalf("Marshal = %q\n     want %q", got, goldenPEX)
	}
	m, err := ParsePEXMessage([]byte(goldenPEX))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, goldenPEXMessage) {
		t.Fatalf("Parse = %+v\n   want %+v", m, goldenPEXMessage)
	}
}

func TestPEXFlagValues(t *testing.T) {
	// BEP 11's flag table.
	got := []PEXFlags{PEXPrefersEncryption, PEXSeed, PEXSupportsUTP, PEXSupportsHolepunch, PEXReachable}
	want := []PEXFlags{0x01, 0x02, 0x04, 0x08, 0x10}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("flags %v, want %v", got, want)
	}
}

func TestPEXRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		in, want PEXMessage
	}{
		{"empty", PEXMessage{}, PEXMessage{}},
		{"golden", goldenPEXMessage, goldenPEXMessage},
		{"dropped both families",
			PEXMessage{Dropped: []netip.AddrPort{ap("[::1]:1"), ap("9.9.9.9:65535")}},
			// IPv4 comes back first: the families travel in separate keys.
			PEXMessage{Dropped: []netip.AddrPort{ap("9.9.9.9:65535"), ap("[::1]:1")}}},
		{"4in6 sent as IPv4",
			PEXMessage{Added: []PEXPeer{{Addr: ap("[::ffff:1.2.3.4]:7"), Flags: 0xFF}}},
			PEXMessage{Added: []PEXPeer{{Addr: ap("1.2.3.4:7"), Flags: 0xFF}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.in.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParsePEXMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPEXEmptyHasAllKeys(t *testing.T) {
	b, err := PEXMessage{}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := "d5:added0:7:added.f0:6:added60:8:added6.f0:7:dropped0:8:dropped60:e"; string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
}

// compact4 returns n distinct compact IPv4 entries.
func compact4(n int) string {
	var b []byte
	for i := range n {
		b = append(b, 10, 1, byte(i>>8), byte(i))
		b = binary.BigEndian.AppendUint16(b, 1000)
	}
	return string(b)
}

func bstr(s string) string { return strconv.Itoa(len(s)) + ":" + s }

func TestPEXTolerates(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want PEXMessage
	}{
		{"empty dict", "de", PEXMessage{}},
		{"only dropped", "d7:dropped6:\x05\x06\x07\x08\x01\xbbe",
			PEXMessage{Dropped: []netip.AddrPort{ap("5.6.7.8:443")}}},
		{"missing flags", "d5:added6:\x01\x02\x03\x04\x00\x01e",
			PEXMessage{Added: []PEXPeer{{Addr: ap("1.2.3.4:1")}}}},
		{"short flags", "d5:added12:\x01\x02\x03\x04\x00\x01\x05\x06\x07\x08\x00\x027:added.f1:\x02e",
			PEXMessage{Added: []PEXPeer{{Addr: ap("1.2.3.4:1"), Flags: PEXSeed}, {Addr: ap("5.6.7.8:2")}}}},
		{"long flags", "d5:added6:\x01\x02\x03\x04\x00\x017:added.f3:\x10\x11\x12e",
			PEXMessage{Added: []PEXPeer{{Addr: ap("1.2.3.4:1"), Flags: PEXReachable}}}},
		{"partial trailing entry", "d5:added9:\x01\x02\x03\x04\x00\x01\x05\x06\x07e",
			PEXMessage{Added: []PEXPeer{{Addr: ap("1.2.3.4:1")}}}},
		{"port 0 and unspecified skipped, flags stay aligned",
			"d5:added18:\x01\x02\x03\x04\x00\x00\x00\x00\x00\x00\x00\x01\x05\x06\x07\x08\x00\x037:added.f3:\x01\x02\x04e",
			PEXMessage{Added: []PEXPeer{{Addr: ap("5.6.7.8:3"), Flags: PEXSupportsUTP}}}},
		{"4in6 in added6", "d6:added618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04\x00\x09e",
			PEXMessage{Added: []PEXPeer{{Addr: ap("1.2.3.4:9")}}}},
		{"wrong types ignored", "d5:addedi5e7:added.fle7:droppedd1:ai1ee8:dropped6i0e1:x3:abce", PEXMessage{}},
		{"IPv4-sized entries in added6 are not IPv4", "d6:added66:\x01\x02\x03\x04\x00\x01e", PEXMessage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePEXMessage([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPEXBoundsExcessPeers(t *testing.T) {
	const n = MaxPEXPeers + 100
	list := compact4(n)
	in := "d5:added" + bstr(list) + "7:added.f" + bstr(strings.Repeat("\x02", n)) + "7:dropped" + bstr(list) + "e"
	m, err := ParsePEXMessage([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Added) != MaxPEXPeers || len(m.Dropped) != MaxPEXPeers {
		t.Fatalf("kept %d added, %d dropped; want %d each", len(m.Added), len(m.Dropped), MaxPEXPeers)
	}
	// The first ones are kept, in order.
	if m.Added[MaxPEXPeers-1].Addr != ap("10.1.0.199:1000") || m.Dropped[0] != ap("10.1.0.0:1000") {
		t.Fatalf("kept the wrong peers: last added %v, first dropped %v", m.Added[MaxPEXPeers-1].Addr, m.Dropped[0])
	}
}

func TestPEXRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"le",
		"i1e",
		"0:",
		"3:abc",
		"d5:added",
		"dee",
		"dex",
		"d1:x" + strings.Repeat("l", 10) + strings.Repeat("e", 10) + "e",
		"d1:x" + bstr(strings.Repeat("a", MaxPEXMessageLen)) + "e",
	} {
		m, err := ParsePEXMessage([]byte(in))
		if err == nil {
			t.Errorf("%.40q accepted as %+v", in, m)
			continue
		}
		if !errors.Is(err, ErrBadPEXMessage) {
			t.Errorf("%.40q: error %v does not wrap ErrBadPEXMessage", in, err)
		}
	}
}

func TestPEXMarshalRejects(t *testing.T) {
	many := make([]PEXPeer, MaxPEXPeers+1)
	for i := range many {
		many[i] = PEXPeer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1)}
	}
	for _, m := range []PEXMessage{
		{Added: []PEXPeer{{}}},
		{Added: []PEXPeer{{Addr: ap("1.2.3.4:0")}}},
		{Added: []PEXPeer{{Addr: ap("[::]:5")}}},
		{Added: []PEXPeer{{Addr: ap("[fe80::1%eth0]:5")}}},
		{Dropped: []netip.AddrPort{ap("0.0.0.0:5")}},
		{Added: many},
	} {
		if b, err := m.Marshal(); err == nil {
			t.Errorf("Marshal(%.60v) = %.40q, want an error", m, b)
		}
	}
}

// FuzzParsePEXMessage checks that the parser never panics, returns only
// ErrBadPEXMessage, honours its bounds, and that whatever it accepts
// marshals to bytes that parse to a message marshalling to the same bytes.
func FuzzParsePEXMessage(f *testing.F) {
	f.Add([]byte(goldenPEX))
	f.Add([]byte("d5:added9:\x01\x02\x03\x04\x00\x01\x05\x06\x077:added.f3:\x01\x02\x04e"))
	f.Add([]byte("d6:added618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04\x00\x09e"))
	f.Add([]byte("d5:addedi5e7:added.fle7:droppedd1:ai1ee8:dropped6i0e1:x3:abce"))
	f.Add([]byte("le"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePEXMessage(b)
		if err != nil {
			if !errors.Is(err, ErrBadPEXMessage) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(m.Added) > 2*MaxPEXPeers || len(m.Dropped) > 2*MaxPEXPeers {
			t.Fatalf("kept %d added and %d dropped peers", len(m.Added), len(m.Dropped))
		}
		out, err := m.Marshal()
		if err != nil {
			// Only possible when 4in6 peers of added6 push the IPv4 count
			// past the bound.
			if len(m.Added) <= MaxPEXPeers && len(m.Dropped) <= MaxPEXPeers {
				t.Fatalf("parsed %+v but cannot marshal it: %v", m, err)
			}
			return
		}
		again, err := ParsePEXMessage(out)
		if err != nil {
			t.Fatalf("cannot parse own encoding %q: %v", out, err)
		}
		if len(again.Added) != len(m.Added) || len(again.Dropped) != len(m.Dropped) {
			t.Fatalf("lost peers: %+v became %+v", m, again)
		}
		out2, err := again.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point: %q then %q (%v)", out, out2, err)
		}
	})
}
