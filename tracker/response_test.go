package tracker

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
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
		out, err := parseAnnounceResponse(b)
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

func TestParseAnnounceResponse(t *testing.T) {
	cases := []struct {
		name, body string
		peers      []string
		err        error
		errHas     string
	}{
		{name: "compact", body: "d8:intervali5e5:peers6:\x01\x02\x03\x04\x00\x50e", peers: []string{"1.2.3.4:80"}},
		{name: "dict peers skip bad entries",
			body:  "d8:intervali5e5:peersld2:ip7:1.2.3.44:porti80eed2:ip9:host.name4:porti1eed2:ip3:::14:porti70000eed2:ip3:::14:porti6eeee",
			peers: []string{"1.2.3.4:80", "[::1]:6"}},
		{name: "peers6 only", body: "d6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x07e", peers: []string{"[::1]:7"}},
		{name: "trailing newline ok", body: "d8:intervali5ee\n"},
		{name: "failure", body: "d14:failure reason6:no waye", err: ErrTrackerFailure, errHas: `failure reason "no way"`},
		{name: "bad compact length", body: "d5:peers5:abcdee", err: ErrBadResponse, errHas: "multiple of 6"},
		{name: "negative interval", body: "d8:intervali-1ee", err: ErrBadResponse},
		{name: "huge interval", body: "d8:intervali99999999999999ee", err: ErrBadResponse},
		{name: "interval wrong type", body: "d8:interval2:30e", err: ErrBadResponse},
		{name: "not a dict", body: "li1ee", err: ErrBadResponse},
		{name: "empty", body: "", err: ErrBadResponse},
		{name: "html", body: "<html>502</html>", err: ErrBadResponse},
		{name: "forged string length", body: "d5:peers999999999:e", err: ErrBadResponse},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseAnnounceResponse([]byte(c.body))
			if c.err != nil {
				if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.errHas) {
					t.Fatalf("err = %v, want %v containing %q", err, c.err, c.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var addrs []string
			for _, p := range got.Peers {
				addrs = append(addrs, p.String())
			}
			if !slices.Equal(addrs, c.peers) {
				t.Fatalf("peers %v want %v", addrs, c.peers)
			}
		})
	}
}

func FuzzParseAnnounceResponse(f *testing.F) {
	f.Add([]byte("d8:intervali30e5:peers6:\x01\x02\x03\x04\x00\x50e"))
	f.Add([]byte("d8:completei1e10:incompletei2e8:intervali30e12:min intervali15e5:peersld2:ip7:1.2.3.47:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti80eee"))
	f.Add([]byte("d14:failure reason6:no waye"))
	f.Add([]byte("d6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x07e"))
	f.Add([]byte("d5:peers5:abcdee"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseAnnounceResponse(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrTrackerFailure) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if r.Interval < 0 || r.MinInterval < 0 || r.Complete < 0 || r.Incomplete < 0 {
			t.Fatalf("negative field %+v", r)
		}
		for _, p := range r.Peers {
			if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("bad peer %v", p)
			}
		}
	})
}
