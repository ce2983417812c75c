package client

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

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
