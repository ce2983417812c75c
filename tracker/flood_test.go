package tracker

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
	"github.com/shoal-p2p/shoal/wire"
)

// TestFloodOfFakeSeeders (issue 8 item 4): 48 hosts (127.0.0.10 to .57;
// Linux loopback accepts any 127/8 source), half over UDP and half over
// HTTP, each announce 30 fake seeders into a swarm bounded at 400 peers,
// the default tracker otherwise. Then an honest seeder arrives from an
// address of its own, and new leechers. The honest seeder must be listed
// (before the per-address bound and fair eviction it was told "swarm
// full; not listed"), every new leecher must be handed it, and no
// flooding address may hold more than its bound.
func TestFloodOfFakeSeeders(t *testing.T) {
	const (
		maxPeers   = 400
		floodHosts = 48
		fakesEach  = 30
	)
	tt := newTestTracker(t, ServerConfig{MaxPeersPerTorrent: maxPeers})
	udpAddr := strings.TrimSuffix(strings.TrimPrefix(startUDP(t, tt, "udp4", "127.0.0.1:0"), "udp://"), "/announce")
	ctx := context.Background()
	host := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}) }

	var wg sync.WaitGroup
	errs := make(chan error, floodHosts)
	for h := range floodHosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := host(10 + h)
			announce := httpFrom(t, tt.url, src)
			if h%2 == 0 {
				announce = udpFrom(t, udpAddr, src)
			}
			for j := range fakesEach {
				req := trackerclient.AnnounceRequest{InfoHash: testHash, PeerID: id20(fmt.Sprintf("fake-%d-%d", h, j)),
					Port: uint16(10000 + j), Event: trackerclient.EventStarted}
				if _, err := announce(ctx, req); err != nil {
					errs <- fmt.Errorf("flood from %v: %w", src, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st, _ := tt.srv.cfg.Store.Scrape(ctx, testHash, tt.clock.Now()); st.Complete != maxPeers {
		t.Fatalf("the flood left %d fake seeders listed; the test needs the swarm full (%d)", st.Complete, maxPeers)
	}

	seeder := trackerclient.AnnounceRequest{InfoHash: testHash, PeerID: id20("honest-seeder"), Port: 6881,
		Event: trackerclient.EventStarted}
	resp, err := httpFrom(t, tt.url, host(200))(ctx, seeder)
	if err != nil {
		t.Fatal(err)
	}
	if resp.WarningMessage != "" {
		t.Fatalf("honest seeder: %q", resp.WarningMessage)
	}
	honest := netip.AddrPortFrom(host(200), 6881)
	for i := range 6 {
		leech := trackerclient.AnnounceRequest{InfoHash: testHash, PeerID: id20(fmt.Sprint("new-leecher-", i)),
			Port: 7000, Left: 1 << 20, Event: trackerclient.EventStarted}
		announce := httpFrom(t, tt.url, host(201+i))
		if i%2 == 0 {
			announce = udpFrom(t, udpAddr, host(201+i))
		}
		got, err := announce(ctx, leech)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(got.Peers, honest) {
			t.Fatalf("new leecher %d was handed %d peers, not the honest seeder", i, len(got.Peers))
		}
	}

	store := tt.srv.cfg.Store.(*MemoryStore)
	if _, peers := store.Len(); peers > maxPeers {
		t.Fatalf("swarm holds %d peers, bound %d", peers, maxPeers)
	}
	for a, n := range store.addrCounts(testHash) {
		if n > DefaultAddrLimit.Max {
			t.Fatalf("%v holds %d peers, bound %d", a, n, DefaultAddrLimit.Max)
		}
	}
	// The seeder is still listed after the leechers came.
	if ps, _ := store.Peers(ctx, testHash, tt.clock.Now()); !slices.ContainsFunc(ps, func(p Peer) bool { return p.Addr == honest }) {
		t.Fatal("honest seeder no longer listed")
	}
}

// TestAddressBoundAndExemption: the per-address bound refuses the 17th
// peer of one address (the peer still gets peers, with a warning), spares
// 127.0.0.1, and a higher bound or an exempt prefix lets a NAT fleet in.
func TestAddressBoundAndExemption(t *testing.T) {
	ctx := context.Background()
	nat := netip.MustParseAddr("127.0.0.9")
	fill := func(tt *testTracker, src netip.Addr, n int) []*trackerclient.AnnounceResponse {
		var out []*trackerclient.AnnounceResponse
		for i := range n {
			req := trackerclient.AnnounceRequest{InfoHash: testHash, PeerID: id20(fmt.Sprint(src, "-", i)),
				Port: uint16(2000 + i), Left: 1, Event: trackerclient.EventStarted}
			r, err := httpFrom(t, tt.url, src)(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	tt := newTestTracker(t, ServerConfig{})
	rs := fill(tt, nat, 17)
	if rs[15].WarningMessage != "" || !strings.Contains(rs[16].WarningMessage, "too many peers from this address") {
		t.Fatalf("16th: %q, 17th: %q", rs[15].WarningMessage, rs[16].WarningMessage)
	}
	if len(rs[16].Peers) != 16 {
		t.Fatalf("refused peer was handed %d peers, want the 16 listed", len(rs[16].Peers))
	}
	if rs := fill(tt, netip.MustParseAddr("127.0.0.1"), 40); rs[39].WarningMessage != "" {
		t.Fatalf("127.0.0.1 is exempt by default: %q", rs[39].WarningMessage)
	}
	raised := newTestTracker(t, ServerConfig{MaxPeersPerAddr: 40})
	if rs := fill(raised, nat, 40); rs[39].WarningMessage != "" {
		t.Fatalf("bound 40: %q", rs[39].WarningMessage)
	}
	exempt := newTestTracker(t, ServerConfig{AddrLimitExempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.8/30")}})
	if rs := fill(exempt, nat, 40); rs[39].WarningMessage != "" {
		t.Fatalf("exempt prefix: %q", rs[39].WarningMessage)
	}
	none := newTestTracker(t, ServerConfig{AddrLimitExempt: []netip.Prefix{}})
	if rs := fill(none, netip.MustParseAddr("127.0.0.1"), 17); !strings.Contains(rs[16].WarningMessage, "too many peers") {
		t.Fatalf("nothing exempt: 127.0.0.1's 17th peer: %q", rs[16].WarningMessage)
	}
}

// TestPeerIDHijack: an announce under a listed peer's ID from another IP
// neither moves nor stops it, unless it carries the key the peer was
// listed with.
func TestPeerIDHijack(t *testing.T) {
	ctx := context.Background()
	tt := newTestTracker(t, ServerConfig{})
	victim := netip.MustParseAddr("127.0.0.20")
	attacker := netip.MustParseAddr("127.0.0.21")
	seed := trackerclient.AnnounceRequest{InfoHash: testHash, PeerID: id20("seed"), Port: 6881, Key: "s3cret",
		Event: trackerclient.EventStarted}
	if _, err := httpFrom(t, tt.url, victim)(ctx, seed); err != nil {
		t.Fatal(err)
	}
	listed := func() []netip.AddrPort {
		ps, _ := tt.srv.cfg.Store.Peers(ctx, testHash, tt.clock.Now())
		var out []netip.AddrPort
		for _, p := range ps {
			out = append(out, p.Addr)
		}
		return out
	}
	want := []netip.AddrPort{netip.AddrPortFrom(victim, 6881)}
	forged := seed
	forged.Key = "guess"
	forged.Port = 9
	if r, err := httpFrom(t, tt.url, attacker)(ctx, forged); err != nil || !strings.Contains(r.WarningMessage, "peer ID listed") {
		t.Fatalf("forged move: %+v %v", r, err)
	}
	forged.Event = trackerclient.EventStopped
	httpFrom(t, tt.url, attacker)(ctx, forged)
	if got := listed(); !slices.Equal(got, want) {
		t.Fatalf("after forged announces: %v, want %v", got, want)
	}
	// With its key the peer may move (a new address after a network change).
	moved := seed
	moved.Event = trackerclient.EventNone
	if _, err := httpFrom(t, tt.url, attacker)(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if got := listed(); !slices.Equal(got, []netip.AddrPort{netip.AddrPortFrom(attacker, 6881)}) {
		t.Fatalf("keyed move: %v", got)
	}
}

// announcer sends one announce and returns the reply.
type announcer func(ctx context.Context, req trackerclient.AnnounceRequest) (*trackerclient.AnnounceResponse, error)

// httpFrom announces to url over HTTP from the local address src.
func httpFrom(t *testing.T, url string, src netip.Addr) announcer {
	d := &net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	t.Cleanup(hc.CloseIdleConnections)
	return func(ctx context.Context, req trackerclient.AnnounceRequest) (*trackerclient.AnnounceResponse, error) {
		return trackerclient.Announce(ctx, hc, url, req)
	}
}

// udpFrom announces to the BEP 15 tracker at addr from the local address
// src: connect, then announce, written by hand (the client always uses
// the system's source address).
func udpFrom(t *testing.T, addr string, src netip.Addr) announcer {
	return func(ctx context.Context, req trackerclient.AnnounceRequest) (*trackerclient.AnnounceResponse, error) {
		conn, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)),
			net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, trackerclient.UDPMaxPacket)
		exchange := func(pkt []byte) ([]byte, error) {
			if _, err := conn.Write(pkt); err != nil {
				return nil, err
			}
			n, err := conn.Read(buf)
			if err != nil {
				return nil, err
			}
			if n < 8 || binary.BigEndian.Uint32(buf) == trackerclient.UDPActionError {
				return nil, fmt.Errorf("udp reply %q", buf[:n])
			}
			return buf[:n], nil
		}
		connect := binary.BigEndian.AppendUint64(nil, 0x41727101980)
		connect = binary.BigEndian.AppendUint32(connect, trackerclient.UDPActionConnect)
		connect = binary.BigEndian.AppendUint32(connect, 1)
		r, err := exchange(connect)
		if err != nil || len(r) < 16 {
			return nil, fmt.Errorf("connect: %v", err)
		}
		pkt := benchUDPAnnounce(nil, binary.BigEndian.Uint64(r[8:16]), req.InfoHash, req.PeerID, req.Port, req.Left)
		binary.BigEndian.PutUint64(pkt[56:64], uint64(req.Downloaded))
		if req.Event == trackerclient.EventStarted {
			binary.BigEndian.PutUint32(pkt[80:84], 2) // BEP 15: started
		}
		if r, err = exchange(pkt); err != nil || len(r) < 20 || (len(r)-20)%wire.CompactIPv4Len != 0 {
			return nil, fmt.Errorf("announce: %d bytes, %v", len(r), err)
		}
		out := &trackerclient.AnnounceResponse{Incomplete: int(binary.BigEndian.Uint32(r[12:])), Complete: int(binary.BigEndian.Uint32(r[16:]))}
		for b := r[20:]; len(b) > 0; b = b[wire.CompactIPv4Len:] {
			p, _ := wire.ParseCompactAddr(b[:wire.CompactIPv4Len])
			out.Peers = append(out.Peers, p)
		}
		return out, nil
	}
}
