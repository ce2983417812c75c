package tracker

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
)

func TestReplyGoldenCompact(t *testing.T) {
	r := reply{
		Interval: 30 * time.Second, MinInterval: 15 * time.Second,
		Complete: 1, Incomplete: 2, Compact: true,
		Peers: []Peer{
			{Addr: netip.MustParseAddrPort("10.0.0.1:6881")},
			{Addr: netip.MustParseAddrPort("[2001:db8::1]:6882")},
			{Addr: netip.MustParseAddrPort("192.168.1.255:65535")},
		},
	}
	got, err := r.marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "d8:completei1e10:incompletei2e8:intervali30e12:min intervali15e" +
		"5:peers12:\x0a\x00\x00\x01\x1a\xe1\xc0\xa8\x01\xff\xff\xff" +
		"6:peers618:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe2" +
		"e"
	if string(got) != want {
		t.Fatalf("compact reply\n got %q\nwant %q", got, want)
	}
}

func TestReplyGoldenEmpty(t *testing.T) {
	for _, compact := range []bool{true, false} {
		got, err := reply{Interval: time.Minute, Compact: compact}.marshal()
		if err != nil {
			t.Fatal(err)
		}
		want := "d8:completei0e10:incompletei0e8:intervali60e5:peers0:e"
		if !compact {
			want = "d8:completei0e10:incompletei0e8:intervali60e5:peerslee"
		}
		if string(got) != want {
			t.Errorf("compact=%v: got %q want %q", compact, got, want)
		}
	}
}

func TestReplyRoundTrip(t *testing.T) {
	peers := []Peer{
		{ID: id20("a"), Addr: netip.MustParseAddrPort("1.2.3.4:1")},
		{ID: id20("b"), Addr: netip.MustParseAddrPort("[::1]:2")},
		{ID: id20("c"), Addr: netip.MustParseAddrPort("5.6.7.8:65535")},
	}
	for _, compact := range []bool{true, false} {
		in := reply{Interval: 30 * time.Second, MinInterval: 10 * time.Second, Complete: 3, Incomplete: 4,
			Peers: peers, Compact: compact, Warning: "hi"}
		b, err := in.marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, err := trackerclient.ParseAnnounceResponse(b)
		if err != nil {
			t.Fatalf("compact=%v: %v", compact, err)
		}
		if out.Interval != in.Interval || out.MinInterval != in.MinInterval || out.Complete != 3 ||
			out.Incomplete != 4 || out.WarningMessage != "hi" {
			t.Errorf("compact=%v: fields %+v", compact, out)
		}
		var want []netip.AddrPort
		for _, p := range peers {
			want = append(want, p.Addr)
		}
		slices.SortFunc(want, netip.AddrPort.Compare)
		slices.SortFunc(out.Peers, netip.AddrPort.Compare)
		if !slices.Equal(out.Peers, want) {
			t.Errorf("compact=%v: peers %v want %v", compact, out.Peers, want)
		}
	}
}
