package client

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/tracker"
	"github.com/shoal-p2p/shoal/zone"
)

// TestZoneSentWithAnnounces: a Client's zone reaches a real tracker with
// its announces and is stored with the peer; New refuses a bad label.
func TestZoneSentWithAnnounces(t *testing.T) {
	if _, err := New(Config{ListenAddr: "127.0.0.1:0", Zone: "dc1//rack1"}); !errors.Is(err, zone.ErrInvalid) {
		t.Fatalf("New with a bad zone: %v", err)
	}
	store := tracker.NewMemoryStore(time.Minute, 0, 0)
	hs := httptest.NewServer(tracker.NewServer(tracker.ServerConfig{Store: store}))
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	path := filepath.Join(dir, "payload.bin")
	writeRandomFile(t, path, 64<<10, 1)
	mi := createTorrent(t, path, 16<<10)
	c := newTestClient(t, Config{Zone: "dc1/row4/rack12"})
	addTorrent(t, c, mi, TorrentOptions{Dir: dir, Trackers: []string{hs.URL + "/announce"}})
	waitFor(t, 10*time.Second, "the announce", func() bool {
		ps, err := store.Peers(context.Background(), mi.InfoHash, time.Now())
		return err == nil && len(ps) == 1 && ps[0].Zone == "dc1/row4/rack12"
	})
}

// TestZoneInExtendedHandshake: the zones travel in the BEP 10 handshakes
// and reach the cores on loopback. A seeder and getter A share dc1/rack1,
// getter B is in dc1/rack2: A sees one near peer and one far, B two far
// ones, and B, whose peers are all far, still gets every piece (slowed to
// about 3 s so the counts can be read while the peers are connected).
func TestZoneInExtendedHandshake(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "payload.bin"), 768<<10, 3)
	mi := createTorrent(t, filepath.Join(src, "payload.bin"), 64<<10)
	seeder := newTestClient(t, Config{Zone: "dc1/rack1"})
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})
	a := newTestClient(t, Config{Zone: "dc1/rack1"})
	b := newTestClient(t, Config{Zone: "dc1/rack2"})
	dirA, dirB := t.TempDir(), t.TempDir()
	ta := addTorrent(t, a, mi, TorrentOptions{Dir: dirA, DownloadLimit: 256 << 10,
		Peers: []string{seeder.Addr().String(), b.Addr().String()}})
	tb := addTorrent(t, b, mi, TorrentOptions{Dir: dirB, DownloadLimit: 256 << 10,
		Peers: []string{seeder.Addr().String(), a.Addr().String()}})
	waitFor(t, 10*time.Second, "A: 1 near and 1 far peer, B: 2 far peers", func() bool {
		sa, sb := ta.Stats(), tb.Stats()
		return sa.NearPeers == 1 && sa.FarPeers == 1 && sb.NearPeers == 0 && sb.FarPeers == 2
	})
	waitDone(t, ta, 60*time.Second)
	waitDone(t, tb, 60*time.Second)
	sameFile(t, filepath.Join(dirA, "payload.bin"), data)
	sameFile(t, filepath.Join(dirB, "payload.bin"), data)
}

// TestFarPeersBounded: a getter keeps at most peers.DefaultMaxFar far
// peers that are not seeds while it downloads. Getter G in dc1/rack1
// dials a seeder and DefaultMaxFar+1 getters, all in dc1/rack2 (the
// getters have nothing, so none is more useful than another): the
// seeder is kept (a far seed does not count), one getter is closed, and
// G does not dial it again while its far slots stay full.
func TestFarPeersBounded(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeRandomFile(t, filepath.Join(src, "payload.bin"), 768<<10, 4)
	mi := createTorrent(t, filepath.Join(src, "payload.bin"), 64<<10)
	seeder := newTestClient(t, Config{Zone: "dc1/rack2"})
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true, NoPEX: true})
	addrs := []string{seeder.Addr().String()}
	var far []*Torrent
	for range peers.DefaultMaxFar + 1 {
		p := newTestClient(t, Config{Zone: "dc1/rack2"})
		far = append(far, addTorrent(t, p, mi, TorrentOptions{Dir: t.TempDir(), NoPEX: true}))
		addrs = append(addrs, p.Addr().String())
	}
	g := newTestClient(t, Config{Zone: "dc1/rack1"})
	tg := addTorrent(t, g, mi, TorrentOptions{Dir: t.TempDir(), DownloadLimit: 64 << 10, NoPEX: true, Peers: addrs})
	connected := func() (n int) {
		for _, p := range far {
			n += p.Stats().Peers
		}
		return n
	}
	waitFor(t, 10*time.Second, "G: the seeder and DefaultMaxFar far getters", func() bool {
		st := tg.Stats()
		return st.FarPeers == peers.DefaultMaxFar+1 && st.Peers == peers.DefaultMaxFar+1 && connected() == peers.DefaultMaxFar
	})
	// Past the first redial (1 s) nothing changes: the closed getter is
	// left alone.
	time.Sleep(2500 * time.Millisecond)
	if st, n := tg.Stats(), connected(); st.Complete || st.Peers != peers.DefaultMaxFar+1 || n != peers.DefaultMaxFar {
		t.Fatalf("G: %d peers (%d far, complete %v), %d getters connected; want the seeder and %d getters",
			st.Peers, st.FarPeers, st.Complete, n, peers.DefaultMaxFar)
	}
	if tg.Stats().Complete {
		t.Fatal("G completed before the check: the test needs a slower download")
	}
}
