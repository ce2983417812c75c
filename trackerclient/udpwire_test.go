package trackerclient

import (
	"encoding/hex"
	"errors"
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
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseUDPRequest(b)
		if err != nil {
			return
		}
		if len(r.InfoHashes) > UDPMaxScrapeHashes {
			t.Fatalf("%d hashes", len(r.InfoHashes))
		}
		if r.Action != UDPActionAnnounce {
			return
		}
		a := r.Announce
		if a.Left < 0 || a.Downloaded < 0 || a.Uploaded < 0 {
			t.Fatalf("negative counts: %+v", a)
		}
		a.NumWant = 0
		again, err := ParseUDPRequest(appendUDPAnnounceRequest(nil, r.ConnID, r.TransactionID, a, 0, r.URLData))
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

func TestParseUDPOptions(t *testing.T) {
	// NOP, URLData "/k", URLData "ey/announce", End, trailing junk.
	b := append([]byte{udpOptNOP, udpOptURLData, 2}, "/k"...)
	b = append(append(b, udpOptURLData, 11), "ey/announce"...)
	b = append(b, udpOptEnd, 0xff)
	got, err := parseUDPOptions(b)
	if err != nil || got != "/key/announce" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := parseUDPOptions([]byte{udpOptURLData, 5, 'x'}); !errors.Is(err, ErrBadPacket) {
		t.Fatalf("truncated: %v", err)
	}
}
