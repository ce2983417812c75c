package tracker

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
	"github.com/shoal-p2p/shoal/zone"
)

// zonedPeer is peer i of a labelled test swarm.
func zonedPeer(i int, label string, left int64) Peer {
	return Peer{ID: id20(fmt.Sprint("z", i)), Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 6881),
		Left: left, Downloaded: 1, Zone: label}
}

// rackSwarm is racks × perRack leechers labelled dc1/rowR/rackK (two racks
// a row), then extra unlabelled ones.
func rackSwarm(racks, perRack, unlabelled int) []Peer {
	var ps []Peer
	for k := range racks {
		for range perRack {
			ps = append(ps, zonedPeer(len(ps), fmt.Sprintf("dc1/row%d/rack%d", k/2, k), 5))
		}
	}
	for range unlabelled {
		ps = append(ps, zonedPeer(len(ps), "", 5))
	}
	return ps
}

// byNearness counts a handout's peers by how near they are to self: the
// same label (rack), then by segments shared (index = Common).
func byNearness(self Peer, ps []Peer) (rack int, common []int) {
	common = make([]int, zone.MaxLevels+1)
	for _, p := range ps {
		if p.Zone == self.Zone {
			rack++
		} else {
			common[zone.Common(self.Zone, p.Zone)]++
		}
	}
	return rack, common
}

func TestLocalityHandout(t *testing.T) {
	rack0 := "dc1/row0/rack0"
	for _, tc := range []struct {
		name             string
		loc              Locality
		self             Peer
		swarm            []Peer
		n                int
		len, rack, row   int // handout size, peers of self's rack, at least so many of its row outside the rack
		anyOutsideAtMost int // peers outside the row (-1: any number)
	}{
		// The rack's 10, one uniform outside peer, then the nearest up to
		// 25: the row's other rack (10), then 4 from the data centre.
		{"small rack fills from its row", DefaultLocality, zonedPeer(999, rack0, 5), rackSwarm(10, 10, 0), 50, 25, 10, 10, 5},
		// The rack alone is more than n: n-1 rack peers and 1 outside.
		{"large rack", DefaultLocality, zonedPeer(999, rack0, 5), rackSwarm(4, 60, 0), 50, 50, 49, -1, -1},
		// A share of 0.1 of 50 is 5 uniform outside peers beside 45 rack ones.
		{"outside share", Locality{Outside: 0.1, Enough: 25}, zonedPeer(999, rack0, 5), rackSwarm(4, 60, 0), 50, 50, 45, -1, -1},
		// Without Enough nothing outside but the share: the rack's 10 and 1.
		{"no fill", Locality{Outside: 0.02}, zonedPeer(999, rack0, 5), rackSwarm(10, 10, 0), 50, 11, 10, -1, -1},
		// A label nobody shares: the nearest 25, its dc first.
		{"alone in its rack", DefaultLocality, zonedPeer(999, "dc1/row9/rack99", 5), rackSwarm(10, 10, 30), 50, 25, 0, 0, -1},
		// Fewer peers than Enough: everyone.
		{"tiny swarm", DefaultLocality, zonedPeer(999, rack0, 5), rackSwarm(3, 3, 2), 50, 11, 3, 3, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := NewDefaultPolicyWith(rand.New(rand.NewPCG(1, 1)), nil, tc.loc)
			for range 20 {
				got := pol.Handout(t0, tc.self, slices.Clone(tc.swarm), tc.n)
				rack, common := byNearness(tc.self, got)
				if len(got) != tc.len || rack != tc.rack || (tc.row >= 0 && common[2] < tc.row) {
					t.Fatalf("got %d peers: %d of the rack, by shared levels %v; want %d, %d, %d of the row",
						len(got), rack, common, tc.len, tc.rack, tc.row)
				}
				if far := common[0] + common[1]; tc.anyOutsideAtMost >= 0 && far > tc.anyOutsideAtMost {
					t.Fatalf("%d peers outside the row, want at most %d (rack %d, levels %v)", far, tc.anyOutsideAtMost, rack, common)
				}
				seen := map[[20]byte]bool{}
				for _, p := range got {
					if seen[p.ID] || p.ID == tc.self.ID {
						t.Fatalf("duplicate or self in %v", got)
					}
					seen[p.ID] = true
				}
			}
		})
	}
}

// TestLocalityNoFillFromNewcomers: at a fleet's start (nobody has data
// yet) a small rack's handout is its rack and the uniform share, not a
// crowd of far newcomers; a far seeder or a far peer with data still fills.
func TestLocalityNoFillFromNewcomers(t *testing.T) {
	swarm := rackSwarm(10, 10, 0)
	for i := range swarm {
		swarm[i].Downloaded = 0
	}
	swarm[95].Left = 0                                // a seeder in rack 9
	swarm[15].Downloaded, swarm[25].Downloaded = 7, 7 // two far peers with data
	self := zonedPeer(999, "dc1/row0/rack0", 5)
	pol := NewDefaultPolicyWith(rand.New(rand.NewPCG(9, 9)), nil, Locality{Enough: 25})
	got := pol.Handout(t0, self, slices.Clone(swarm), 50)
	rack, _ := byNearness(self, got)
	far := map[int]bool{}
	for _, p := range got {
		if p.Zone != self.Zone {
			far[int(p.Addr.Addr().As4()[3])] = true
		}
	}
	if rack != 10 || len(far) != 3 || !far[95] || !far[15] || !far[25] {
		t.Fatalf("rack %d, far peers %v: want the rack's 10 and the 3 far peers with data", rack, far)
	}
}

// TestLocalityFillOrder: peers outside the rack are added nearest first:
// the row before the data centre before other data centres and the
// unlabelled.
func TestLocalityFillOrder(t *testing.T) {
	self := zonedPeer(999, "dc1/row1/rack1", 5)
	swarm := []Peer{zonedPeer(0, "dc1/row1/rack1", 5)}
	for i := 1; i <= 5; i++ {
		swarm = append(swarm, zonedPeer(i, "dc1/row1/rack2", 5), zonedPeer(10+i, "dc1/row2/rack3", 5),
			zonedPeer(20+i, "dc2/row1/rack1", 5), zonedPeer(30+i, "", 5))
	}
	pol := NewDefaultPolicyWith(rand.New(rand.NewPCG(2, 2)), nil, Locality{Enough: 9})
	got := pol.Handout(t0, self, swarm, 50)
	rack, common := byNearness(self, got)
	if len(got) != 9 || rack != 1 || common[2] != 5 || common[1] != 3 || common[0] != 0 {
		t.Fatalf("rack %d, by shared levels %v; want the rack's 1, the row's 5, then 3 of the dc", rack, common)
	}
}

// TestLocalityOutsideIsUniform: the outside share is drawn uniformly from
// every peer outside the rack, not only the near ones, and a fractional
// share is rounded at random.
func TestLocalityOutsideIsUniform(t *testing.T) {
	self := zonedPeer(999, "dc1/row0/rack0", 5)
	swarm := rackSwarm(10, 10, 20) // 90 labelled outside the rack, 20 unlabelled
	pol := NewDefaultPolicyWith(rand.New(rand.NewPCG(3, 3)), nil, Locality{Outside: 0.05})
	const rounds, n = 4000, 20 // one outside peer per handout
	hits := map[[20]byte]int{}
	for range rounds {
		for _, p := range pol.Handout(t0, self, slices.Clone(swarm), n) {
			if p.Zone != self.Zone {
				hits[p.ID]++
			}
		}
	}
	outside := len(swarm) - 10
	want := float64(rounds) / float64(outside) // 40 each
	for _, p := range swarm[10:] {
		if h := float64(hits[p.ID]); math.Abs(h-want) > 5*math.Sqrt(want) {
			t.Fatalf("outside peer %q drawn %v times in %d handouts, want about %.0f", p.Zone, h, rounds, want)
		}
	}
	// 0.01 of 50 is one outside peer in two handouts.
	half := NewDefaultPolicyWith(rand.New(rand.NewPCG(4, 4)), nil, Locality{Outside: 0.01})
	total := 0
	for range rounds {
		_, common := byNearness(self, half.Handout(t0, self, slices.Clone(swarm), 50))
		total += common[0] + common[1] + common[2]
	}
	if mean := float64(total) / rounds; math.Abs(mean-0.5) > 0.05 {
		t.Fatalf("share 0.01 of 50 gave %.3f outside peers a handout, want 0.5", mean)
	}
}

// TestLocalityNewcomerAndSeeder: a newcomer gets its rack's seeders first,
// or the nearest seeder when its rack has none; a seeder gets leechers only,
// its rack's first.
func TestLocalityNewcomerAndSeeder(t *testing.T) {
	pol := NewDefaultPolicy(rand.New(rand.NewPCG(5, 5)), nil)
	swarm := rackSwarm(6, 10, 0)
	// Seeders: two in rack0, one in rack5.
	swarm[3].Left, swarm[7].Left, swarm[55].Left = 0, 0, 0
	newcomer := zonedPeer(999, "dc1/row0/rack0", 5)
	newcomer.Downloaded = 0
	got := pol.Handout(t0, newcomer, slices.Clone(swarm), 50)
	if !got[0].Seeder() || !got[1].Seeder() || got[0].Zone != newcomer.Zone || got[1].Zone != newcomer.Zone {
		t.Fatalf("newcomer in rack0 did not get rack0's seeders first: %v", got[:3])
	}
	far := zonedPeer(998, "dc1/row1/rack3", 5)
	far.Downloaded = 0
	got = pol.Handout(t0, far, slices.Clone(swarm), 50)
	seeders := 0
	for _, p := range got {
		if p.Seeder() {
			seeders++
		}
	}
	if seeders == 0 {
		t.Fatalf("newcomer in a rack without seeders got none: %v", got)
	}
	if !got[0].Seeder() && !slices.ContainsFunc(got, func(p Peer) bool { return p.Seeder() && p.Zone != far.Zone }) {
		t.Fatalf("no seeder from outside the rack: %v", got)
	}
	seed := zonedPeer(997, "dc1/row0/rack0", 0)
	got = pol.Handout(t0, seed, slices.Clone(swarm), 50)
	rack, _ := byNearness(seed, got)
	for _, p := range got {
		if p.Seeder() {
			t.Fatalf("seeder handed a seeder: %v", p)
		}
	}
	if rack != 8 {
		t.Fatalf("seeder got %d of its rack's 8 leechers", rack)
	}
}

// TestLocalityOffAndUnlabelled: Off, or a peer without a label, gets the
// plain uniform handout whatever the swarm's labels.
func TestLocalityOffAndUnlabelled(t *testing.T) {
	swarm := rackSwarm(10, 10, 0)
	for name, tc := range map[string]struct {
		loc  Locality
		self Peer
	}{
		"off":        {Locality{Off: true, Outside: 0.02, Enough: 25}, zonedPeer(999, "dc1/row0/rack0", 5)},
		"unlabelled": {DefaultLocality, zonedPeer(999, "", 5)},
	} {
		pol := NewDefaultPolicyWith(rand.New(rand.NewPCG(6, 6)), nil, tc.loc)
		same := 0
		const rounds = 200
		for range rounds {
			got := pol.Handout(t0, tc.self, slices.Clone(swarm), 50)
			if len(got) != 50 {
				t.Fatalf("%s: %d peers, want 50", name, len(got))
			}
			for _, p := range got {
				if p.Zone == "dc1/row0/rack0" {
					same++
				}
			}
		}
		// Uniform: rack0 holds 10 of 100, so about 5 of each 50.
		if mean := float64(same) / rounds; mean > 6.5 {
			t.Fatalf("%s: %.1f of rack0 per handout, want about 5 (uniform)", name, mean)
		}
	}
}

// fleetGraph announces every host of a fleet to a real Server (memory
// store, sampling path, handout budget as configured) twice, as a starting
// fleet does (a newcomer's started, then an update once it has bytes), and
// returns the undirected graph of handouts (who would dial whom) and, per
// host, how many peers from outside its rack its second handout (with the
// whole fleet registered) gave it.
func fleetGraph(t *testing.T, srv *Server, hosts []Peer, order []int) (graph [][]int, farMost []int) {
	t.Helper()
	ctx := context.Background()
	byAddr := map[netip.AddrPort]int{}
	for i, h := range hosts {
		byAddr[h.Addr] = i
	}
	farMost = make([]int, len(hosts))
	adj := make([]map[int]bool, len(hosts))
	for i := range adj {
		adj[i] = map[int]bool{}
	}
	for round := range 2 {
		for _, i := range order {
			h := hosts[i]
			q := announceQuery{AnnounceRequest: trackerclient.AnnounceRequest{InfoHash: testHash, PeerID: h.ID, Port: h.Addr.Port(),
				Left: h.Left, Zone: h.Zone}, IP: h.Addr.Addr()}
			if round == 1 && h.Left > 0 {
				q.Downloaded = 1
			}
			rep, ref := srv.announce(ctx, announceInput{query: q, src: netip.MustParseAddr("127.0.0.1"), proto: "test"})
			if ref != nil {
				t.Fatalf("announce: %s", ref.reason)
			}
			far := 0
			for _, p := range rep.Peers {
				j, ok := byAddr[p.Addr]
				if !ok || j == i {
					t.Fatalf("handed out %v", p.Addr)
				}
				adj[i][j], adj[j][i] = true, true
				if hosts[j].Zone != h.Zone || h.Zone == "" {
					far++
				}
			}
			if round == 1 {
				farMost[i] = far
			}
		}
	}
	out := make([][]int, len(hosts))
	for i, m := range adj {
		for j := range m {
			out[i] = append(out[i], j)
		}
		slices.Sort(out[i])
	}
	return out, farMost
}

// TestLocalityFleetStaysExpander is the property test: on random fleets
// (racks of random sizes in rows, some unlabelled hosts, one origin), the
// graph the tracker's handouts make is connected, every labelled host has
// a link out of its rack, the graph of racks reaches every rack from any
// other within a few hops (so every rack gets every piece early), and
// most links stay inside racks.
func TestLocalityFleetStaysExpander(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 4
	}
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 77))
		racks := 2 + rng.IntN(40)
		var hosts []Peer
		rackOf := []int{}
		for k := range racks {
			size := 1 + rng.IntN(60)
			for range size {
				hosts = append(hosts, zonedPeer(len(hosts), fmt.Sprintf("dc%d/row%d/rack%d", k/20, k/4, k), 100))
				rackOf = append(rackOf, k)
			}
		}
		for range rng.IntN(len(hosts)/20 + 1) { // unlabelled hosts: a rack each
			hosts = append(hosts, zonedPeer(len(hosts), "", 100))
			rackOf = append(rackOf, racks)
			racks++
		}
		origin := rng.IntN(len(hosts))
		hosts[origin].Left = 0
		srv := NewServer(ServerConfig{Rand: rand.New(rand.NewPCG(seed, 1)), Now: newFakeClock().Now, Logger: discard(),
			MaxPeersPerTorrent: 10000})
		adj, farMost := fleetGraph(t, srv, hosts, rng.Perm(len(hosts)))
		name := fmt.Sprintf("seed %d: %d hosts in %d racks", seed, len(hosts), racks)

		// Connected.
		if reached := bfs(adj, origin); slices.Contains(reached, -1) {
			t.Fatalf("%s: host graph not connected", name)
		}
		// A link out of every labelled host's rack, when there is an outside.
		inside, cross := 0, 0
		for i, ns := range adj {
			out := false
			for _, j := range ns {
				if rackOf[j] != rackOf[i] {
					out = true
					cross++
				} else {
					inside++
				}
			}
			if !out && hosts[i].Zone != "" && racks > 1 {
				t.Fatalf("%s: host %d (%s) has no link out of its rack", name, i, hosts[i].Zone)
			}
		}
		// The graph of racks: every rack within ceil(log2 racks)+1 hops of
		// the origin's.
		radj := make([][]int, racks)
		for i, ns := range adj {
			for _, j := range ns {
				if a, b := rackOf[i], rackOf[j]; a != b && !slices.Contains(radj[a], b) {
					radj[a] = append(radj[a], b)
				}
			}
		}
		depth := bfs(radj, rackOf[origin])
		limit := int(math.Ceil(math.Log2(float64(racks)))) + 1
		if d := slices.Max(depth); d > limit || slices.Contains(depth, -1) {
			t.Fatalf("%s: a rack is %d rack hops from the origin's (limit %d): %v", name, d, limit, depth)
		}
		// Locality: once the fleet has announced, a host whose rack holds
		// Enough others gets only the uniform one from outside it (a
		// seeder or a newcomer's seeder at most besides).
		rackSize := make([]int, racks)
		for _, k := range rackOf {
			rackSize[k]++
		}
		for i, far := range farMost {
			if hosts[i].Zone != "" && rackSize[rackOf[i]] > DefaultLocality.Enough && far > 2 {
				t.Fatalf("%s: host %d in a rack of %d got %d peers from outside it", name, i, rackSize[rackOf[i]], far)
			}
		}
		t.Logf("%s: %.2f of links inside racks, rack-graph depth %d", name, float64(inside)/float64(inside+cross), slices.Max(depth))
	}
}

// bfs returns the hop count from start to every vertex (-1: unreached).
func bfs(adj [][]int, start int) []int {
	depth := make([]int, len(adj))
	for i := range depth {
		depth[i] = -1
	}
	depth[start] = 0
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range adj[v] {
			if depth[w] < 0 {
				depth[w] = depth[v] + 1
				queue = append(queue, w)
			}
		}
	}
	return depth
}

// TestAnnounceZone: a zone reaches the tracker over HTTP and UDP and
// orders the handout; an invalid one is refused with a reason.
func TestAnnounceZone(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	u := startUDP(t, tt, "udp4", "127.0.0.1:0")
	ctx := context.Background()
	// 60 leechers: 20 in rack A, 40 elsewhere.
	for i := range 60 {
		req := peerReq(fmt.Sprint("h", i), uint16(2000+i), 10)
		req.Downloaded = 1
		req.Zone = "dc1/row1/rackB"
		if i < 20 {
			req.Zone = "dc1/row1/rackA"
		}
		tt.announce(t, req)
	}
	inA := func(peers []netip.AddrPort) int {
		n := 0
		for _, p := range peers {
			if p.Port() < 2020 {
				n++
			}
		}
		return n
	}
	req := peerReq("asker", 3000, 10)
	req.Downloaded, req.NumWant, req.Zone = 1, 21, "dc1/row1/rackA"
	if got := tt.announce(t, req); inA(got.Peers) != 20 || len(got.Peers) != 21 {
		t.Fatalf("http: %d of rack A's 20 in %d peers", inA(got.Peers), len(got.Peers))
	}
	req.PeerID = id20("udp-asker")
	got, err := trackerclient.Announce(ctx, nil, u, req)
	if err != nil || inA(got.Peers) != 20 {
		t.Fatalf("udp: %v, %d of rack A's 20", err, inA(got.Peers))
	}
	for _, bad := range []string{"dc1//rack", strings.Repeat("x", zone.MaxLen+1), "a/b/c/d/e", "rack\x1b"} {
		req.Zone = bad
		_, err := trackerclient.Announce(ctx, tt.hc, tt.url, req)
		if err == nil || !strings.Contains(err.Error(), "invalid zone") {
			t.Fatalf("zone %q: %v", bad, err)
		}
		if _, err := trackerclient.Announce(ctx, nil, u, req); err == nil || !strings.Contains(err.Error(), "invalid zone") {
			t.Fatalf("udp zone %q: %v", bad, err)
		}
	}
}

// TestZoneIgnoredWithoutIndex: with a store that does not index labels
// (Redis today) a labelled peer gets the plain handout of numwant peers,
// not a short one built from a sample that cannot show its rack.
func TestZoneIgnoredWithoutIndex(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{Store: newRedisStore(t, startRedis(t), "zone:", time.Hour, 0)})
	for i := range 60 {
		req := peerReq(fmt.Sprint("h", i), uint16(2000+i), 10)
		req.Downloaded, req.Zone = 1, fmt.Sprintf("dc1/rack%d", i%3)
		tt.announce(t, req)
	}
	req := peerReq("asker", 3000, 10)
	req.Downloaded, req.NumWant, req.Zone = 1, 40, "dc1/rack0"
	if got := tt.announce(t, req); len(got.Peers) != 40 {
		t.Fatalf("labelled peer got %d peers from a Redis tracker, want 40", len(got.Peers))
	}
}

// TestLocalityFairToAddresses: the locality handout, like the plain one,
// gives an address a second place only when nobody else is left, so a
// host that registered many fake peers in a rack gets one of its slots.
func TestLocalityFairToAddresses(t *testing.T) {
	self := zonedPeer(999, "dc1/row0/rack0", 5)
	var swarm []Peer
	for i := range 30 { // one host, 30 fake peers claiming rack0
		p := zonedPeer(i, "dc1/row0/rack0", 5)
		p.Addr = netip.AddrPortFrom(netip.MustParseAddr("192.0.2.66"), uint16(7000+i))
		swarm = append(swarm, p)
	}
	for i := range 10 {
		swarm = append(swarm, zonedPeer(100+i, "dc1/row0/rack0", 5), zonedPeer(200+i, "dc1/row1/rack1", 5))
	}
	pol := NewDefaultPolicy(rand.New(rand.NewPCG(8, 8)), nil)
	for range 50 {
		got := pol.Handout(t0, self, slices.Clone(swarm), 25)
		fake := 0
		for _, p := range got {
			if p.Addr.Addr() == netip.MustParseAddr("192.0.2.66") {
				fake++
			}
		}
		// The rack's 10 honest peers and one fake, then (a second fake
		// would be next in the rack) the row's 10 before any more fakes:
		// all 20 honest peers, the rest of the 25 fakes.
		if len(got) != 25 || fake != 5 {
			t.Fatalf("%d peers, %d of them at the flooding address; want 25 with every honest peer, 5 fakes", len(got), fake)
		}
	}
}

// TestLabelledAnnounceDoesNotCopyTheSwarm: a labelled announce (over UDP,
// its zone in the BEP 41 URL data) allocates the same in a swarm of 20
// labelled peers as in one of 5,000 in 100 racks: the rack is drawn from
// the store's index, not found by a scan.
func TestLabelledAnnounceDoesNotCopyTheSwarm(t *testing.T) {
	allocs := func(n int) float64 {
		now := time.Unix(1_700_000_000, 0)
		srv := NewServer(ServerConfig{MaxPeersPerTorrent: 2 * n, Now: func() time.Time { return now }, Logger: discard()})
		ih := id20("copy")
		for i := range n {
			id, addr, left := benchPeer(i)
			p := Peer{ID: id, Addr: addr, Left: left, Downloaded: 1, Zone: fmt.Sprintf("dc1/row%d/rack%d", i%100/10, i%100)}
			srv.cfg.Store.Put(context.Background(), ih, p, now)
		}
		id, addr, left := benchPeer(n / 2)
		pkt := benchUDPAnnounce(nil, srv.connIDs.Issue(addr.Addr(), now), ih, id, addr.Port(), left)
		urlData := fmt.Sprintf("/announce?zone=dc1/row%d/rack%d", n/2%100/10, n/2%100)
		pkt = append(append(pkt, 2, byte(len(urlData))), urlData...) // BEP 41 URLData
		out := make([]byte, 0, trackerclient.UDPMaxPacket)
		if len(srv.HandleUDP(context.Background(), pkt, netip.AddrPortFrom(addr.Addr(), 1), out[:0])) < 20 {
			t.Fatal("no announce reply")
		}
		return testing.AllocsPerRun(50, func() {
			srv.HandleUDP(context.Background(), pkt, netip.AddrPortFrom(addr.Addr(), 1), out[:0])
		})
	}
	small, large := allocs(20), allocs(5000)
	if large > small+2 {
		t.Fatalf("a labelled announce allocates %.0f times in a swarm of 5,000, %.0f in one of 20", large, small)
	}
}

// BenchmarkLabelledAnnounce compares, in one run, a plain UDP announce
// with a labelled one (racks of 40; the zone in the BEP 41 URL data) in
// swarms of 1,000 to 100,000 labelled peers.
func BenchmarkLabelledAnnounce(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		for _, labelled := range []bool{false, true} {
			name := fmt.Sprintf("peers=%d/plain", n)
			if labelled {
				name = fmt.Sprintf("peers=%d/labelled", n)
			}
			b.Run(name, func(b *testing.B) { benchLabelled(b, n, labelled) })
		}
	}
}

func benchLabelled(b *testing.B, n int, labelled bool) {
	ctx, now := context.Background(), time.Unix(1_700_000_000, 0)
	srv := NewServer(ServerConfig{MaxPeersPerTorrent: 2 * n, Now: func() time.Time { return now },
		Rand: rand.New(rand.NewPCG(1, 2)), Logger: discard(), HandoutBudget: -1})
	ih := id20("bench-torrent")
	rackOf := func(i int) string { return fmt.Sprintf("dc1/row%d/rack%d", i/400, i/40) }
	for i := range n {
		id, addr, left := benchPeer(i)
		if err := srv.cfg.Store.Put(ctx, ih, Peer{ID: id, Addr: addr, Left: left, Downloaded: 1, Zone: rackOf(i)}, now); err != nil {
			b.Fatal(err)
		}
	}
	out, pkt := make([]byte, 0, 2048), make([]byte, 0, 256)
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op") }()
	b.ResetTimer()
	for range b.N {
		i := rng.IntN(n)
		id, addr, left := benchPeer(i)
		pkt = benchUDPAnnounce(pkt[:0], srv.connIDs.Issue(addr.Addr(), now), ih, id, addr.Port(), left)
		if labelled {
			urlData := "/announce?zone=" + rackOf(i)
			pkt = append(append(pkt, 2, byte(len(urlData))), urlData...)
		}
		if r := srv.HandleUDP(ctx, pkt, netip.AddrPortFrom(addr.Addr(), 40000), out[:0]); len(r) < 20+6*30 { // a rack of 40, a tenth seeders
			b.Fatalf("announce got %d bytes: %q", len(r), r)
		}
	}
}
