package tracker

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func storePeer(name string, port uint16) Peer {
	return Peer{ID: id20(name), Addr: loop(port), Left: 1}
}

func peerNames(t *testing.T, s Store, ih [20]byte, now time.Time) []string {
	t.Helper()
	ps, err := s.Peers(context.Background(), ih, now)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, string(p.ID[:1]))
	}
	slices.Sort(names)
	return names
}

func TestMemoryStorePutRemoveExpire(t *testing.T) {
	ctx, t0 := context.Background(), time.Unix(1000, 0)
	s := NewMemoryStore(10*time.Second, 0, 0)
	ih := id20("x")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Put(ctx, ih, storePeer("a", 1), t0))
	must(s.Put(ctx, ih, storePeer("b", 2), t0.Add(5*time.Second)))
	if got := peerNames(t, s, ih, t0.Add(10*time.Second)); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("at ttl: %v", got)
	}
	if got := peerNames(t, s, ih, t0.Add(11*time.Second)); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after a's ttl: %v", got)
	}
	must(s.Remove(ctx, ih, id20("b"), t0.Add(11*time.Second)))
	must(s.Remove(ctx, ih, id20("never"), t0.Add(11*time.Second)))
	if got := peerNames(t, s, ih, t0.Add(11*time.Second)); len(got) != 0 {
		t.Fatalf("after remove: %v", got)
	}
	if torrents, peers := s.Len(); torrents != 0 || peers != 0 {
		t.Fatalf("empty swarm kept: %d torrents %d peers", torrents, peers)
	}
}

func TestMemoryStoreSweepsIdleSwarms(t *testing.T) {
	ctx, t0 := context.Background(), time.Unix(1000, 0)
	s := NewMemoryStore(10*time.Second, 0, 0)
	for i := range 5 {
		if err := s.Put(ctx, id20(string(rune('a'+i))), storePeer("p", 1), t0); err != nil {
			t.Fatal(err)
		}
	}
	// An announce to another torrent, a TTL later, frees the idle swarms.
	if err := s.Put(ctx, id20("other"), storePeer("q", 2), t0.Add(11*time.Second)); err != nil {
		t.Fatal(err)
	}
	if torrents, peers := s.Len(); torrents != 1 || peers != 1 {
		t.Fatalf("after sweep: %d torrents %d peers, want 1 1", torrents, peers)
	}
}

func TestMemoryStoreUpdateAndAddressReuse(t *testing.T) {
	ctx, now := context.Background(), time.Unix(1000, 0)
	s := NewMemoryStore(time.Minute, 0, 0)
	ih := id20("x")
	a := storePeer("a", 1)
	s.Put(ctx, ih, a, now)
	a.Addr, a.Left = loop(9), 0
	s.Put(ctx, ih, a, now) // a moved and finished
	s.Put(ctx, ih, storePeer("b", 1), now)
	s.Put(ctx, ih, storePeer("c", 9), now) // c restarted where a now is
	ps, _ := s.Peers(ctx, ih, now)
	got := map[string]netip.AddrPort{}
	for _, p := range ps {
		got[string(p.ID[:1])] = p.Addr
	}
	want := map[string]netip.AddrPort{"b": loop(1), "c": loop(9)}
	if len(got) != len(want) || got["b"] != want["b"] || got["c"] != want["c"] {
		t.Fatalf("peers %v, want %v", got, want)
	}
}

func TestMemoryStoreBounds(t *testing.T) {
	ctx, now := context.Background(), time.Unix(1000, 0)
	s := NewMemoryStore(time.Minute, 2, 2)
	s.Put(ctx, id20("t1"), storePeer("a", 1), now)
	s.Put(ctx, id20("t1"), storePeer("b", 2), now)
	if err := s.Put(ctx, id20("t1"), storePeer("c", 3), now); !errors.Is(err, ErrSwarmFull) {
		t.Fatalf("third peer: %v", err)
	}
	if err := s.Put(ctx, id20("t1"), storePeer("a", 1), now); err != nil {
		t.Fatalf("re-announce in a full swarm: %v", err)
	}
	s.Put(ctx, id20("t2"), storePeer("a", 1), now)
	if err := s.Put(ctx, id20("t3"), storePeer("a", 1), now); !errors.Is(err, ErrTooManyTorrents) {
		t.Fatalf("third torrent: %v", err)
	}
	if torrents, _ := s.Len(); torrents != 2 {
		t.Fatalf("torrents = %d", torrents)
	}
}
