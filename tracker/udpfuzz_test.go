package tracker

import (
	"context"
	"encoding/hex"
	"net/netip"
	"testing"
)

func udpSeeds(f *testing.F) {
	for _, s := range []string{
		"0000041727101980000000000badf00d",
		"00000000000000000000000100001234" + hex.EncodeToString(make([]byte, 82)),
		"00000000000000000000000100001234" + hex.EncodeToString(make([]byte, 82)) + "0102022f6b0200",
		"000000000000000000000002000000990102030405060708090a0b0c0d0e0f1011121314",
		"00000000000000000000000300000001",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
}

// FuzzParseUDPRequest checks the BEP 15 request parser never panics,
// keeps its bounds, and that a parsed announce round-trips through the
// client's encoder.
func FuzzParseUDPRequest(f *testing.F) {
	udpSeeds(f)
	srv := NewServer(ServerConfig{ConnIDSecret: []byte("fuzz-secret-0123"), Logger: discard()})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseUDPRequest(b)
		// The full server path must not panic either.
		srv.HandleUDP(context.Background(), b, netip.MustParseAddrPort("192.0.2.1:1"), nil)
		if err != nil {
			return
		}
		if len(r.InfoHashes) > udpMaxScrapeHashes {
			t.Fatalf("%d hashes", len(r.InfoHashes))
		}
		if r.Action != udpActionAnnounce {
			return
		}
		a := r.Announce
		if a.Left < 0 || a.Downloaded < 0 || a.Uploaded < 0 {
			t.Fatalf("negative counts: %+v", a)
		}
		a.NumWant = 0
		again, err := parseUDPRequest(appendUDPAnnounceRequest(nil, r.ConnID, r.TransactionID, a, 0, r.URLData))
		if err != nil || again.Announce.InfoHash != a.InfoHash || again.Announce.Port != a.Port ||
			again.Announce.Event != a.Event || again.URLData != r.URLData {
			t.Fatalf("round trip: %+v vs %+v (%v)", again, r, err)
		}
	})
}

// FuzzParseUDPResponse checks the client's BEP 15 reply parser.
func FuzzParseUDPResponse(f *testing.F) {
	for _, s := range []string{
		"000000000badf00d0102030405060708",
		"00000001000012340000001e0000000100000001c0000214c8d5",
		"000000020000009900000002000000010000000100000000",
		"0000000300000001696e76616c6964",
		"0000000100001234",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		peerLen := compactPeerLen4
		if v6 {
			peerLen = compactPeerLen6
		}
		r, err := parseUDPResponse(b, peerLen)
		if err != nil {
			return
		}
		if r.Announce.Complete < 0 || r.Announce.Incomplete < 0 || r.Announce.Interval < 0 {
			t.Fatalf("negative: %+v", r.Announce)
		}
		if len(r.Announce.Peers)*peerLen > len(b) {
			t.Fatalf("%d peers from %d bytes", len(r.Announce.Peers), len(b))
		}
	})
}

// FuzzParseScrapeQuery checks the HTTP scrape query parser.
func FuzzParseScrapeQuery(f *testing.F) {
	f.Add("info_hash=" + escapeBytes(testHash[:]))
	f.Add("info_hash=%zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, q string) {
		hs, err := parseScrapeQuery(q)
		if err == nil && (len(hs) == 0 || len(hs) > maxScrapeHashes) {
			t.Fatalf("%d hashes accepted", len(hs))
		}
	})
}
