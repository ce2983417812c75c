package dht

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// farthestFrom returns the ID at the greatest XOR distance from target.
func farthestFrom(target ID) ID { return target.Xor(allOnes) }

// TestGetPeersAsksBootstrapInYoungNetwork: a peer that announced when the
// bootstrap node was the only node it knew is found by nodes that joined
// later, although the bootstrap node is the farthest of all from the info
// hash and a plain lookup would never ask it.
func TestGetPeersAsksBootstrapInYoungNetwork(t *testing.T) {
	mn := NewMemNetwork()
	clock := newFakeClock()
	ih := ID{0xde, 0xad, 0xbe, 0xef}
	boot := newMemNode(t, mn, clock, 1, func(c *Config) { c.ID = farthestFrom(ih) })
	join := func(c *Config) { c.Bootstrap = []string{boot.Addr().String()} }
	ctx := context.Background()
	seeder := newMemNode(t, mn, clock, 2, join)
	if err := seeder.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if err := seeder.Announce(ctx, ih, 51413, false); err != nil {
		t.Fatal(err)
	}
	if s := boot.Stats(); s.StoredPeers != 1 {
		t.Fatalf("bootstrap node stores %d peers, want the early announce", s.StoredPeers)
	}
	var getters []*Node
	for i := 3; i <= 30; i++ {
		n := newMemNode(t, mn, clock, i, join)
		if err := n.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		getters = append(getters, n)
	}
	want := netip.AddrPortFrom(addrN(2).Addr(), 51413)
	for _, g := range getters[len(getters)-5:] {
		var streamed []netip.AddrPort
		peers, err := g.GetPeersFunc(ctx, ih, func(ps []netip.AddrPort) { streamed = append(streamed, ps...) })
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(peers, []netip.AddrPort{want}) || !slices.Equal(streamed, peers) {
			t.Fatalf("%v: GetPeersFunc = %v, streamed %v, want [%v]", g, peers, streamed, want)
		}
	}
	// The seeder's next announce also goes to the bootstrap node (which it
	// asked, though far away) besides the K closest.
	before := boot.Stats().Announces
	if err := seeder.Announce(ctx, ih, 51413, false); err != nil {
		t.Fatal(err)
	}
	if got := boot.Stats().Announces; got != before+1 {
		t.Fatalf("bootstrap node got %d re-announces, want 1", got-before)
	}
}

// TestPinnedDeadBootstrapNotWaitedForever: a pinned node that does not
// answer fails like any other; the lookup ends once its query times out.
func TestPinnedDeadBootstrapNotWaitedForever(t *testing.T) {
	mn := NewMemNetwork()
	clock := newFakeClock()
	ih := ID{0x42}
	boot := newMemNode(t, mn, clock, 1, func(c *Config) { c.ID = farthestFrom(ih) })
	join := func(c *Config) { c.Bootstrap = []string{boot.Addr().String()} }
	ctx := context.Background()
	var nodes []*Node
	for i := 2; i <= 12; i++ {
		n := newMemNode(t, mn, clock, i, join)
		if err := n.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	boot.Close()
	drive(t, clock, func() {
		if _, err := nodes[len(nodes)-1].GetPeers(ctx, ih); err != nil {
			t.Error(err)
		}
	})
}

func TestLookupPinQueriesFarNodeAndAnnouncesToIt(t *testing.T) {
	s := newSimNet(t, 50, 15)
	ih := ID{0x12, 0x34}
	all := slices.Clone(s.ids)
	SortByDistance(ih, all)
	far, me := all[len(all)-1], all[len(all)-2]
	q := Msg{Q: MethodGetPeers, A: Args{InfoHash: ih}}
	seeds := s.nodes[me.Addr].table.Closest(ih, 2*K, epoch)

	plain := NewLookup(me.ID, ih, seeds, epoch.Add(time.Minute))
	s.run(t, plain, me.Addr, q, epoch)
	pinned := NewLookup(me.ID, ih, seeds, epoch.Add(time.Minute))
	pinned.Pin([]NodeInfo{{Addr: far.Addr}}) // a bootstrap address, ID unknown
	s.run(t, pinned, me.Addr, q, epoch)

	asked := func(l *Lookup) bool {
		return slices.ContainsFunc(l.AnnounceTargets(), func(r LookupResult) bool { return r.Addr == far.Addr })
	}
	if asked(plain) {
		t.Fatal("a plain lookup reached the farthest node: the test proves nothing")
	}
	if !asked(pinned) {
		t.Fatalf("pinned node not among announce targets %v", pinned.AnnounceTargets())
	}
	if got, want := len(pinned.AnnounceTargets()), K+1; got != want {
		t.Fatalf("%d announce targets, want the K closest plus the pinned node", got)
	}
	if !slices.Equal(pinned.Closest(), plain.Closest()) {
		t.Fatal("pinning changed the K closest")
	}
	if s.maxFly > Alpha {
		t.Fatalf("%d queries in flight, alpha is %d", s.maxFly, Alpha)
	}
}
