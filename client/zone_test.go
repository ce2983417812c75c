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
