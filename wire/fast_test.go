package wire

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

func TestAllowedFastSetBEP6Vector(t *testing.T) {
	// The example in BEP 6: 1313 pieces, peer 80.4.4.200, info hash 0xaa x 20.
	var infoHash [20]byte
	copy(infoHash[:], bytes.Repeat([]byte{0xAA}, 20))
	ip := netip.MustParseAddr("80.4.4.200")
	if got, want := AllowedFastSet(7, 1313, ip, infoHash), []uint32{1059, 431, 808, 1217, 287, 376, 1188}; !reflect.DeepEqual(got, want) {
		t.Fatalf("k=7: got %v, want %v", got, want)
	}
	if got, want := AllowedFastSet(9, 1313, ip, infoHash), []uint32{1059, 431, 808, 1217, 287, 376, 1188, 353, 508}; !reflect.DeepEqual(got, want) {
		t.Fatalf("k=9: got %v, want %v", got, want)
	}
	// Only the /24 counts, and IPv4-mapped IPv6 is the same address.
	want := AllowedFastSet(9, 1313, ip, infoHash)
	for _, other := range []string{"80.4.4.1", "::ffff:80.4.4.200"} {
		if got := AllowedFastSet(9, 1313, netip.MustParseAddr(other), infoHash); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", other, got, want)
		}
	}
	if got := AllowedFastSet(9, 1313, netip.MustParseAddr("80.4.5.200"), infoHash); reflect.DeepEqual(got, want) {
		t.Errorf("a different /24 gave the same set %v", got)
	}
}

func TestAllowedFastSetEdges(t *testing.T) {
	var infoHash [20]byte
	ip := netip.MustParseAddr("10.0.0.1")
	for _, tt := range []struct {
		name    string
		k, n    int
		ip      netip.Addr
		wantLen int
	}{
		{"k above piece count is capped", 10, 3, ip, 3},
		{"single piece", 5, 1, ip, 1},
		{"no pieces", 10, 0, ip, 0},
		{"zero k", 0, 100, ip, 0},
		{"ipv6 undefined", 10, 100, netip.MustParseAddr("2001:db8::1"), 0},
		{"invalid addr", 10, 100, netip.Addr{}, 0},
	} {
		got := AllowedFastSet(tt.k, tt.n, tt.ip, infoHash)
		if len(got) != tt.wantLen {
			t.Errorf("%s: got %v, want %d pieces", tt.name, got, tt.wantLen)
		}
		seen := map[uint32]bool{}
		for _, p := range got {
			if int(p) >= tt.n || seen[p] {
				t.Errorf("%s: bad or repeated piece %d in %v", tt.name, p, got)
			}
			seen[p] = true
		}
	}
}
