package client

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/wire"
)

// fakePeer is an in-test BitTorrent peer that claims every piece, unchokes
// at once and answers every request with garbage.
type fakePeer struct {
	t        *testing.T
	ln       net.Listener
	ih       metainfo.InfoHash
	id       [20]byte
	mu       sync.Mutex
	accepted int
	served   int
	from     map[[20]byte]int // handshakes received, by the dialer's peer ID
	closed   chan struct{}    // one value per connection the client closed
	wg       sync.WaitGroup
}

func newFakePeer(t *testing.T, ih metainfo.InfoHash) *fakePeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &fakePeer{t: t, ln: ln, ih: ih, closed: make(chan struct{}, 64)}
	copy(p.id[:], "-XX0000-corruptpeer!")
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *fakePeer) addr() string { return p.ln.Addr().String() }

func (p *fakePeer) counts() (accepted, served int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.served
}

// handshakes returns how many connections to p the peer with this ID opened
// as far as the handshake.
func (p *fakePeer) handshakes(id [20]byte) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.from[id]
}

func (p *fakePeer) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepted++
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer nc.Close()
			if p.serve(nc) {
				p.closed <- struct{}{}
			}
		}()
	}
}

// serve runs one connection; it reports whether the other side closed it.
func (p *fakePeer) serve(nc net.Conn) bool {
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	hs, err := wire.ReadHandshake(nc)
	if err != nil || hs.InfoHash != p.ih {
		return false
	}
	p.mu.Lock()
	if p.from == nil {
		p.from = make(map[[20]byte]int)
	}
	p.from[hs.PeerID]++
	p.mu.Unlock()
	ours := wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: p.ih, PeerID: p.id}
	if _, err := nc.Write(ours.Marshal()); err != nil {
		return false
	}
	if err := wire.WriteMessage(nc, wire.Message{Type: wire.HaveAll}); err != nil {
		return false
	}
	if err := wire.WriteMessage(nc, wire.Message{Type: wire.Unchoke}); err != nil {
		return false
	}
	r := wire.NewReader(nc, 1<<20)
	garbage := make([]byte, wire.BlockSize)
	for i := range garbage {
		garbage[i] = byte(i*7 + 1)
	}
	for {
		m, err := r.ReadMessage()
		if errors.Is(err, wire.ErrUnknownMessage) {
			continue
		}
		if err != nil {
			return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
		}
		if m.KeepAlive || m.Type != wire.Request || m.Length > wire.BlockSize {
			continue
		}
		err = wire.WriteMessage(nc, wire.Message{Type: wire.Piece, Index: m.Index, Begin: m.Begin, Block: garbage[:m.Length]})
		if err != nil {
			return true
		}
		p.mu.Lock()
		p.served++
		p.mu.Unlock()
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

// TestCorruptPeerBanned gives a getter a corrupting peer and an honest,
// slower seeder: it completes with the right bytes, bans the corrupter,
// closes its connection and never dials it again.
func TestCorruptPeerBanned(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), 2<<20, 9)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 32<<10)

	fake := newFakePeer(t, mi.InfoHash)
	seeder := newTestClient(t, Config{UploadLimit: 2 << 20})
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})
	getter := newTestClient(t, Config{})
	out := t.TempDir()
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{fake.addr(), seeder.Addr().String()}})

	select {
	case <-fake.closed:
	case <-time.After(30 * time.Second):
		acc, served := fake.counts()
		t.Fatalf("the corrupt peer's connection was not closed (accepted %d, served %d blocks): %+v", acc, served, tor.Stats())
	}
	// On a loaded machine the first close may be a handshake timeout and
	// the ban come on a redial: count the connections once the ban holds.
	for deadline := time.Now().Add(30 * time.Second); !getter.isBanned(addrBanKeys(fake.addr())...); {
		if time.Now().After(deadline) {
			t.Fatalf("the corrupt peer was not banned: %+v", tor.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Only the getter's dials count: the seeder may learn the corrupt
	// peer's address from the getter (PEX) and dial it, as it may.
	dialsAtBan := fake.handshakes(getter.PeerID())
	waitDone(t, tor, 60*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
	st := tor.Stats()
	if st.Banned < 1 || st.HashFails < 1 {
		t.Errorf("stats %+v: want at least one hash failure and one ban", st)
	}
	if !getter.isBanned(addrBanKeys(fake.addr())...) {
		t.Errorf("the corrupt peer's address %s is not banned", fake.addr())
	}
	if getter.isBanned(addrBanKeys(seeder.Addr().String())...) {
		t.Errorf("the honest seeder was banned")
	}
	// A closed candidate is retried after 5 s; wait past that and offer the
	// address again, as a tracker would.
	tor.AddPeers([]string{fake.addr()})
	time.Sleep(6500 * time.Millisecond) // absence check: no event to wait on
	acc, _ := fake.counts()
	t.Logf("connections to the corrupt peer: %d (getter %d, seeder %d)", acc, fake.handshakes(getter.PeerID()), fake.handshakes(seeder.PeerID()))
	if n := fake.handshakes(getter.PeerID()); n != dialsAtBan {
		t.Errorf("the banned peer was dialed again: %d connections from the getter, %d at the ban (%d from anyone, %d from the seeder)",
			n, dialsAtBan, acc, fake.handshakes(seeder.PeerID()))
	}
}
