package dht

import (
	"net/netip"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/ratelimit"
)

func TestDistanceAndBucketIndex(t *testing.T) {
	a := ID{0x80}
	b := ID{0x40}
	if got := a.Xor(b); got != (ID{0xc0}) {
		t.Fatalf("xor = %x", got)
	}
	if CommonPrefixLen(a, a) != 160 || CommonPrefixLen(a, b) != 0 || CommonPrefixLen(ID{0, 1}, ID{0, 0}) != 15 {
		t.Fatal("CommonPrefixLen wrong")
	}
	target := ID{0x10}
	if !Closer(target, ID{0x11}, ID{0x20}) || Closer(target, ID{0x20}, ID{0x11}) || Closer(target, ID{1}, ID{1}) {
		t.Fatal("Closer wrong")
	}
	r := seededRand(t, 1)
	self := RandomID(r)
	for p := 0; p < 160; p++ {
		if got := CommonPrefixLen(self, RandomIDInBucket(r, self, p)); got != p {
			t.Fatalf("RandomIDInBucket(%d) has prefix %d", p, got)
		}
	}
}

func TestBucketFillAndDrop(t *testing.T) {
	r := seededRand(t, 2)
	self := RandomID(r)
	tb := NewRoutingTable(self)
	now := epoch
	for i := 0; i < K+3; i++ {
		if _, ping := tb.Insert(NodeInfo{ID: idWithPrefix(r, self, 0), Addr: addrN(i)}, true, now); ping {
			t.Fatalf("insert %d asked to ping a good node", i)
		}
	}
	if tb.Len() != K {
		t.Fatalf("bucket of good nodes holds %d, want %d", tb.Len(), K)
	}
	if tb.Insert(NodeInfo{ID: self, Addr: addrN(99)}, true, now); tb.Len() != K {
		t.Fatal("own ID was inserted")
	}
	if tb.Insert(NodeInfo{ID: idWithPrefix(r, self, 5)}, true, now); tb.Len() != K {
		t.Fatal("node without address was inserted")
	}
}

func TestReplaceQuestionableAfterFailedPing(t *testing.T) {
	r := seededRand(t, 3)
	self := RandomID(r)
	tb := NewRoutingTable(self)
	var ids []ID
	for i := 0; i < K; i++ {
		id := idWithPrefix(r, self, 0)
		ids = append(ids, id)
		tb.Insert(NodeInfo{ID: id, Addr: addrN(i)}, true, epoch.Add(time.Duration(i)*time.Second))
	}
	later := epoch.Add(GoodDuration + time.Hour)
	// Refresh every node but ids[3] and ids[5]; ids[3] was seen earliest of the two.
	for i, id := range ids {
		if i != 3 && i != 5 {
			tb.Seen(id, addrN(i), later)
		}
	}
	newcomer := NodeInfo{ID: idWithPrefix(r, self, 0), Addr: addrN(50)}
	ping, ok := tb.Insert(newcomer, true, later)
	if !ok || ping.ID != ids[3] {
		t.Fatalf("ping = %v %v, want least recently seen questionable %v", ping, ok, ids[3])
	}
	if _, in := tb.Get(newcomer.ID); in {
		t.Fatal("newcomer inserted before the ping failed")
	}
	tb.Failed(ids[3], later)
	if _, in := tb.Get(ids[3]); in {
		t.Fatal("failed questionable node still present")
	}
	if _, in := tb.Get(newcomer.ID); !in {
		t.Fatal("replacement not inserted after failed ping")
	}
	if tb.Len() != K {
		t.Fatalf("len %d", tb.Len())
	}
}

func TestNodeStates(t *testing.T) {
	c := Contact{LastSeen: epoch}
	if c.State(epoch.Add(time.Minute)) != Good || c.State(epoch.Add(GoodDuration)) != Questionable {
		t.Fatal("good/questionable by last seen")
	}
	c.Failures = 1
	if c.State(epoch.Add(time.Minute)) != Good || c.State(epoch.Add(GoodDuration)) != Bad {
		t.Fatal("one failure: good stays good, questionable turns bad")
	}
	c.Failures = 2
	if c.State(epoch) != Bad {
		t.Fatal("two failures: bad")
	}
	var bad Contact
	tb := NewRoutingTable(ID{})
	now := epoch
	for i := 0; i < K; i++ {
		tb.Insert(NodeInfo{ID: ID{0x80, byte(i)}, Addr: addrN(i)}, true, now)
	}
	tb.Failed(ID{0x80, 2}, now)
	tb.Failed(ID{0x80, 2}, now)
	bad, _ = tb.Get(ID{0x80, 2})
	if bad.State(now) != Bad {
		t.Fatal("twice-failed node not bad")
	}
	if _, ping := tb.Insert(NodeInfo{ID: ID{0x80, 0xff}, Addr: addrN(77)}, false, now); ping {
		t.Fatal("bad node should be replaced without a ping")
	}
	if _, in := tb.Get(ID{0x80, 0xff}); !in {
		t.Fatal("newcomer did not replace the bad node")
	}
	for _, n := range tb.Closest(ID{}, 100, now) {
		if n.ID == (ID{0x80, 2}) {
			t.Fatal("Closest returned a bad node")
		}
	}
}

func TestClosestSortedAndStale(t *testing.T) {
	r := seededRand(t, 4)
	self := RandomID(r)
	tb := NewRoutingTable(self)
	for i := 0; i < 300; i++ {
		tb.Insert(NodeInfo{ID: RandomID(r), Addr: addrN(i)}, true, epoch)
	}
	if tb.Len() > NumBuckets*K {
		t.Fatalf("table grew to %d", tb.Len())
	}
	target := RandomID(r)
	got := tb.Closest(target, K, epoch)
	all := tb.Closest(target, 10000, epoch)
	if len(got) != K || len(all) != tb.Len() {
		t.Fatalf("Closest sizes %d %d", len(got), len(all))
	}
	for i := range got {
		if got[i] != all[i] {
			t.Fatal("Closest(K) is not a prefix of the full sort")
		}
	}
	for i := 1; i < len(all); i++ {
		if Closer(target, all[i].ID, all[i-1].ID) {
			t.Fatal("not sorted by distance")
		}
	}
	if s := tb.StaleBuckets(epoch.Add(time.Minute)); len(s) != 0 {
		t.Fatalf("fresh buckets stale: %v", s)
	}
	stale := tb.StaleBuckets(epoch.Add(GoodDuration))
	if len(stale) == 0 {
		t.Fatal("no stale buckets after 15 minutes")
	}
	tb.Touch(stale[0], epoch.Add(GoodDuration))
	if s := tb.StaleBuckets(epoch.Add(GoodDuration)); len(s) != len(stale)-1 {
		t.Fatal("Touch did not refresh bucket")
	}
}

func TestTokens(t *testing.T) {
	r := seededRand(t, 5)
	m := NewTokenManager(r, epoch)
	ip := netip.MustParseAddr("192.0.2.1")
	other := netip.MustParseAddr("192.0.2.2")
	tok := m.Issue(ip, epoch)
	if len(tok) != tokenLen {
		t.Fatalf("token length %d", len(tok))
	}
	if !m.Valid(tok, ip, epoch) {
		t.Fatal("fresh token rejected")
	}
	if m.Valid(tok, other, epoch) {
		t.Fatal("token accepted from another IP")
	}
	if m.Valid(tok+"x", ip, epoch) || m.Valid("", ip, epoch) {
		t.Fatal("altered token accepted")
	}
	if !m.Valid(tok, ip, epoch.Add(TokenRotation+time.Second)) {
		t.Fatal("token from the previous secret rejected")
	}
	if m.Valid(tok, ip, epoch.Add(2*TokenRotation+time.Second)) {
		t.Fatal("token two rotations old accepted")
	}
	if !m.Valid(m.Issue(netip.MustParseAddr("::ffff:192.0.2.1"), epoch.Add(time.Hour)), ip, epoch.Add(time.Hour)) {
		t.Fatal("4in6 address not treated as IPv4")
	}
	m2 := NewTokenManager(seededRand(t, 5), epoch)
	if m2.Valid(tok, ip, epoch.Add(24*time.Hour)) {
		t.Fatal("token valid after a long gap")
	}
}

func TestPeerStoreBounds(t *testing.T) {
	s := NewPeerStore(3, 4)
	r := seededRand(t, 6)
	for h := 0; h < 5; h++ {
		for p := 0; p < 10; p++ {
			s.Add(ID{byte(h)}, addrN(p), epoch)
		}
	}
	if s.InfoHashes() != 3 || s.Len() != 12 {
		t.Fatalf("store holds %d hashes, %d peers; want 3, 12", s.InfoHashes(), s.Len())
	}
	if got := s.Get(ID{0}, 2, epoch, r); len(got) != 2 {
		t.Fatalf("Get limited to 2 returned %d", len(got))
	}
	if got := s.Get(ID{0}, 50, epoch.Add(PeerTTL), r); len(got) != 0 {
		t.Fatalf("expired peers returned: %v", got)
	}
	// After expiry, new info hashes fit again.
	if !s.Add(ID{9}, addrN(1), epoch.Add(PeerTTL)) || s.InfoHashes() != 1 || s.Len() != 1 {
		t.Fatalf("after expiry: %d hashes %d peers", s.InfoHashes(), s.Len())
	}
	// Re-announcing refreshes the TTL.
	s.Add(ID{9}, addrN(1), epoch.Add(PeerTTL+20*time.Minute))
	if got := s.Get(ID{9}, 50, epoch.Add(2*PeerTTL), r); len(got) != 1 {
		t.Fatal("re-announce did not extend TTL")
	}
}

func TestRateLimiter(t *testing.T) {
	l := ratelimit.NewPerSource(10, 5, 3)
	ip := netip.MustParseAddr("192.0.2.1")
	n := 0
	for i := 0; i < 100; i++ {
		if l.Allow(ip, epoch) {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("burst allowed %d, want 5", n)
	}
	if !l.Allow(ip, epoch.Add(100*time.Millisecond)) {
		t.Fatal("refill after 100ms at 10/s did not allow one")
	}
	for i := 0; i < 100; i++ {
		l.Allow(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), epoch)
	}
	if l.Len() > 3 {
		t.Fatalf("limiter tracks %d sources, bound 3", l.Len())
	}
}
