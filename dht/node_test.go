package dht

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func newMemNode(t *testing.T, mn *MemNetwork, clock Clock, i int, mod func(*Config)) *Node {
	t.Helper()
	ep, err := mn.Listen(addrN(i))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Transport: ep, Clock: clock, Rand: seededRand(t, uint64(1000+i))}
	if mod != nil {
		mod(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	t.Cleanup(func() { n.Close() })
	return n
}

// drive runs f while advancing the fake clock one second per real
// millisecond, so query timeouts and lookup deadlines fire; it fails the
// test if f has not returned after 20 simulated minutes.
func drive(t *testing.T, c *fakeClock, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	for i := 0; i < 1200; i++ {
		select {
		case <-done:
			return
		case <-time.After(time.Millisecond):
			c.Advance(time.Second)
		}
	}
	t.Fatal("did not finish within 20 simulated minutes")
}

// waitFor polls cond until it holds or a real-time deadline passes; used
// only for asynchronous packet delivery on the in-memory network.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNodesOnMemNetwork(t *testing.T) {
	mn := NewMemNetwork()
	clock := newFakeClock()
	var nodes []*Node
	for i := 1; i <= 50; i++ {
		nodes = append(nodes, newMemNode(t, mn, clock, i, func(c *Config) { c.Bootstrap = []string{addrN(1).String()} }))
	}
	ctx := context.Background()
	for _, n := range nodes[1:] {
		if err := n.Bootstrap(ctx); err != nil {
			t.Fatalf("%v: %v", n, err)
		}
	}
	// A second round lets the early joiners learn about the later ones.
	for _, n := range nodes[1:10] {
		if err := n.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ih := [20]byte{0xde, 0xad, 0xbe, 0xef}
	if err := nodes[10].Announce(ctx, ih, 51413, false); err != nil {
		t.Fatal(err)
	}
	if err := nodes[11].Announce(ctx, ih, 0, true); err != nil {
		t.Fatal(err)
	}
	peers, err := nodes[40].GetPeers(ctx, ih)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []netip.AddrPort{netip.AddrPortFrom(addrN(11).Addr(), 51413), addrN(12)} {
		if !slices.Contains(peers, want) {
			t.Fatalf("GetPeers = %v, missing %v", peers, want)
		}
	}
	if len(peers) != 2 {
		t.Fatalf("GetPeers = %v, want exactly the two announcers", peers)
	}
	for _, n := range nodes {
		if s := n.Stats(); s.Nodes > NumBuckets*K || s.Pending != 0 {
			t.Fatalf("%v stats %+v", n, s)
		}
	}
}

func TestLookupTimesOutDeadNodes(t *testing.T) {
	mn := NewMemNetwork()
	clock := newFakeClock()
	n := newMemNode(t, mn, clock, 1, nil)
	for i := 0; i < 20; i++ {
		n.AddNode(NodeInfo{ID: RandomID(seededRand(t, uint64(i))), Addr: addrN(100 + i)}) // nobody listens there
	}
	var err error
	drive(t, clock, func() { _, err = n.GetPeers(context.Background(), ID{1}) })
	if err != nil {
		t.Fatal(err)
	}
	s := n.Stats()
	if s.Timeouts == 0 || s.Pending != 0 {
		t.Fatalf("stats %+v: want timeouts and nothing pending", s)
	}
}

func TestReadOnlyQueriersNotRouted(t *testing.T) {
	mn := NewMemNetwork()
	clock := newFakeClock()
	n := newMemNode(t, mn, clock, 1, nil)
	ro := Msg{T: "x", Y: TypeQuery, Q: MethodPing, RO: true, A: Args{ID: ID{7}}}
	b, _ := ro.Marshal()
	rw := Msg{T: "y", Y: TypeQuery, Q: MethodPing, A: Args{ID: ID{8}}}
	b2, _ := rw.Marshal()
	peer, _ := mn.Listen(addrN(2))
	peer.WriteTo(b, addrN(1))
	peer.WriteTo(b2, addrN(1))
	buf := make([]byte, MaxPacketSize)
	for _, tx := range []string{"x", "y"} {
		k, _, err := peer.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseMessage(buf[:k])
		if err != nil || m.Y != TypeResponse || m.T != tx || m.R.ID != n.ID() {
			t.Fatalf("reply %+v %v", m, err)
		}
	}
	if s := n.Stats(); s.Nodes != 1 || s.ReadOnlySeen != 1 {
		t.Fatalf("stats %+v: want only the read-write querier in the table", s)
	}
	if got := n.Closest(ID{}, 10); len(got) != 1 || got[0].ID != (ID{8}) {
		t.Fatalf("table = %v", got)
	}
}

func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dht.json")
	mn := NewMemNetwork()
	clock := newFakeClock()
	ep, _ := mn.Listen(addrN(1))
	n, err := New(Config{Transport: ep, Clock: clock, Rand: seededRand(t, 1), StateFile: path})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		n.AddNode(NodeInfo{ID: RandomID(seededRand(t, uint64(i+10))), Addr: addrN(10 + i)})
	}
	id := n.ID()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	ep2, _ := mn.Listen(addrN(1))
	n2, err := New(Config{Transport: ep2, Clock: clock, Rand: seededRand(t, 2), StateFile: path})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	if n2.ID() != id || n2.Stats().Nodes != 5 {
		t.Fatalf("reloaded id %v nodes %d, want %v and 5", n2.ID(), n2.Stats().Nodes, id)
	}
}
