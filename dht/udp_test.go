package dht

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestUDPLoopback runs ten real nodes on loopback sockets: they bootstrap
// from the first, one announces an info hash, another finds it.
func TestUDPLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("real sockets")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var nodes []*Node
	for i := 0; i < 10; i++ {
		cfg := Config{ListenAddr: "127.0.0.1:0", QueryTimeout: time.Second, LookupTimeout: 5 * time.Second,
			Rand: seededRand(t, uint64(i+1))}
		if i > 0 {
			cfg.Bootstrap = []string{nodes[0].Addr().String()}
		}
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.Start()
		t.Cleanup(func() { n.Close() })
		nodes = append(nodes, n)
	}
	for _, n := range nodes[1:] {
		if err := n.Bootstrap(ctx); err != nil {
			t.Fatalf("%v: %v", n, err)
		}
	}
	ih := [20]byte{1, 2, 3}
	if err := nodes[3].Announce(ctx, ih, 7000, false); err != nil {
		t.Fatal(err)
	}
	peers, err := nodes[8].GetPeers(ctx, ih)
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddrPort("127.0.0.1:7000"); !slices.Contains(peers, want) {
		t.Fatalf("GetPeers = %v, want %v", peers, want)
	}
}
