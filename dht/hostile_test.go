package dht

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// hostile answers every query it receives with a lie: a wrong ID, the
// largest flood of fake nodes and peers that fits a packet, malformed or
// oversized bytes, or a reply to a transaction nobody asked about.
func runHostile(ep *MemEndpoint, r *rand.Rand, replies *atomic.Int64) {
	buf := make([]byte, 8192)
	for i := 0; ; i++ {
		k, from, err := ep.ReadFrom(buf)
		if err != nil {
			return
		}
		q, err := ParseMessage(buf[:k])
		if err != nil || q.Y != TypeQuery {
			continue
		}
		target := q.A.Target
		if q.Q == MethodGetPeers {
			target = q.A.InfoHash
		}
		var out []byte
		switch i % 5 {
		case 0, 1: // a flood of fake nodes near the target and fake peers
			var nodes []NodeInfo
			for j := 0; j < 40; j++ {
				nodes = append(nodes, NodeInfo{ID: RandomIDInBucket(r, target, 150), Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(r.IntN(256)), byte(r.IntN(256))}), 1+uint16(r.IntN(60000)))})
			}
			nodes = append(nodes, NodeInfo{ID: RandomID(r), Addr: ep.addr}) // itself again, under another ID
			m := Msg{T: q.T, Y: TypeResponse, R: Return{ID: hostileID, Nodes: EncodeNodes(nodes), Token: "tok"}}
			for j := 0; j < 60; j++ {
				m.R.Values = append(m.R.Values, netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), byte(j)}), 1+uint16(j)))
			}
			if i%5 == 1 {
				m.R.ID = RandomID(r) // a different ID every time
			}
			out, _ = m.Marshal()
		case 2:
			out = []byte("d1:rd2:id20:" + strings.Repeat("l", 40))
		case 3:
			out = []byte("d1:t" + itoa(len(q.T)) + ":" + q.T + "1:v6000:" + strings.Repeat("x", 6000) + "1:y1:re")
		case 4:
			m := Msg{T: "zz", Y: TypeResponse, R: Return{ID: hostileID, Nodes: []byte("not compact")}}
			out, _ = m.Marshal()
		}
		ep.WriteTo(out, from)
		replies.Add(1)
	}
}

var hostileID = ID{0x66, 0x66}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	if s == "" {
		return "0"
	}
	return s
}

func TestHostileRepliesStayBounded(t *testing.T) {
	mn := NewMemNetwork()
	clock := newFakeClock()
	n := newMemNode(t, mn, clock, 1, func(c *Config) { c.MaxPending = 16 })
	ep, _ := mn.Listen(addrN(2))
	var replies atomic.Int64
	go runHostile(ep, seededRand(t, 77), &replies)
	t.Cleanup(func() { ep.Close() })
	n.AddNode(NodeInfo{ID: hostileID, Addr: addrN(2)})

	maxPending := 0
	for round := 0; round < 5; round++ {
		var peers []netip.AddrPort
		drive(t, clock, func() {
			peers, _ = n.GetPeers(context.Background(), RandomID(seededRand(t, uint64(round))))
		})
		s := n.Stats()
		maxPending = max(maxPending, s.Pending)
		if len(peers) > MaxLookupPeers {
			t.Fatalf("lookup returned %d peers, bound %d", len(peers), MaxLookupPeers)
		}
		if s.Nodes > NumBuckets*K || s.Pending > 16 {
			t.Fatalf("round %d: stats %+v exceed bounds", round, s)
		}
	}
	s := n.Stats()
	if replies.Load() == 0 || s.Malformed == 0 || s.Unexpected == 0 {
		t.Fatalf("hostile node not exercised: replies %d, stats %+v", replies.Load(), s)
	}
	// Fake nodes are only candidates: none of them answered, so none is routed.
	for _, c := range n.Closest(ID{}, 1000) {
		if c.Addr.Addr().As4()[0] == 172 {
			t.Fatalf("unverified fake node %v entered the routing table", c)
		}
	}
}

func TestHostileQueriesStayBounded(t *testing.T) {
	mn := NewMemNetwork()
	clock := newFakeClock()
	n := newMemNode(t, mn, clock, 1, func(c *Config) {
		c.MaxInfoHashes, c.MaxPeersPerHash, c.MaxPending = 100, 10, 32
		c.RateLimit, c.RateBurst = 1e9, 1e9
	})
	r := seededRand(t, 5)
	ep, _ := mn.Listen(addrN(2))
	send := func(m Msg, from netip.AddrPort) {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		mn.Inject(from, addrN(1), b)
	}
	// 1. Pings from 3000 spoofed sources with random IDs.
	for i := 0; i < 3000; i++ {
		send(Msg{T: "p", Y: TypeQuery, Q: MethodPing, A: Args{ID: RandomID(r)}}, addrN(10000+i))
	}
	waitFor(t, "pings", func() bool { return n.Stats().QueriesIn >= 3000 })
	// 2. A real token for our address, then announces for 2000 info hashes
	// and 50 peers on one hash, plus a forged token.
	b, _ := Msg{T: "g", Y: TypeQuery, Q: MethodGetPeers, A: Args{ID: ID{9}, InfoHash: ID{1}}}.Marshal()
	ep.WriteTo(b, addrN(1))
	buf := make([]byte, MaxPacketSize)
	var token string
	for token == "" {
		k, _, err := ep.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := ParseMessage(buf[:k]); err == nil && m.T == "g" {
			token = m.R.Token
		}
	}
	for i := 0; i < 2000; i++ {
		send(Msg{T: "a", Y: TypeQuery, Q: MethodAnnouncePeer, A: Args{ID: ID{9}, InfoHash: RandomID(r), Port: 1 + i, Token: token}}, addrN(2))
	}
	for i := 0; i < 50; i++ {
		send(Msg{T: "a", Y: TypeQuery, Q: MethodAnnouncePeer, A: Args{ID: ID{9}, InfoHash: ID{1}, Port: 1 + i, Token: token}}, addrN(2))
	}
	send(Msg{T: "b", Y: TypeQuery, Q: MethodAnnouncePeer, A: Args{ID: ID{9}, InfoHash: ID{2}, Port: 1, Token: "forged"}}, addrN(2))
	// 3. Garbage.
	for i := 0; i < 200; i++ {
		junk := make([]byte, r.IntN(3000))
		for j := range junk {
			junk[j] = byte(r.IntN(256))
		}
		mn.Inject(addrN(3), addrN(1), junk)
	}
	mn.Inject(addrN(3), addrN(1), []byte(strings.Repeat("l", 1000)))
	waitFor(t, "flood", func() bool { s := n.Stats(); return s.PacketsIn >= 3000+1+2051+201 })

	s := n.Stats()
	if s.Nodes > NumBuckets*K || s.Pending > 32 {
		t.Fatalf("table/pending over bounds: %+v", s)
	}
	if s.InfoHashes > 100 || s.StoredPeers > 100*10 {
		t.Fatalf("peer store over bounds: %+v", s)
	}
	if s.InfoHashes != 100 || s.BadTokens != 1 || s.Malformed < 200 {
		t.Fatalf("stats %+v: want a full store, one bad token, the junk counted", s)
	}
	n.mu.Lock()
	perHash := len(n.srv.peers.hashes[ID{1}])
	n.mu.Unlock()
	if perHash > 10 {
		t.Fatalf("%d peers stored for one hash, bound 10", perHash)
	}
}

func TestRateLimitPerSource(t *testing.T) {
	mn := NewMemNetwork()
	clock := newFakeClock()
	n := newMemNode(t, mn, clock, 1, func(c *Config) { c.RateLimit, c.RateBurst = 10, 20 })
	b, _ := Msg{T: "p", Y: TypeQuery, Q: MethodPing, A: Args{ID: ID{9}}}.Marshal()
	for i := 0; i < 500; i++ {
		mn.Inject(addrN(2), addrN(1), b)
	}
	mn.Inject(addrN(3), addrN(1), b) // another source is unaffected
	waitFor(t, "flood", func() bool { return n.Stats().PacketsIn == 501 })
	if s := n.Stats(); s.QueriesIn != 21 || s.RateLimited != 480 {
		t.Fatalf("stats %+v: want 20 burst + 1 other source answered, 480 limited", s)
	}
}
