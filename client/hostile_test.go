package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/wire"
)

// idlePeer opens one connection to addr for ih, completes the handshake,
// says it has nothing (and, if interested, that it wants our pieces), and
// then only reads: it never requests, as an attacker holding a slot would.
// It returns once the handshake is done; the connection lives until the
// test ends.
func idlePeer(t *testing.T, addr string, ih metainfo.InfoHash, interested bool) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	hs := wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: ih, PeerID: NewPeerID()}
	out := hs.AppendBinary(nil)
	out, _ = wire.Message{Type: wire.HaveNone}.AppendBinary(out)
	if interested {
		out, _ = wire.Message{Type: wire.Interested}.AppendBinary(out)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	var buf [68]byte
	if _, err := io.ReadFull(nc, buf[:]); err != nil {
		t.Fatalf("idle peer: no handshake back: %v", err)
	}
	nc.SetDeadline(time.Time{})
	go io.Copy(io.Discard, nc)
}

// TestIdlePeersDoNotLockOutGetters (issue 8, item 3): 80 established peers
// that stay idle (half interested, none ever requesting) hold every slot of
// an origin. A real getter must still be admitted, taking the slot of an
// idle one, and complete.
func TestIdlePeersDoNotLockOutGetters(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), 1<<20, 31)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 64<<10)
	origin := newTestClient(t, Config{})
	seed := addTorrent(t, origin, mi, TorrentOptions{Dir: src, Seed: true})
	for i := 0; i < 80; i++ {
		idlePeer(t, origin.Addr().String(), mi.InfoHash, i%2 == 0)
	}
	waitFor(t, 10*time.Second, "80 idle peers to hold every slot", func() bool { return seed.Stats().Peers == 80 })

	getter := newTestClient(t, Config{})
	out := t.TempDir()
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{origin.Addr().String()}})
	waitDone(t, tor, 40*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
	if n := seed.Stats().Peers; n > 80 {
		t.Errorf("origin holds %d peers, above its bound of 80", n)
	}
}

// tarpit is a set of listeners that accept TCP connections and never
// answer, so a dial to one holds a half-open slot until the handshake
// times out: the addresses a hostile PEX peer would hand out.
type tarpit struct {
	lns      []net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

func newTarpit(t *testing.T, n int) *tarpit {
	t.Helper()
	tp := &tarpit{}
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tp.lns = append(tp.lns, ln)
		go func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				tp.accepted.Add(1)
				tp.mu.Lock()
				tp.conns = append(tp.conns, nc)
				tp.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		for _, ln := range tp.lns {
			ln.Close()
		}
		tp.mu.Lock()
		for _, c := range tp.conns {
			c.Close()
		}
		tp.mu.Unlock()
	})
	return tp
}

// hostilePEXPeer answers a getter's connection with ut_pex in its extended
// handshake, then sends a PEX message naming the tarpit's addresses, 200
// at a time, every 100 ms.
func hostilePEXPeer(t *testing.T, ih metainfo.InfoHash, addrs []netip.AddrPort) string {
	t.Helper()
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return servePeer(t, ih, wire.ExtendedHandshake{M: map[string]int{extPEX: 9}}, func(nc net.Conn) {
		go io.Copy(io.Discard, nc)
		for i := 0; ; i += 200 {
			var m wire.PEXMessage
			for k := 0; k < 200; k++ {
				m.Added = append(m.Added, wire.PEXPeer{Addr: addrs[(i+k)%len(addrs)]})
			}
			b, err := appendExt(nil, extPEXID, m.Marshal)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := nc.Write(b); err != nil {
				return
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// servePeer listens on loopback as a wire-level test peer of ih: each
// connection's handshake is answered with ours, HaveNone and eh as our
// extended handshake (BEP 10), then handed to serve, and closed when
// serve returns.
func servePeer(t *testing.T, ih metainfo.InfoHash, eh wire.ExtendedHandshake, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				var buf [68]byte
				if _, err := io.ReadFull(nc, buf[:]); err != nil {
					return
				}
				hs := wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: ih, PeerID: NewPeerID()}
				out := hs.AppendBinary(nil)
				out, _ = wire.Message{Type: wire.HaveNone}.AppendBinary(out)
				out, _ = appendExt(out, wire.ExtendedHandshakeID, eh.Marshal)
				if _, err := nc.Write(out); err != nil {
					return
				}
				serve(nc)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestHostilePEXDoesNotCrowdOutSeeder (issue 8, item 10): a hostile peer
// floods a getter with PEX naming 300 addresses that accept and never
// answer. The getter must keep its dials to them bounded and rate-limited,
// and when the honest seeder's connection drops, redial the seeder at
// once rather than after the tarpits' handshakes time out.
func TestHostilePEXDoesNotCrowdOutSeeder(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), 4<<20, 32)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 64<<10)
	seeder := newTestClient(t, Config{UploadLimit: 256 << 10}) // slow: the download outlasts the test's cut
	// No PEX at the seeder: it would learn of the hostile peer from the
	// getter, and its own dials would count in the tarpit's tally.
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true, NoPEX: true})
	proxy := newCountingProxy(t, seeder.Addr().String())

	tp := newTarpit(t, 300)
	var addrs []netip.AddrPort
	for _, ln := range tp.lns {
		addrs = append(addrs, netip.MustParseAddrPort(ln.Addr().String()))
	}
	evil := hostilePEXPeer(t, mi.InfoHash, addrs)

	getter := newTestClient(t, Config{})
	getter.pexEvery = 200 * time.Millisecond // accept PEX every 100 ms: the flood gets in
	out := t.TempDir()
	start := time.Now()
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{proxy.addr(), evil}})
	waitFor(t, 10*time.Second, "the getter to connect to the seeder and the hostile peer", func() bool {
		return tor.Stats().Peers >= 2 && tp.accepted.Load() > 0
	})
	waitFor(t, 10*time.Second, "the flood to hold half-open slots", func() bool { return tp.accepted.Load() >= 8 })
	before := proxy.accepted.Load()
	proxy.cut()
	cutAt := time.Now()
	waitFor(t, 8*time.Second, "the getter to redial the honest seeder", func() bool { return proxy.accepted.Load() > before })
	t.Logf("seeder redialled %v after the cut", time.Since(cutAt).Round(time.Millisecond))
	waitDone(t, tor, 60*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
	// One source's addresses: a burst of 10, then about one dial a second.
	elapsed := time.Since(start).Seconds()
	if n := tp.accepted.Load(); float64(n) > 10+elapsed+5 {
		t.Errorf("%d dials to the hostile peer's addresses in %.1f s; want at most about 10 + 1/s", n, elapsed)
	}
}

// TestMagnetRefusesBannedPeer: the metadata phase of a magnet makes the
// same ban checks as the torrent: a banned address is never dialled and a
// peer banned by id is refused after its handshake, so a banned peer
// cannot serve us the info dictionary.
func TestMagnetRefusesBannedPeer(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeRandomFile(t, filepath.Join(src, "f.bin"), 100_000, 33)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 16<<10)
	seed := newTestClient(t, Config{})
	addTorrent(t, seed, mi, TorrentOptions{Dir: src, Seed: true})
	proxy := newCountingProxy(t, seed.Addr().String())

	getter := newTestClient(t, Config{})
	getter.recordBan(nil, peers.AddrKeys(netip.MustParseAddrPort(proxy.addr())), time.Time{}, "test")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := getter.AddMagnet(ctx, metainfo.Magnet{InfoHash: mi.InfoHash, Peers: []string{proxy.addr()}}, TorrentOptions{Dir: t.TempDir()})
	if !errors.Is(err, ErrNoMetadata) {
		t.Fatalf("magnet with a banned address: %v, want ErrNoMetadata", err)
	}
	if n := proxy.accepted.Load(); n != 0 {
		t.Errorf("the banned address was dialled %d times", n)
	}

	getter.recordBan(nil, []string{peers.IDKey(seed.PeerID())}, time.Time{}, "test")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	_, err = getter.AddMagnet(ctx2, metainfo.Magnet{InfoHash: mi.InfoHash, Peers: []string{seed.Addr().String()}}, TorrentOptions{Dir: t.TempDir()})
	if !errors.Is(err, ErrNoMetadata) {
		t.Fatalf("magnet from a peer banned by id: %v, want ErrNoMetadata", err)
	}
}
