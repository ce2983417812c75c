package tracker

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/shoal-p2p/shoal/trackerclient"
)

const (
	hash20 = "%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14"
	peer20 = "-SH0001-abcdefghijkl"
)

func TestParseAnnounceQuery(t *testing.T) {
	base := "info_hash=" + hash20 + "&peer_id=" + peer20 + "&port=6881&uploaded=1&downloaded=2&left=3"
	cases := []struct {
		name   string
		query  string
		errHas string // empty: must succeed
		check  func(t *testing.T, q announceQuery)
	}{
		{name: "minimal", query: base, check: func(t *testing.T, q announceQuery) {
			if q.InfoHash[0] != 1 || q.InfoHash[19] != 0x14 || string(q.PeerID[:]) != peer20 {
				t.Errorf("ids %x %q", q.InfoHash, q.PeerID)
			}
			if q.Port != 6881 || q.Uploaded != 1 || q.Downloaded != 2 || q.Left != 3 {
				t.Errorf("numbers %+v", q)
			}
			if !q.Compact || q.NumWantSet || q.Event != trackerclient.EventNone || q.IP.IsValid() {
				t.Errorf("defaults %+v", q)
			}
		}},
		{name: "all options", query: base + "&event=completed&numwant=7&compact=0&ip=%3A%3Affff%3A10.0.0.1&key=k1",
			check: func(t *testing.T, q announceQuery) {
				if q.Event != trackerclient.EventCompleted || q.NumWant != 7 || !q.NumWantSet || q.Compact || q.Key != "k1" {
					t.Errorf("options %+v", q)
				}
				if q.IP != netip.MustParseAddr("10.0.0.1") {
					t.Errorf("ip %v, want unmapped 10.0.0.1", q.IP)
				}
			}},
		{name: "negative numwant means default", query: base + "&numwant=-1", check: func(t *testing.T, q announceQuery) {
			if q.NumWantSet {
				t.Errorf("numwant -1 taken as explicit")
			}
		}},
		{name: "up and down default to zero", query: "info_hash=" + hash20 + "&peer_id=" + peer20 + "&port=1&left=0"},
		{name: "paused is an update", query: base + "&event=paused"},
		{name: "short info_hash", query: strings.Replace(base, "%14", "", 1), errHas: "info_hash must be 20 bytes"},
		{name: "long info_hash", query: strings.Replace(base, "%14", "%14%15", 1), errHas: "info_hash must be 20 bytes"},
		{name: "missing info_hash", query: "peer_id=" + peer20 + "&port=1&left=0", errHas: "info_hash"},
		{name: "short peer_id", query: strings.Replace(base, "abcdefghijkl", "abc", 1), errHas: "peer_id must be 20 bytes"},
		{name: "missing port", query: strings.Replace(base, "&port=6881", "", 1), errHas: "port"},
		{name: "port zero", query: strings.Replace(base, "port=6881", "port=0", 1), errHas: "port"},
		{name: "port too big", query: strings.Replace(base, "port=6881", "port=65536", 1), errHas: "port"},
		{name: "missing left", query: strings.Replace(base, "&left=3", "", 1), errHas: "missing left"},
		{name: "negative uploaded", query: strings.Replace(base, "uploaded=1", "uploaded=-1", 1), errHas: "invalid uploaded"},
		{name: "bad event", query: base + "&event=bogus", errHas: "unknown event"},
		{name: "bad numwant", query: base + "&numwant=lots", errHas: "numwant"},
		{name: "bad escape", query: base + "&x=%zz", errHas: "malformed"},
		{name: "huge query", query: base + "&pad=" + strings.Repeat("a", maxQueryLen), errHas: "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := parseAnnounceQuery(c.query)
			if c.errHas != "" {
				if !errors.Is(err, errBadQuery) || !strings.Contains(err.Error(), c.errHas) {
					t.Fatalf("err = %v, want errBadQuery containing %q", err, c.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, q)
			}
		})
	}
}

// The client's encoding and the server's parsing agree on every byte.
func TestQueryRoundTrip(t *testing.T) {
	var ih, pid [20]byte
	for i := range ih {
		ih[i] = byte(i * 13) // covers '%', '&', '+', '=', NUL, high bytes
		pid[i] = byte(255 - i*7)
	}
	ih[3], ih[4], ih[5] = '+', '&', '='
	in := trackerclient.AnnounceRequest{InfoHash: ih, PeerID: pid, Port: 65535, Uploaded: 1 << 40, Downloaded: 7, Left: 0,
		Event: trackerclient.EventStopped, NumWant: 12, Key: "a b&c"}
	q, err := parseAnnounceQuery(mustQuery(t, in))
	if err != nil {
		t.Fatal(err)
	}
	if q.AnnounceRequest != in || !q.NumWantSet || !q.Compact {
		t.Fatalf("round trip\n got %+v\nwant %+v", q.AnnounceRequest, in)
	}
}

func FuzzParseAnnounceQuery(f *testing.F) {
	f.Add("info_hash=" + hash20 + "&peer_id=" + peer20 + "&port=6881&uploaded=1&downloaded=2&left=3")
	f.Add("info_hash=" + hash20 + "&peer_id=" + peer20 + "&port=1&left=0&event=stopped&numwant=-1&compact=0&ip=::1")
	f.Add("info_hash=%zz&port=")
	f.Add("a=1;b=2")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseAnnounceQuery(raw)
		if err != nil {
			if !errors.Is(err, errBadQuery) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(raw) > maxQueryLen || q.Port == 0 || q.Left < 0 || q.Uploaded < 0 || q.Downloaded < 0 {
			t.Fatalf("accepted invalid announce %+v", q)
		}
		if q.NumWantSet && q.NumWant < 0 {
			t.Fatalf("negative explicit numwant %d", q.NumWant)
		}
		// What the server accepted, the client can say again, identically.
		again, err := parseAnnounceQuery(mustQuery(t, q.AnnounceRequest))
		if err != nil || again.AnnounceRequest != q.AnnounceRequest {
			t.Fatalf("re-encode mismatch: %v\n%+v\n%+v", err, q.AnnounceRequest, again.AnnounceRequest)
		}
	})
}
