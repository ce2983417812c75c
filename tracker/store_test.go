package tracker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
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
	must(s.Remove(ctx, ih, storePeer("b", 0), t0.Add(11*time.Second)))
	must(s.Remove(ctx, ih, storePeer("never", 0), t0.Add(11*time.Second)))
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

// storeMakers builds each Store implementation for the shared tests; the
// Redis one skips when redis-server is not installed.
var storeMakers = map[string]func(t *testing.T, ttl time.Duration, maxPeers int) Store{
	"memory": func(t *testing.T, ttl time.Duration, maxPeers int) Store { return NewMemoryStore(ttl, 0, maxPeers) },
	"redis": func(t *testing.T, ttl time.Duration, maxPeers int) Store {
		return newRedisStore(t, startRedis(t), "test:"+t.Name()+":", ttl, maxPeers)
	},
}

// TestStoreSample checks what Sample draws in both stores: the parts of a
// draw, no peer twice, never more than asked or than there are, one
// family when asked, the counts, and a uniform spread over many draws.
func TestStoreSample(t *testing.T) {
	for name, mk := range storeMakers {
		t.Run(name, func(t *testing.T) {
			ctx, now := context.Background(), time.Unix(1000, 0)
			s := mk(t, time.Minute, 0)
			ih := id20("sample")
			// 10 IPv4 seeders, 30 IPv4 leechers, 5 IPv6 leechers, each at
			// an address of its own.
			for i := range 45 {
				p := Peer{ID: id20(fmt.Sprint("p", i)), Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 6881)}
				if i >= 10 {
					p.Left = 5
				}
				if i >= 40 {
					p.Addr = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i), 15: 1}), 6881)
				}
				if err := s.Put(ctx, ih, p, now); err != nil {
					t.Fatal(err)
				}
			}
			draw := func(d Draw) []Peer {
				t.Helper()
				ps, st, err := s.Sample(ctx, ih, d, now, nil)
				if err != nil {
					t.Fatal(err)
				}
				if st != (SwarmStats{Complete: 10, Incomplete: 35}) {
					t.Fatalf("counts %+v", st)
				}
				seen := map[[20]byte]bool{}
				for _, p := range ps {
					if seen[p.ID] {
						t.Fatalf("%v drew %x twice", d, p.ID[:3])
					}
					seen[p.ID] = true
				}
				return ps
			}
			kinds := func(ps []Peer) (seeders, leechers, v6 int) {
				for _, p := range ps {
					if p.Seeder() {
						seeders++
					} else {
						leechers++
					}
					if p.Addr.Addr().Is6() {
						v6++
					}
				}
				return
			}
			if sd, lc, _ := kinds(draw(Draw{Seeders: 4, Leechers: 7})); sd != 4 || lc != 7 {
				t.Fatalf("Seeders 4 Leechers 7 drew %d and %d", sd, lc)
			}
			if sd, lc, _ := kinds(draw(Draw{Seeders: 50, Leechers: 50})); sd != 10 || lc != 35 {
				t.Fatalf("more than there are drew %d and %d, want all 10 and 35", sd, lc)
			}
			if ps := draw(Draw{Seeders: 3, Any: 100}); len(ps) != 45 {
				t.Fatalf("Seeders 3 Any 100 drew %d of 45", len(ps))
			}
			if sd, lc, v6 := kinds(draw(Draw{Seeders: 5, Leechers: 50, Family: IPv6Only})); sd != 0 || lc != 5 || v6 != 5 {
				t.Fatalf("IPv6 only drew %d seeders, %d leechers, %d IPv6", sd, lc, v6)
			}
			if _, _, v6 := kinds(draw(Draw{Any: 50, Family: IPv4Only})); v6 != 0 {
				t.Fatalf("IPv4 only drew %d IPv6 peers", v6)
			}
			if ps := draw(Draw{}); len(ps) != 0 {
				t.Fatalf("empty draw gave %d", len(ps))
			}
			// Any is uniform over the swarm: each of 45 peers is in a draw
			// of 5 with probability 1/9.
			const rounds = 900
			hits := map[[20]byte]int{}
			for range rounds {
				for _, p := range draw(Draw{Any: 5}) {
					hits[p.ID]++
				}
			}
			for i := range 45 {
				// Expected 100; 50..150 is over 5 standard deviations out.
				if h := hits[id20(fmt.Sprint("p", i))]; h < 50 || h > 150 {
					t.Fatalf("peer %d drawn %d times in %d draws of 5 from 45, want about 100", i, h, rounds)
				}
			}
			// A swarm nobody is in draws nothing and counts nothing.
			if ps, st, err := s.Sample(ctx, id20("nobody"), Draw{Any: 5}, now, nil); err != nil || len(ps) != 0 || st != (SwarmStats{}) {
				t.Fatalf("empty swarm: %v %+v %v", ps, st, err)
			}
		})
	}
}

// TestAnnounceDoesNotCopyTheSwarm: an announce allocates the same in a
// swarm of 20 peers as in one of 5,000 (the old tracker copied every peer
// per announce). Time per announce against swarm size is a benchmark
// (BenchmarkAnnounceSwarmSize).
func TestAnnounceDoesNotCopyTheSwarm(t *testing.T) {
	allocs := func(n int) float64 {
		now := time.Unix(1_700_000_000, 0)
		srv := NewServer(ServerConfig{MaxPeersPerTorrent: 2 * n, Now: func() time.Time { return now }, Logger: discard()})
		ih := id20("copy")
		for i := range n {
			id, addr, left := benchPeer(i)
			srv.cfg.Store.Put(context.Background(), ih, Peer{ID: id, Addr: addr, Left: left, Downloaded: 1}, now)
		}
		id, addr, left := benchPeer(n / 2)
		pkt := benchUDPAnnounce(nil, srv.connIDs.Issue(addr.Addr(), now), ih, id, addr.Port(), left)
		out := make([]byte, 0, trackerclient.UDPMaxPacket)
		return testing.AllocsPerRun(50, func() {
			srv.HandleUDP(context.Background(), pkt, netip.AddrPortFrom(addr.Addr(), 1), out[:0])
		})
	}
	small, large := allocs(20), allocs(5000)
	if large > small+2 {
		t.Fatalf("announce allocates %.0f times in a swarm of 5,000, %.0f in one of 20", large, small)
	}
}

// TestStoreSampleFairToAddresses: in a swarm where one address holds 100
// seeders and 9 others hold one each, a draw of 10 seeders takes one from
// each address, and a draw of 30 takes every lone seeder; peers at an
// exempt address count one by one.
func TestStoreSampleFairToAddresses(t *testing.T) {
	for name, mk := range storeMakers {
		t.Run(name, func(t *testing.T) {
			ctx, now := context.Background(), time.Unix(1000, 0)
			s := mk(t, time.Minute, 0)
			ih := id20("fair")
			crowd := netip.MustParseAddr("192.0.2.66")
			for i := range 100 {
				p := Peer{ID: id20(fmt.Sprint("crowd", i)), Addr: netip.AddrPortFrom(crowd, uint16(2000+i))}
				if err := s.Put(ctx, ih, p, now); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 9 {
				p := Peer{ID: id20(fmt.Sprint("lone", i)), Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 6881)}
				if err := s.Put(ctx, ih, p, now); err != nil {
					t.Fatal(err)
				}
			}
			for range 20 {
				ps, _, err := s.Sample(ctx, ih, Draw{Seeders: 10}, now, nil)
				if err != nil {
					t.Fatal(err)
				}
				addrs := map[netip.Addr]int{}
				for _, p := range ps {
					addrs[p.Addr.Addr()]++
				}
				if len(ps) != 10 || len(addrs) != 10 {
					t.Fatalf("10 seeders from %d addresses: %v", len(addrs), addrs)
				}
				ps, _, _ = s.Sample(ctx, ih, Draw{Seeders: 30}, now, nil)
				lone := 0
				for _, p := range ps {
					if p.Addr.Addr() != crowd {
						lone++
					}
				}
				if len(ps) != 30 || lone != 9 {
					t.Fatalf("30 seeders held %d of the 9 lone ones", lone)
				}
			}
		})
	}
}

// limitedStores builds each Store with a per-address bound and a swarm
// bound, for the shared tests of both.
var limitedStores = map[string]func(t *testing.T, maxPeers int, l AddrLimit) Store{
	"memory": func(t *testing.T, maxPeers int, l AddrLimit) Store {
		return NewMemoryStoreWith(MemoryStoreConfig{TTL: time.Minute, MaxPeersPerTorrent: maxPeers, AddrLimit: l})
	},
	"redis": func(t *testing.T, maxPeers int, l AddrLimit) Store {
		rs, err := NewRedisStoreWith(RedisStoreConfig{URL: startRedis(t), Prefix: "test:" + t.Name() + ":", TTL: time.Minute,
			MaxPeersPerTorrent: maxPeers, AddrLimit: l})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		return rs
	},
}

// TestStoreAddrLimitAndEviction checks, in both stores: the per-address
// bound; a newcomer to a full swarm displacing a peer of the heaviest
// address only while that address holds two more than the newcomer's;
// the victim being its address's least worth keeping (not the keyed
// peer, not the one seen to complete); exempt peers neither bounded nor
// displaced; and a listed peer ID not moved or stopped from another IP
// without its key.
func TestStoreAddrLimitAndEviction(t *testing.T) {
	for name, mk := range limitedStores {
		t.Run(name, func(t *testing.T) {
			ctx, now := context.Background(), time.Unix(1000, 0)
			s := mk(t, 5, AddrLimit{Max: 3, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
			ih := id20("limit")
			at := func(host byte, port uint16) netip.AddrPort {
				return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, host}), port)
			}
			put := func(name string, addr netip.AddrPort, left, downloaded int64, key string) error {
				now = now.Add(time.Second)
				return s.Put(ctx, ih, Peer{ID: id20(name), Addr: addr, Left: left, Downloaded: downloaded, Key: key}, now)
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			listed := func() []string {
				t.Helper()
				return peerNames(t, s, ih, now)
			}
			// A holds three (one keyed, one seen to complete, one plain and
			// oldest), B two.
			must(put("p", at(1, 3), 5, 0, ""))
			must(put("k", at(1, 1), 5, 0, "k1"))
			must(put("c", at(1, 2), 5, 0, ""))
			must(put("c", at(1, 2), 0, 9, "")) // c completed, with progress
			if err := put("x", at(1, 4), 5, 0, ""); !errors.Is(err, ErrAddressFull) {
				t.Fatalf("4th peer of one address: %v", err)
			}
			must(put("b", at(2, 1), 5, 0, ""))
			must(put("e", at(2, 2), 5, 0, ""))
			// Full at 5. A newcomer from D displaces A's plain peer.
			must(put("d", at(4, 1), 5, 0, ""))
			if got := listed(); !slices.Equal(got, []string{"b", "c", "d", "e", "k"}) {
				t.Fatalf("after the first newcomer: %v, want p displaced", got)
			}
			// Now A, B hold 2 each and D 1: D's second peer may not push a
			// peer out (2 < 1+2), nor may B's third.
			if err := put("d2", at(4, 2), 5, 0, ""); !errors.Is(err, ErrSwarmFull) {
				t.Fatalf("newcomer from an address as heavy as the rest: %v", err)
			}
			// A newcomer from a fifth address may (2 >= 0+2).
			must(put("f", at(5, 1), 5, 0, ""))
			if got := listed(); len(got) != 5 || !slices.Contains(got, "f") || !slices.Contains(got, "k") {
				t.Fatalf("after the fifth address: %v", got)
			}

			// The keyed peer, from another IP: without its key neither a
			// refresh nor a stop takes; with it, both do.
			if err := put("k", at(9, 1), 5, 0, "guess"); !errors.Is(err, ErrPeerIDTaken) {
				t.Fatalf("forged refresh: %v", err)
			}
			must(s.Remove(ctx, ih, Peer{ID: id20("k"), Addr: at(9, 1)}, now))
			if !slices.Contains(listed(), "k") {
				t.Fatal("forged stop removed the keyed peer")
			}
			must(s.Remove(ctx, ih, Peer{ID: id20("k"), Addr: at(9, 1), Key: "k1"}, now))
			if slices.Contains(listed(), "k") {
				t.Fatal("stop with the key did not remove the peer")
			}

			// Exempt peers: any number, and never displaced.
			ex := id20("exempt")
			s2 := mk(t, 4, AddrLimit{Max: 1, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
			for i := range 4 {
				if err := s2.Put(ctx, ex, Peer{ID: id20(fmt.Sprint("l", i)), Addr: loop(uint16(100 + i))}, now); err != nil {
					t.Fatalf("exempt peer %d: %v", i, err)
				}
			}
			if err := s2.Put(ctx, ex, Peer{ID: id20("out"), Addr: at(7, 1)}, now); !errors.Is(err, ErrSwarmFull) {
				t.Fatalf("newcomer to a swarm of exempt peers: %v", err)
			}
		})
	}
}
