package dht

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func idOf(s string) ID {
	var id ID
	copy(id[:], s)
	return id
}

// The example packets of BEP 5, byte for byte.
var goldenPackets = []struct {
	name string
	wire string
	msg  Msg
}{
	{"ping query", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
		Msg{T: "aa", Y: "q", Q: "ping", A: Args{ID: idOf("abcdefghij0123456789")}}},
	{"ping response", "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
		Msg{T: "aa", Y: "r", R: Return{ID: idOf("mnopqrstuvwxyz123456")}}},
	{"error", "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
		Msg{T: "aa", Y: "e", E: Error{Code: 201, Message: "A Generic Error Ocurred"}}},
	{"find_node query", "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
		Msg{T: "aa", Y: "q", Q: "find_node", A: Args{ID: idOf("abcdefghij0123456789"), Target: idOf("mnopqrstuvwxyz123456")}}},
	{"find_node response", "d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re",
		Msg{T: "aa", Y: "r", R: Return{ID: idOf("0123456789abcdefghij"), Nodes: []byte("def456...")}}},
	{"get_peers query", "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
		Msg{T: "aa", Y: "q", Q: "get_peers", A: Args{ID: idOf("abcdefghij0123456789"), InfoHash: idOf("mnopqrstuvwxyz123456")}}},
	{"get_peers response with peers", "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
		Msg{T: "aa", Y: "r", R: Return{ID: idOf("abcdefghij0123456789"), Token: "aoeusnth", Values: []netip.AddrPort{
			netip.MustParseAddrPort("97.120.106.101:11893"), netip.MustParseAddrPort("105.100.104.116:28269")}}}},
	{"get_peers response with nodes", "d1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re",
		Msg{T: "aa", Y: "r", R: Return{ID: idOf("abcdefghij0123456789"), Nodes: []byte("def456..."), Token: "aoeusnth"}}},
	{"announce_peer query", "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
		Msg{T: "aa", Y: "q", Q: "announce_peer", A: Args{ID: idOf("abcdefghij0123456789"), InfoHash: idOf("mnopqrstuvwxyz123456"), Port: 6881, ImpliedPort: true, Token: "aoeusnth"}}},
	{"announce_peer query without implied_port", "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
		Msg{T: "aa", Y: "q", Q: "announce_peer", A: Args{ID: idOf("abcdefghij0123456789"), InfoHash: idOf("mnopqrstuvwxyz123456"), Port: 6881, Token: "aoeusnth"}}},
	{"announce_peer response", "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
		Msg{T: "aa", Y: "r", R: Return{ID: idOf("mnopqrstuvwxyz123456")}}},
	{"read-only query (BEP 43)", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:y1:qe",
		Msg{T: "aa", Y: "q", Q: "ping", RO: true, A: Args{ID: idOf("abcdefghij0123456789")}}},
}

func TestGoldenPackets(t *testing.T) {
	for _, g := range goldenPackets {
		t.Run(g.name, func(t *testing.T) {
			got, err := ParseMessage([]byte(g.wire))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(got, g.msg) {
				t.Fatalf("parse:\n got %+v\nwant %+v", got, g.msg)
			}
			b, err := g.msg.Marshal()
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if string(b) != g.wire {
				t.Fatalf("marshal:\n got %s\nwant %s", b, g.wire)
			}
		})
	}
}

func TestGoldenNodesNotCompact(t *testing.T) {
	// BEP 5's example "nodes" value is a placeholder, not 26-byte records.
	if _, err := DecodeNodes([]byte("def456...")); !errors.Is(err, ErrCompactLength) {
		t.Fatalf("DecodeNodes(placeholder) err = %v, want ErrCompactLength", err)
	}
}

func TestParseMessageRejects(t *testing.T) {
	cases := map[string]string{
		"empty":            "",
		"not a dict":       "li1ee",
		"no t":             "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe",
		"short id":         "d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe",
		"bad type":         "d1:t2:aa1:y1:xe",
		"no args":          "d1:q4:ping1:t2:aa1:y1:qe",
		"int t":            "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:ti1e1:y1:qe",
		"trailing":         "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:ree",
		"short target":     "d1:ad2:id20:abcdefghij01234567896:target2:mne1:q9:find_node1:t2:aa1:y1:qe",
		"error one elem":   "d1:eli201ee1:t2:aa1:y1:ee",
		"error wrong type": "d1:el3:abc3:defe1:t2:aa1:y1:ee",
		"deep":             "d1:rd2:id20:mnopqrstuvwxyz1234566:valuesllll1:aeeeeee1:t2:aa1:y1:re",
		"huge string len":  "d1:t99999999:aa1:y1:re",
		"bad port":         "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe",
	}
	for name, in := range cases {
		if _, err := ParseMessage([]byte(in)); err == nil {
			t.Errorf("%s: ParseMessage(%q) succeeded", name, in)
		}
	}
	big := "d1:t2:aa1:v3000:" + strings.Repeat("x", 3000) + "1:y1:re"
	if _, err := ParseMessage([]byte(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized packet err = %v, want ErrTooLarge", err)
	}
}

func TestCompactNodesRoundTrip(t *testing.T) {
	in := []NodeInfo{
		{ID: idOf("aaaaaaaaaaaaaaaaaaaa"), Addr: netip.MustParseAddrPort("1.2.3.4:6881")},
		{ID: idOf("bbbbbbbbbbbbbbbbbbbb"), Addr: netip.MustParseAddrPort("[::ffff:10.0.0.1]:1")},
		{ID: idOf("cccccccccccccccccccc"), Addr: netip.MustParseAddrPort("[2001:db8::1]:1")},
	}
	b := EncodeNodes(in)
	if len(b) != 2*CompactNodeLen {
		t.Fatalf("encoded %d bytes, want %d (IPv6 dropped)", len(b), 2*CompactNodeLen)
	}
	out, err := DecodeNodes(b)
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != in[0] || out[1].Addr != netip.MustParseAddrPort("10.0.0.1:1") || out[1].ID != in[1].ID {
		t.Fatalf("round trip = %v", out)
	}
}
