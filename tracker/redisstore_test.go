package tracker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// startRedis runs a throwaway redis-server on a loopback port for the
// test and returns its URL. The test is skipped if Redis is not installed.
func startRedis(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	url, _ := startRedisOn(t, port)
	return url
}

// startRedisOn runs redis-server on the loopback port for the test, waits
// until it answers, and returns its URL and a function that kills it
// (also called when the test ends).
func startRedisOn(t testing.TB, port int) (string, func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (Debian package redis-server); skipping")
	}
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
	t.Cleanup(stop)
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	rs, err := NewRedisStore(url, "", time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rs.Ping(ctx)
		cancel()
		if err == nil {
			return url, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a process we started: no event to wait on
	}
}

func newRedisStore(t testing.TB, url, prefix string, ttl time.Duration, maxPeers int) *RedisStore {
	t.Helper()
	rs, err := NewRedisStore(url, prefix, ttl, maxPeers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	return rs
}

// TestStoreConformance runs the same scenario against both stores.
func TestStoreConformance(t *testing.T) {
	for name, mk := range storeMakers {
		t.Run(name, func(t *testing.T) {
			ctx, t0 := context.Background(), time.Unix(1000, 0)
			s := mk(t, 10*time.Second, 3)
			ih := id20("x")
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(s.Put(ctx, ih, storePeer("a", 1), t0))
			must(s.Put(ctx, ih, storePeer("b", 2), t0.Add(5*time.Second)))
			seed := storePeer("c", 3)
			seed.Left = 0
			must(s.Put(ctx, ih, seed, t0.Add(5*time.Second)))
			if err := s.Put(ctx, ih, storePeer("d", 4), t0.Add(5*time.Second)); !errors.Is(err, ErrSwarmFull) {
				t.Fatalf("fourth peer over a bound of 3: %v", err)
			}
			must(s.Completed(ctx, ih))
			if got := peerNames(t, s, ih, t0.Add(10*time.Second)); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("at ttl: %v", got)
			}
			if got := peerNames(t, s, ih, t0.Add(11*time.Second)); !slices.Equal(got, []string{"b", "c"}) {
				t.Fatalf("after a's ttl: %v", got)
			}
			// e restarts at b's address: b is gone.
			must(s.Put(ctx, ih, storePeer("e", 2), t0.Add(12*time.Second)))
			if got := peerNames(t, s, ih, t0.Add(12*time.Second)); !slices.Equal(got, []string{"c", "e"}) {
				t.Fatalf("after address reuse: %v", got)
			}
			st, err := s.Scrape(ctx, ih, t0.Add(12*time.Second))
			if err != nil || st != (SwarmStats{Complete: 1, Incomplete: 1, Downloaded: 1}) {
				t.Fatalf("scrape: %+v %v", st, err)
			}
			tot, err := s.Stats(ctx, t0.Add(12*time.Second))
			if err != nil || tot != (StoreStats{Torrents: 1, Peers: 2, Seeders: 1}) {
				t.Fatalf("stats: %+v %v", tot, err)
			}
			must(s.Remove(ctx, ih, storePeer("c", 0), t0.Add(12*time.Second)))
			must(s.Remove(ctx, ih, storePeer("never", 0), t0.Add(12*time.Second)))
			if got := peerNames(t, s, ih, t0.Add(12*time.Second)); !slices.Equal(got, []string{"e"}) {
				t.Fatalf("after remove: %v", got)
			}
		})
	}
}

// TestTwoServersShareRedis: a peer announced to one tracker is handed out
// by another tracker on the same Redis.
func TestTwoServersShareRedis(t *testing.T) {
	url := startRedis(t)
	one := newTestTracker(t, ServerConfig{Store: newRedisStore(t, url, "", time.Minute, 0)})
	two := newTestTracker(t, ServerConfig{Store: newRedisStore(t, url, "", time.Minute, 0)})
	one.announce(t, peerReq("seed", 4000, 0))
	got := two.announce(t, peerReq("leech", 5000, 10))
	if !slices.Equal(got.Peers, []netip.AddrPort{loop(4000)}) || got.Complete != 1 {
		t.Fatalf("second tracker handed out %+v", got)
	}
}

// TestRedisStoreIndexStaysDense: after random puts (peers flipping
// between seeder and leecher, moving address, reusing another's address),
// removals and expiry, every pool's index hashes are dense and agree, and
// hold exactly the live peers.
func TestRedisStoreIndexStaysDense(t *testing.T) {
	rs := newRedisStore(t, startRedis(t), "dense:", 10*time.Second, 0)
	ctx, now := context.Background(), time.Unix(1000, 0)
	ih := id20("dense")
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range 600 {
		now = now.Add(50 * time.Millisecond)
		id := id20(fmt.Sprint("q", rng.IntN(60)))
		if rng.IntN(6) == 0 {
			if err := rs.Remove(ctx, ih, Peer{ID: id, Key: "k" + string(id[:3])}, now); err != nil {
				t.Fatal(err)
			}
			continue
		}
		// Keyed, so a peer may move between addresses.
		p := Peer{ID: id, Key: "k" + string(id[:3]), Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(5))}), uint16(1+rng.IntN(80))),
			Left: int64(rng.IntN(2))}
		if rng.IntN(4) == 0 {
			p.Addr = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::7"), p.Addr.Port())
		}
		if err := rs.Put(ctx, ih, p, now); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	keys := rs.swarmKeys(ih)
	total := 0
	for p := range numPools {
		at, err := rs.rdb.HGetAll(ctx, keys[rkAt+p]).Result()
		if err != nil {
			t.Fatal(err)
		}
		pos, _ := rs.rdb.HGetAll(ctx, keys[rkPos+p]).Result()
		if len(at) != len(pos) {
			t.Fatalf("pool %d: %d positions, %d IDs", p, len(at), len(pos))
		}
		for i := range len(at) {
			id, ok := at[fmt.Sprint(i)]
			if !ok || pos[id] != fmt.Sprint(i) {
				t.Fatalf("pool %d: position %d holds %q, whose position is %q", p, i, id, pos[id])
			}
			v, err := rs.rdb.HGet(ctx, keys[rkPeers], id).Result()
			peer, _, ok := decodeRedisPeer(id, v)
			if err != nil || !ok || poolOf(peer) != p {
				t.Fatalf("pool %d holds %x: %v %v", p, id, peer, err)
			}
		}
		total += len(at)
		// The pool's groups are dense too, and each has members.
		gat, _ := rs.rdb.HGetAll(ctx, keys[rkGroupAt+p]).Result()
		gpos, _ := rs.rdb.HGetAll(ctx, keys[rkGroupPos+p]).Result()
		members, _ := rs.rdb.ZRange(ctx, keys[rkMembers+p], 0, -1).Result()
		if len(gat) != len(gpos) || len(members) != len(at) {
			t.Fatalf("pool %d: %d group positions, %d groups, %d members for %d peers", p, len(gat), len(gpos), len(members), len(at))
		}
		inGroup := map[string]int{}
		for _, m := range members {
			inGroup[m[:len(m)-20]]++
		}
		if len(inGroup) != len(gat) {
			t.Fatalf("pool %d: members in %d groups, index of %d", p, len(inGroup), len(gat))
		}
		for i := range len(gat) {
			if g, ok := gat[fmt.Sprint(i)]; !ok || gpos[g] != fmt.Sprint(i) || inGroup[g] == 0 {
				t.Fatalf("pool %d: group position %d holds %q (%d members)", p, i, g, inGroup[g])
			}
		}
	}
	// Address counts agree with the members.
	counts, _ := rs.rdb.HGetAll(ctx, keys[rkAddrCount]).Result()
	perAddr := map[string]int{}
	groupOf, _ := rs.rdb.HGetAll(ctx, keys[rkGroupOf]).Result()
	for _, g := range groupOf {
		perAddr[g[1:]]++
	}
	for g, n := range perAddr {
		if counts[g] != fmt.Sprint(n) {
			t.Fatalf("address %x: count %q, %d peers", g, counts[g], n)
		}
		if sc := rs.rdb.ZScore(ctx, keys[rkHeavy], g).Val(); int(sc)/2 != n {
			t.Fatalf("address %x: heavy score %v, %d peers", g, sc, n)
		}
	}
	if len(counts) != len(perAddr) || len(groupOf) != total {
		t.Fatalf("%d counted addresses for %d; %d group entries for %d peers", len(counts), len(perAddr), len(groupOf), total)
	}
	if n := rs.rdb.HLen(ctx, keys[rkPeers]).Val(); int(n) != total {
		t.Fatalf("%d peers, %d in the pools", n, total)
	}
	if n := rs.rdb.HLen(ctx, keys[rkAddrs]).Val(); int(n) != total {
		t.Fatalf("%d addresses indexed for %d peers", n, total)
	}
}
