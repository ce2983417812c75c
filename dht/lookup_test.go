package dht

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// simNet is a synchronous simulated network of responders: a lookup is
// driven to completion without goroutines, sockets or wall time.
type simNet struct {
	nodes  map[netip.AddrPort]*responder
	ids    []NodeInfo
	dead   map[netip.AddrPort]bool
	liars  map[netip.AddrPort]bool
	sent   int
	maxFly int
}

func newSimNet(t *testing.T, n int, seed uint64) *simNet {
	r := seededRand(t, seed)
	s := &simNet{nodes: map[netip.AddrPort]*responder{}, dead: map[netip.AddrPort]bool{}, liars: map[netip.AddrPort]bool{}}
	for i := 0; i < n; i++ {
		s.ids = append(s.ids, NodeInfo{ID: RandomID(r), Addr: addrN(i + 1)})
	}
	for _, ni := range s.ids {
		tb := NewRoutingTable(ni.ID)
		// Every node has been offered every other, in random order: the
		// buckets keep what fits (all near nodes, K of the far ones).
		for _, j := range r.Perm(len(s.ids)) {
			tb.Insert(s.ids[j], true, epoch)
		}
		s.nodes[ni.Addr] = &responder{self: ni.ID, table: tb, tokens: NewTokenManager(r, epoch),
			peers: NewPeerStore(0, 0), rnd: r}
	}
	return s
}

// run drives l until done, answering each query from the addressed
// responder; dead nodes fail, liars answer with a wrong ID.
func (s *simNet) run(t *testing.T, l *Lookup, from netip.AddrPort, q Msg, now time.Time) {
	t.Helper()
	for steps := 0; !l.Done(now); steps++ {
		batch := l.Next(now)
		s.maxFly = max(s.maxFly, l.InFlight())
		if len(batch) == 0 {
			break
		}
		for _, to := range batch {
			s.sent++
			srv := s.nodes[to.Addr]
			if srv == nil || s.dead[to.Addr] {
				l.OnFailure(to.Addr)
				continue
			}
			m := q
			m.T, m.Y = "tx", TypeQuery
			reply := srv.respond(from, m, now)
			id := reply.R.ID
			if s.liars[to.Addr] {
				id[0] ^= 0xff
			}
			nodes, err := DecodeNodes(reply.R.Nodes)
			if err != nil {
				t.Fatal(err)
			}
			l.OnReply(to.Addr, id, nodes, reply.R.Values, reply.R.Token)
		}
	}
}

func (s *simNet) trueClosest(target ID, exclude ID) []NodeInfo {
	all := slices.DeleteFunc(slices.Clone(s.ids), func(n NodeInfo) bool { return n.ID == exclude })
	SortByDistance(target, all)
	return all[:K]
}

func TestLookupFindsClosestInSimulatedNetwork(t *testing.T) {
	s := newSimNet(t, 50, 10)
	r := seededRand(t, 11)
	for trial := 0; trial < 20; trial++ {
		me := s.ids[trial]
		target := RandomID(r)
		seeds := s.nodes[me.Addr].table.Closest(target, K, epoch)
		l := NewLookup(me.ID, target, seeds, epoch.Add(time.Minute))
		s.run(t, l, me.Addr, Msg{Q: MethodFindNode, A: Args{Target: target}}, epoch)
		want := s.trueClosest(target, me.ID)
		var got []NodeInfo
		for _, c := range l.Closest() {
			got = append(got, c.NodeInfo)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: lookup found\n%v\nwant\n%v", trial, got, want)
		}
	}
	if s.maxFly > Alpha {
		t.Fatalf("%d queries in flight, alpha is %d", s.maxFly, Alpha)
	}
}

func TestLookupAnnounceThenGetPeers(t *testing.T) {
	s := newSimNet(t, 50, 12)
	ih := ID{0xab, 0xcd}
	announcer, seeker := s.ids[0], s.ids[1]
	l := NewLookup(announcer.ID, ih, s.nodes[announcer.Addr].table.Closest(ih, K, epoch), epoch.Add(time.Minute))
	s.run(t, l, announcer.Addr, Msg{Q: MethodGetPeers, A: Args{InfoHash: ih}}, epoch)
	closest := l.Closest()
	if len(closest) != K {
		t.Fatalf("get_peers reached %d nodes", len(closest))
	}
	for _, c := range closest {
		if c.Token == "" {
			t.Fatalf("no token from %v", c)
		}
		q := Msg{T: "a", Y: TypeQuery, Q: MethodAnnouncePeer, A: Args{ID: announcer.ID, InfoHash: ih, Port: 51413, Token: c.Token}}
		if r := s.nodes[c.Addr].respond(announcer.Addr, q, epoch.Add(time.Minute)); r.Y != TypeResponse {
			t.Fatalf("announce to %v refused: %v", c, r.E)
		}
		// A token is bound to the IP it was issued to.
		if r := s.nodes[c.Addr].respond(seeker.Addr, q, epoch); r.Y != TypeError || r.E.Code != ErrCodeProtocol {
			t.Fatalf("stolen token accepted by %v", c)
		}
	}
	l2 := NewLookup(seeker.ID, ih, s.nodes[seeker.Addr].table.Closest(ih, K, epoch), epoch.Add(time.Hour))
	s.run(t, l2, seeker.Addr, Msg{Q: MethodGetPeers, A: Args{InfoHash: ih}}, epoch.Add(2*time.Minute))
	want := netip.AddrPortFrom(announcer.Addr.Addr(), 51413)
	if got := l2.Peers(); !slices.Contains(got, want) {
		t.Fatalf("get_peers found %v, want %v", got, want)
	}
}

func TestLookupSurvivesDeadAndLyingNodes(t *testing.T) {
	s := newSimNet(t, 50, 13)
	r := seededRand(t, 14)
	target := RandomID(r)
	me := s.ids[0]
	want := s.trueClosest(target, me.ID)
	s.dead[want[0].Addr] = true
	s.liars[want[1].Addr] = true
	l := NewLookup(me.ID, target, s.nodes[me.Addr].table.Closest(target, K, epoch), epoch.Add(time.Minute))
	s.run(t, l, me.Addr, Msg{Q: MethodFindNode, A: Args{Target: target}}, epoch)
	var got []NodeInfo
	for _, c := range l.Closest() {
		got = append(got, c.NodeInfo)
	}
	all := slices.Clone(s.ids)
	SortByDistance(target, all)
	var wantLive []NodeInfo
	for _, n := range all {
		if n.ID != me.ID && !s.dead[n.Addr] && !s.liars[n.Addr] && len(wantLive) < K {
			wantLive = append(wantLive, n)
		}
	}
	// Every responder returns only its K closest, two of which are unusable,
	// so the tail of the live set may stay unknown; what is found must be
	// exactly the nearest live nodes, without the dead or lying ones.
	if len(got) < K-2 || !slices.Equal(got, wantLive[:len(got)]) {
		t.Fatalf("got %v\nwant a prefix of %v", got, wantLive)
	}
}

func TestLookupDeadlineAndBudget(t *testing.T) {
	self := ID{1}
	target := ID{0xff}
	var seeds []NodeInfo
	for i := 0; i < 5; i++ {
		seeds = append(seeds, NodeInfo{ID: ID{0xf0, byte(i)}, Addr: addrN(i + 1)})
	}
	l := NewLookup(self, target, seeds, epoch.Add(time.Second))
	if got := l.Next(epoch); len(got) != Alpha {
		t.Fatalf("first batch %d, want alpha", len(got))
	}
	if got := l.Next(epoch); len(got) != 0 {
		t.Fatal("exceeded alpha in flight")
	}
	if l.Done(epoch) {
		t.Fatal("done with queries in flight")
	}
	if !l.Done(epoch.Add(time.Second)) || l.Next(epoch.Add(time.Second)) != nil {
		t.Fatal("not done at deadline")
	}

	// A hostile responder that always returns K ever-closer fake nodes cannot
	// keep the lookup going past its query budget.
	l = NewLookup(self, target, seeds[:1], epoch.Add(time.Hour))
	fake := 0
	for !l.Done(epoch) {
		batch := l.Next(epoch)
		if len(batch) == 0 {
			break
		}
		for _, to := range batch {
			var nodes []NodeInfo
			for j := 0; j < 2*K; j++ {
				fake++
				nodes = append(nodes, NodeInfo{ID: RandomIDInBucket(seededRand(t, uint64(fake)), target, 100), Addr: addrN(1000 + fake)})
			}
			l.OnReply(to.Addr, to.ID, nodes, nil, "")
			if len(l.cands) > maxLookupCands {
				t.Fatalf("%d candidates, bound %d", len(l.cands), maxLookupCands)
			}
		}
	}
	if l.sent > maxLookupQueries {
		t.Fatalf("sent %d queries, budget %d", l.sent, maxLookupQueries)
	}
}
