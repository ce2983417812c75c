package tracker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// checkZoneIndex asserts the memory store's zone index of ih: every
// labelled peer sits in its label's pool of its kind at its zpos, nothing
// else is there, and no label is kept without a peer.
func checkZoneIndex(t *testing.T, m *MemoryStore, ih [20]byte) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.swarms[ih]
	if s == nil {
		return
	}
	indexed := 0
	for label, zp := range s.zones {
		n := 0
		for pool, ps := range zp {
			for i, mp := range ps {
				if mp.Zone != label || mp.pool != pool || mp.zpos != i || s.byID[mp.ID] != mp {
					t.Fatalf("zone %q pool %d slot %d holds %x (zone %q, pool %d, zpos %d, live %v)",
						label, pool, i, mp.ID[:3], mp.Zone, mp.pool, mp.zpos, s.byID[mp.ID] == mp)
				}
				n++
			}
		}
		if n == 0 {
			t.Fatalf("zone %q kept with no peer", label)
		}
		indexed += n
	}
	labelled := 0
	for _, mp := range s.byID {
		if mp.Zone != "" {
			labelled++
		}
	}
	if indexed != labelled {
		t.Fatalf("%d peers in the zone index, %d labelled peers", indexed, labelled)
	}
}

// TestMemoryStoreZoneIndex: random puts (peers changing label, kind and
// address, taking another's address), removals and expiry keep the zone
// index exact, and a swarm whose peers all left keeps no label.
func TestMemoryStoreZoneIndex(t *testing.T) {
	ctx, now := context.Background(), time.Unix(1000, 0)
	m := NewMemoryStoreWith(MemoryStoreConfig{TTL: 10 * time.Second, Rand: rand.New(rand.NewPCG(3, 3))})
	ih := id20("zones")
	rng := rand.New(rand.NewPCG(9, 9))
	labels := []string{"", "dc1/row1/rack1", "dc1/row1/rack2", "dc1/row2/rack3", "dc2"}
	for step := range 3000 {
		id := id20(fmt.Sprint("p", rng.IntN(60)))
		switch r := rng.IntN(10); {
		case r < 7:
			p := Peer{ID: id, Addr: loop(uint16(1 + rng.IntN(80))), Left: int64(rng.IntN(2)), Zone: labels[rng.IntN(len(labels))]}
			if rng.IntN(8) == 0 {
				p.Addr = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::1"), p.Addr.Port())
			}
			if err := m.Put(ctx, ih, p, now); err != nil && !errors.Is(err, ErrPeerIDTaken) {
				t.Fatal(err)
			}
		case r < 9:
			m.Remove(ctx, ih, Peer{ID: id, Addr: loop(1)}, now)
		default:
			now = now.Add(time.Duration(rng.IntN(4)) * time.Second)
		}
		if step%10 == 0 {
			// Peers share addresses (every IPv4 one is 127.0.0.1, grouped
			// by the store), so the zone part and the swarm's parts meet
			// in the same address groups: still no peer twice.
			d := Draw{Any: rng.IntN(80), Seeders: rng.IntN(5), Zone: labels[1+rng.IntN(4)],
				Near: NearDraw{Seeders: rng.IntN(20), Leechers: rng.IntN(20), Any: rng.IntN(5)}}
			ps, _, _ := m.Sample(ctx, ih, d, now, nil)
			seen := map[[20]byte]bool{}
			for _, p := range ps {
				if seen[p.ID] {
					t.Fatalf("step %d: %+v drew %x twice", step, d, p.ID[:3])
				}
				seen[p.ID] = true
			}
			if live, _ := m.Peers(ctx, ih, now); d.Any >= len(live) && len(ps) != len(live) {
				t.Fatalf("step %d: drew %d of %d live peers with Any %d", step, len(ps), len(live), d.Any)
			}
		}
		checkZoneIndex(t, m, ih)
	}
	// Everyone expires: the swarm and its labels go.
	m.Peers(ctx, ih, now.Add(time.Minute))
	if torrents, peers := m.Len(); torrents != 0 || peers != 0 {
		t.Fatalf("after expiry: %d torrents, %d peers", torrents, peers)
	}
}

// TestMemoryStoreZoneLabelsBounded: labels are indexed per peer, so a
// swarm at its peer bound whose every peer claims its own label holds at
// most that many, and re-labelling peers does not grow the index.
func TestMemoryStoreZoneLabelsBounded(t *testing.T) {
	ctx, now := context.Background(), time.Unix(1000, 0)
	m := NewMemoryStore(time.Minute, 0, 100)
	ih := id20("many")
	for i := range 1000 {
		p := Peer{ID: id20(fmt.Sprint("p", i%150)), Addr: loop(uint16(1 + i%150)), Left: 1, Zone: fmt.Sprint("rack", i)}
		m.Put(ctx, ih, p, now) // the last 50 IDs never fit
	}
	m.mu.Lock()
	labels := len(m.swarms[ih].zones)
	m.mu.Unlock()
	if labels > 100 {
		t.Fatalf("%d labels indexed in a swarm bounded to 100 peers", labels)
	}
	checkZoneIndex(t, m, ih)
}

// TestStoreSampleZone: a draw with a zone takes its near part only from
// peers with exactly that label, by kind, and never a peer twice across
// its parts.
func TestStoreSampleZone(t *testing.T) {
	ctx, now := context.Background(), time.Unix(1000, 0)
	s := NewMemoryStore(time.Minute, 0, 0)
	ih := id20("near")
	// 100 peers: rack r holds peers with i%10 == r; one seeder in three.
	for i := range 100 {
		p := Peer{ID: id20(fmt.Sprint("p", i)), Addr: loop(uint16(1000 + i)), Left: int64(min(1, i%3)),
			Zone: fmt.Sprintf("dc1/row%d/rack%d", i%10/5, i%10)}
		if err := s.Put(ctx, ih, p, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		d              Draw
		near, nearSeed int // peers from rack3 in the near part, how many seeders
		total          int
	}{
		{Draw{Zone: "dc1/row0/rack3", Near: NearDraw{Any: 4}}, 4, -1, 4},
		{Draw{Zone: "dc1/row0/rack3", Near: NearDraw{Seeders: 2, Leechers: 3}}, 5, 2, 5},
		{Draw{Zone: "dc1/row0/rack3", Near: NearDraw{Any: 50}}, 10, -1, 10},                // the whole rack
		{Draw{Zone: "dc1/row0/rack3", Near: NearDraw{Any: 50}, Any: 100}, 10, -1, 100},     // no peer twice
		{Draw{Zone: "dc1/row0/rack", Near: NearDraw{Any: 50}}, 0, -1, 0},                   // exact labels only
		{Draw{Zone: "dc1/row0/rack3", Near: NearDraw{Seeders: 50}, Leechers: 3}, 4, 4, 7},  // rack3 holds 4 seeders
		{Draw{Zone: "dc1/row0/rack3", Near: NearDraw{Any: 3}, Family: IPv6Only}, 0, -1, 0}, // no IPv6 peer
	} {
		ps, _, err := s.Sample(ctx, ih, tc.d, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[[20]byte]bool{}
		near, nearSeed := 0, 0
		for i, p := range ps {
			if seen[p.ID] {
				t.Fatalf("%+v drew %x twice", tc.d, p.ID[:3])
			}
			seen[p.ID] = true
			if i < tc.near {
				if p.Zone != tc.d.Zone {
					t.Fatalf("%+v: near part has %q", tc.d, p.Zone)
				}
				near++
				if p.Seeder() {
					nearSeed++
				}
			}
		}
		if near != tc.near || len(ps) != tc.total || (tc.nearSeed >= 0 && nearSeed != tc.nearSeed) {
			t.Fatalf("%+v: %d peers, %d near (%d seeders); want %d, %d (%d)", tc.d, len(ps), near, nearSeed, tc.total, tc.near, tc.nearSeed)
		}
	}
}
