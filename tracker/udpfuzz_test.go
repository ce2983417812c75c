package tracker

import (
	"context"
	"net/netip"
	"net/url"
	"testing"
)

// FuzzHandleUDP checks the server's whole BEP 15 path never panics on a
// datagram and never answers one it cannot attribute (shorter than a
// header). Its seeds are the committed corpus (testdata/fuzz); the packet
// parser's own fuzz target is in trackerclient.
func FuzzHandleUDP(f *testing.F) {
	srv := NewServer(ServerConfig{ConnIDSecret: []byte("fuzz-secret-0123"), Logger: discard()})
	f.Fuzz(func(t *testing.T, b []byte) {
		reply := srv.HandleUDP(context.Background(), b, netip.MustParseAddrPort("192.0.2.1:1"), nil)
		if len(b) < 16 && len(reply) > 0 {
			t.Fatalf("answered a %d-byte runt: %x", len(b), reply)
		}
	})
}

// FuzzParseScrapeQuery checks the HTTP scrape query parser.
func FuzzParseScrapeQuery(f *testing.F) {
	f.Add("info_hash=" + url.QueryEscape(string(testHash[:])))
	f.Add("info_hash=%zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, q string) {
		hs, err := parseScrapeQuery(q)
		if err == nil && (len(hs) == 0 || len(hs) > maxScrapeHashes) {
			t.Fatalf("%d hashes accepted", len(hs))
		}
	})
}
