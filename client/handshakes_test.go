package client

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/wire"
)

// closeFlag is an io.Closer that records its Close.
type closeFlag struct{ closed bool }

func (c *closeFlag) Close() error { c.closed = true; return nil }

// TestHandshakeGateDisplacesOldest checks the gate's rules: the per-address
// bound displaces that address's oldest, the global bound the oldest of the
// addresses holding their fair share, and done frees a slot without
// displacing anyone.
func TestHandshakeGateDisplacesOldest(t *testing.T) {
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	g := newHandshakeGate(6, func(netip.Addr) int { return 3 })
	var cs [10]closeFlag
	admit := func(ip netip.Addr, i int) (uint64, io.Closer) { return g.admit(ip, &cs[i]) }

	tb, _ := admit(b, 0) // b's one connection is the oldest of all
	admit(a, 1)
	admit(a, 2)
	ta3, _ := admit(a, 3)
	if _, d := admit(a, 4); d != &cs[1] {
		t.Fatalf("fourth from a displaced %v, want a's oldest (1)", d)
	}
	admit(c, 5)
	admit(c, 6)
	// Full (b: 0; a: 2,3,4; c: 5,6). Fair share is 6/3 = 2: b holds less,
	// so a newcomer from b takes the oldest of a and c, a's 2, though b's
	// 0 is older.
	if _, d := admit(b, 7); d != &cs[2] {
		t.Fatalf("newcomer into a full gate displaced %v, want a's oldest (2)", d)
	}
	// Now b: 0,7; a: 3,4; c: 5,6: everyone holds the fair share, and the
	// oldest of all goes.
	if _, d := admit(c, 8); d != &cs[0] {
		t.Fatalf("newcomer displaced %v, want the oldest (0)", d)
	}
	g.done(tb) // 0 was displaced: a no-op
	if pending, fromA, displaced := g.counts(a); pending != 6 || fromA != 2 || displaced != 3 {
		t.Fatalf("counts = %d pending, %d from a, %d displaced; want 6, 2, 3", pending, fromA, displaced)
	}
	g.done(ta3) // a's connection 3 finishes its handshake
	if _, d := admit(a, 9); d != nil {
		t.Fatalf("admit after done displaced %v", d)
	}
}

// dialFrom opens a TCP connection to addr from the loopback address src
// (Linux accepts any 127.0.0.0/8 source on lo).
func dialFrom(src, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

// holdSilent opens n connections from src to addr that never send a byte,
// and closes them when the test ends.
func holdSilent(t *testing.T, src, addr string, n int) {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := dialFrom(src, addr)
		if err != nil {
			t.Skipf("cannot dial from %s (needs Linux loopback): %v", src, err)
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
}

// honestHandshake runs a full BEP 3 handshake from 127.0.0.1 and reports
// whether the peer answered for ih.
func honestHandshake(addr string, ih metainfo.InfoHash, n int) error {
	c, err := dialFrom("127.0.0.1", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return peerHandshake(c, ih, fmt.Sprintf("-TT0001-honest%06d", n))
}

// peerHandshake runs our side of a BEP 3 handshake on nc as a wire-level
// test peer with the given 20-character peer id, and checks the answer.
func peerHandshake(nc net.Conn, ih metainfo.InfoHash, id string) error {
	var pid [20]byte
	copy(pid[:], id)
	hs := wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: ih, PeerID: pid}
	if _, err := nc.Write(hs.Marshal()); err != nil {
		return err
	}
	got, err := wire.ReadHandshake(nc)
	if err != nil {
		return err
	}
	if got.InfoHash != ih {
		return errors.New("answered for another torrent")
	}
	return nil
}

// TestSilentConnectionsDoNotLockOut holds far more silent connections than
// the handshake budget, from 127.0.0.2 and two more addresses, against a
// seeder whose silence timeout is a minute (so nothing expires during the
// test): 42 honest handshakes from 127.0.0.1 must all succeed and a real
// getter must still download. Before the gate, the 64-handshake semaphore
// closed every newcomer while the silent connections were held.
func TestSilentConnectionsDoNotLockOut(t *testing.T) {
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), 1<<20, 11)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 64<<10)
	seeder := newTestClient(t, Config{HandshakeStartTimeout: time.Minute})
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})
	addr := seeder.Addr().String()

	attacker := netip.MustParseAddr("127.0.0.2")
	holdSilent(t, "127.0.0.2", addr, 200)
	// Every connection that reached the gate was admitted; those beyond
	// the per-address bound displaced the address's oldest.
	waitFor(t, 10*time.Second, "the attacker's connections to reach the gate", func() bool {
		_, fromIP, displaced := seeder.gate.counts(attacker)
		return fromIP == maxPendingPerLoopbackIP && displaced == 200-maxPendingPerLoopbackIP
	})
	holdSilent(t, "127.0.0.3", addr, maxPendingPerLoopbackIP)
	holdSilent(t, "127.0.0.4", addr, maxPendingPerLoopbackIP)
	waitFor(t, 10*time.Second, "the gate to fill", func() bool {
		pending, _, _ := seeder.gate.counts(attacker)
		return pending == maxPendingHandshakes
	})

	// 42 honest peers, six at a time: the gate splits its budget fairly
	// among addresses, and 42 handshakes at once from one address would be
	// a heavy hitter itself.
	errs := make(chan error, 42)
	for wave := range 7 {
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				if err := honestHandshake(addr, mi.InfoHash, wave*6+i); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
	}
	close(errs)
	failed := 0
	for err := range errs {
		failed++
		t.Logf("honest handshake: %v", err)
	}
	if failed > 0 {
		t.Fatalf("%d of 42 honest handshakes failed while silent connections were held", failed)
	}

	getter := newTestClient(t, Config{})
	out := t.TempDir()
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{addr}})
	waitDone(t, tor, 30*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
	if pending, _, _ := seeder.gate.counts(attacker); pending > maxPendingHandshakes {
		t.Errorf("%d handshakes pending, bound %d", pending, maxPendingHandshakes)
	}
}

// TestSilentConnectionClosedEarly: a connection that sends nothing is
// closed once the handshake-start timeout passes, long before the full
// handshake timeout.
func TestSilentConnectionClosedEarly(t *testing.T) {
	c := newTestClient(t, Config{HandshakeStartTimeout: 200 * time.Millisecond})
	nc, err := net.Dial("tcp", c.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(handshakeTimeout / 2))
	var b [1]byte
	_, err = nc.Read(b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("silent connection still open after %v (start timeout %v)", handshakeTimeout/2, c.hsStartTimeout)
	}
	if err == nil {
		t.Fatal("the client sent bytes to a connection that sent no handshake")
	}
}
