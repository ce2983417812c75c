package trackerclient

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

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
			got, err := ParseAnnounceResponse([]byte(c.body))
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
		r, err := ParseAnnounceResponse(body)
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

// FuzzParseScrapeResponse checks the scrape reply parser (BEP 48): no
// panic, errors classified, no negative or out-of-range count accepted.
func FuzzParseScrapeResponse(f *testing.F) {
	f.Add([]byte("d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e10:downloadedi2e10:incompletei3eeee"))
	f.Add([]byte("d14:failure reason6:no waye"))
	f.Add([]byte("d5:filesd3:abcd8:completei1eeee"))
	f.Add([]byte("d5:files999999999:e"))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ParseScrapeResponse(body)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrTrackerFailure) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(got) > len(body)/20 {
			t.Fatalf("%d swarms from %d bytes", len(got), len(body))
		}
		for h, st := range got {
			if st.Complete < 0 || st.Incomplete < 0 || st.Downloaded < 0 {
				t.Fatalf("negative count for %x: %+v", h, st)
			}
		}
	})
}

func TestParseScrapeResponse(t *testing.T) {
	got, err := ParseScrapeResponse([]byte("d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e10:downloadedi2e10:incompletei3ee3:abcd8:completei9eeee"))
	if err != nil || len(got) != 1 || got[[20]byte([]byte("aaaaaaaaaaaaaaaaaaaa"))] != (SwarmStats{Complete: 1, Downloaded: 2, Incomplete: 3}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ParseScrapeResponse([]byte("d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei-1eeee")); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("negative count: %v", err)
	}
}
