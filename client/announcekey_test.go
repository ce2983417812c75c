package client

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/tracker"
)

// TestAnnounceKeyNotFromPeerID: the tracker key a Client announces with is
// random, not derived from its peer ID, which every tracker reply in the
// dictionary form and every handshake reveal: two Clients with the same
// peer ID announce different keys of at least 64 bits, so a tracker that
// lets the key holder move or stop an entry (tracker.mayActFor) cannot be
// fooled by someone who only learnt the ID.
func TestAnnounceKeyNotFromPeerID(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "payload.bin")
	writeRandomFile(t, path, 64<<10, 1)
	mi := createTorrent(t, path, 16<<10)
	id := NewPeerID()
	keys := make([]string, 2)
	for i := range keys {
		store := tracker.NewMemoryStore(time.Minute, 0, 0)
		hs := httptest.NewServer(tracker.NewServer(tracker.ServerConfig{Store: store}))
		t.Cleanup(hs.Close)
		c := newTestClient(t, Config{PeerID: id})
		addTorrent(t, c, mi, TorrentOptions{Dir: dir, Trackers: []string{hs.URL + "/announce"}})
		waitFor(t, 10*time.Second, "the announce", func() bool {
			ps, err := store.Peers(context.Background(), mi.InfoHash, time.Now())
			if err != nil || len(ps) != 1 {
				return false
			}
			keys[i] = ps[0].Key
			return true
		})
		if len(keys[i]) < 16 {
			t.Fatalf("key %q: want at least 64 bits in hex", keys[i])
		}
	}
	if keys[0] == keys[1] {
		t.Fatalf("two Clients with peer ID %x announced the same key %q", id, keys[0])
	}
}
