package tracker

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
)

// unhex decodes a hex string with spaces between fields, so golden
// packets can be written field by field as BEP 15 lays them out.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var udpSrc = netip.MustParseAddrPort("192.0.2.10:6881")

func TestUDPGoldenConnect(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{ConnIDSecret: []byte("0123456789abcdef")})
	//             protocol_id      action   transaction_id
	req := unhex(t, "0000041727101980 00000000 0badf00d")
	got := tt.srv.HandleUDP(context.Background(), req, udpSrc, nil)
	id := tt.srv.connIDs.Issue(udpSrc.Addr(), tt.clock.Now())
	//                action   transaction_id connection_id
	want := unhex(t, "00000000 0badf00d") // + 8 bytes of ID
	want = append(want, u64(id)...)
	if !slices.Equal(got, want) {
		t.Fatalf("connect reply\n got %x\nwant %x", got, want)
	}
	// A connect without the magic protocol ID is an error reply.
	bad := unhex(t, "0000041727101981 00000000 0badf00d")
	if got := tt.srv.HandleUDP(context.Background(), bad, udpSrc, nil); !slices.Equal(got[:8], unhex(t, "00000003 0badf00d")) {
		t.Fatalf("bad magic: %x", got)
	}
}

// udpAnnouncePacket is a BEP 15 announce written out field by field.
func udpAnnouncePacket(t *testing.T, connID uint64, name string, event string, left string, port string) []byte {
	ih, pid := testHash, id20(name)
	return append(append(append(u64(connID), unhex(t, "00000001 00001234")...), append(ih[:], pid[:]...)...),
		unhex(t, "0000000000000000"+ // downloaded
			left+ // left
			"0000000000000000"+ // uploaded
			event+ // event
			"00000000"+ // IP: sender's
			"00c0ffee"+ // key
			"ffffffff"+ // num_want: default
			port)...)
}

func TestUDPGoldenAnnounce(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{ConnIDSecret: []byte("0123456789abcdef")})
	ctx := context.Background()
	id := tt.srv.connIDs.Issue(udpSrc.Addr(), tt.clock.Now())
	seeder := netip.MustParseAddrPort("192.0.2.20:51413")
	sid := tt.srv.connIDs.Issue(seeder.Addr(), tt.clock.Now())

	// A seeder (left 0, event completed=1) on 51413 = 0xc8d5.
	pkt := udpAnnouncePacket(t, sid, "seed", "00000001", "0000000000000000", "c8d5")
	if len(pkt) != trackerclient.UDPAnnounceLen {
		t.Fatalf("test packet is %d bytes", len(pkt))
	}
	got := tt.srv.HandleUDP(ctx, pkt, seeder, nil)
	//                action   tid      interval leechers seeders (no peers)
	want := unhex(t, "00000001 00001234 0000001e 00000000 00000001")
	if !slices.Equal(got, want) {
		t.Fatalf("seeder announce reply\n got %x\nwant %x", got, want)
	}

	// A leecher (event started=2, left 1000) gets the seeder, compact.
	pkt = udpAnnouncePacket(t, id, "leech", "00000002", "00000000000003e8", "1ae1")
	got = tt.srv.HandleUDP(ctx, pkt, udpSrc, nil)
	want = unhex(t, "00000001 00001234 0000001e 00000001 00000001 c0000214 c8d5")
	if !slices.Equal(got, want) {
		t.Fatalf("leecher announce reply\n got %x\nwant %x", got, want)
	}

	// Stopped (3) from a peer never seen: tolerated, no peers.
	other := netip.MustParseAddrPort("192.0.2.30:1")
	oid := tt.srv.connIDs.Issue(other.Addr(), tt.clock.Now())
	pkt = udpAnnouncePacket(t, oid, "ghost", "00000003", "0000000000000001", "0001")
	got = tt.srv.HandleUDP(ctx, pkt, other, nil)
	want = unhex(t, "00000001 00001234 0000001e 00000001 00000001")
	if !slices.Equal(got, want) {
		t.Fatalf("stopped reply\n got %x\nwant %x", got, want)
	}
}

func TestUDPGoldenErrors(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	ctx := context.Background()
	cases := []struct {
		name string
		pkt  []byte
		want []byte // nil: no reply at all
	}{
		{"forged connection ID", udpAnnouncePacket(t, 0xdeadbeef, "x", "00000000", "0000000000000001", "0001"),
			append(unhex(t, "00000003 00001234"), "invalid or expired connection ID"...)},
		{"unknown action", unhex(t, "0000000000000000 00000009 00000077"),
			append(unhex(t, "00000003 00000077"), "malformed request"...)},
		{"short announce", unhex(t, "0000000000000000 00000001 00000042 0102"),
			append(unhex(t, "00000003 00000042"), "malformed request"...)},
		{"runt", unhex(t, "00000000 0000"), nil},
	}
	for _, c := range cases {
		got := tt.srv.HandleUDP(ctx, c.pkt, udpSrc, nil)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %x\nwant %x", c.name, got, c.want)
		}
	}
}

func TestUDPGoldenScrape(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	tt.announce(t, peerReq("a", 1001, 0))
	tt.announce(t, peerReq("b", 1002, 5))
	done := peerReq("b", 1002, 0)
	done.Event = trackerclient.EventCompleted
	tt.announce(t, done)
	tt.announce(t, peerReq("c", 1003, 5))
	id := tt.srv.connIDs.Issue(udpSrc.Addr(), tt.clock.Now())
	unknown := id20("nobody")
	pkt := append(append(u64(id), unhex(t, "00000002 00000099")...), append(testHash[:], unknown[:]...)...)
	got := tt.srv.HandleUDP(context.Background(), pkt, udpSrc, nil)
	//               action   tid      | seeders completed leechers | x3 zeros
	want := unhex(t, "00000002 00000099 00000002 00000001 00000001 00000000 00000000 00000000")
	if !slices.Equal(got, want) {
		t.Fatalf("scrape reply\n got %x\nwant %x", got, want)
	}
}

func TestConnIDsExpireAndBind(t *testing.T) {
	c := NewConnIDs([]byte("secret-secret-secret"), time.Minute)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	at := time.Unix(6000, 0) // the start of a window
	id := c.Issue(a, at)
	for _, tc := range []struct {
		addr netip.Addr
		now  time.Time
		ok   bool
	}{
		{a, at, true},
		{a, at.Add(119 * time.Second), true}, // next window still accepts it
		{a, at.Add(120 * time.Second), false},
		{a, at.Add(-time.Second), false}, // issued "in the future"
		{b, at, false},                   // bound to the address
	} {
		if got := c.Valid(id, tc.addr, tc.now); got != tc.ok {
			t.Errorf("Valid(%v, +%v) = %v, want %v", tc.addr, tc.now.Sub(at), got, tc.ok)
		}
	}
	if NewConnIDs([]byte("another secret"), time.Minute).Valid(id, a, at) {
		t.Error("an ID from another secret was accepted")
	}
	if c.Valid(id^1, a, at) {
		t.Error("a flipped bit was accepted")
	}
}

func TestUDPURLKey(t *testing.T) {
	if k := udpURLKey("/tok%20en/announce?x=1"); k != "tok en" {
		t.Fatalf("key from path: %q", k)
	}
	if k := udpURLKey("/announce?key=abc"); k != "abc" {
		t.Fatalf("key from query: %q", k)
	}
}

// startUDP serves tt's server on a loopback UDP socket.
func startUDP(t *testing.T, tt *testTracker, network, addr string) string {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Skipf("no %s on %s: %v", network, addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tt.srv.ServeUDP(ctx, pc) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeUDP: %v", err)
		}
		pc.Close()
	})
	return "udp://" + pc.LocalAddr().String() + "/announce"
}

func TestUDPClientAgainstServer(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	u := startUDP(t, tt, "udp4", "127.0.0.1:0")
	ctx := context.Background()
	tt.announce(t, peerReq("seed", 4000, 0)) // over HTTP: one swarm for both
	got, err := trackerclient.Announce(ctx, nil, u, peerReq("leech", 5000, 10))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Peers, []netip.AddrPort{loop(4000)}) || got.Complete != 1 || got.Incomplete != 1 || got.Interval != DefaultInterval {
		t.Fatalf("udp announce: %+v", got)
	}
	// The HTTP side sees the UDP peer.
	if h := tt.announce(t, peerReq("other", 6000, 10)); !slices.Contains(h.Peers, loop(5000)) {
		t.Fatalf("http did not hand out the udp peer: %v", h.Peers)
	}
	sc, err := trackerclient.Scrape(ctx, nil, u, [][20]byte{testHash})
	if err != nil || sc[testHash] != (SwarmStats{Complete: 1, Incomplete: 2}) {
		t.Fatalf("udp scrape: %+v, %v", sc, err)
	}
	hs, err := trackerclient.Scrape(ctx, tt.hc, tt.url, [][20]byte{testHash})
	if err != nil || hs[testHash] != sc[testHash] {
		t.Fatalf("http scrape: %+v, %v", hs, err)
	}
}

func TestUDPPrivateKeys(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{Keys: NewKeys(map[string]string{"tok1": "blue", "tok2": "red"})})
	base := strings.TrimSuffix(startUDP(t, tt, "udp4", "127.0.0.1:0"), "/announce")
	ctx := context.Background()
	if _, err := trackerclient.Announce(ctx, nil, base+"/tok1/announce", peerReq("a", 1001, 0)); err != nil {
		t.Fatal(err)
	}
	got, err := trackerclient.Announce(ctx, nil, base+"/tok1/announce", peerReq("b", 1002, 5))
	if err != nil || len(got.Peers) != 1 {
		t.Fatalf("same tenant: %+v %v", got, err)
	}
	got, err = trackerclient.Announce(ctx, nil, base+"/tok2/announce", peerReq("c", 1003, 5))
	if err != nil || len(got.Peers) != 0 || got.Complete != 0 {
		t.Fatalf("other tenant saw the swarm: %+v %v", got, err)
	}
	_, err = trackerclient.Announce(ctx, nil, base+"/nope/announce", peerReq("d", 1004, 5))
	var fe *trackerclient.FailureError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "unknown announce key") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestUDPIPv6Peers(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	u := startUDP(t, tt, "udp6", "[::1]:0")
	ctx := context.Background()
	if _, err := trackerclient.Announce(ctx, nil, u, peerReq("a", 1001, 0)); err != nil {
		t.Fatal(err)
	}
	tt.announce(t, peerReq("v4", 1002, 0)) // IPv4: not in a reply over IPv6
	got, err := trackerclient.Announce(ctx, nil, u, peerReq("b", 1003, 5))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Peers, []netip.AddrPort{netip.MustParseAddrPort("[::1]:1001")}) {
		t.Fatalf("udp6 peers: %v", got.Peers)
	}
}
