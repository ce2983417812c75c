package tracker

import (
	"container/heap"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"
)

// MemoryStoreConfig configures a [MemoryStore].
type MemoryStoreConfig struct {
	// TTL is how long a peer stays without re-announcing.
	TTL time.Duration
	// MaxTorrents and MaxPeersPerTorrent bound the swarms and each
	// swarm's peers; non-positive means unbounded.
	MaxTorrents, MaxPeersPerTorrent int
	// AddrLimit bounds the peers one address holds in a swarm and says
	// which addresses it spares; the zero value bounds nothing.
	AddrLimit AddrLimit
	// Rand draws the samples; default a generator seeded from crypto/rand.
	// The store then owns it (it serialises access under its lock).
	Rand *rand.Rand
}

// MemoryStore is a [Store] held in process memory. Every operation costs
// time in the number of peers it touches, not in the size of the swarm:
// each swarm keeps its peers in a list ordered by last announce (expiry
// pops from the front), in four pools (seeders and leechers of each IP
// family) of address groups that a sample shuffles partially in place,
// and counts each address's peers in a heap that names the heaviest
// address at once. Swarms nobody announces to any more are freed by a
// sweep at most once per TTL, run by whichever call comes due.
type MemoryStore struct {
	cfg MemoryStoreConfig

	mu        sync.Mutex // guards everything below, and cfg.Rand
	swarms    map[[20]byte]*memSwarm
	lastSweep time.Time
	touched   []*memGroup // scratch of Sample: groups whose taken to reset
}

// memSwarm is one torrent's peers.
type memSwarm struct {
	byID   map[[20]byte]*memPeer
	byAddr map[netip.AddrPort]*memPeer
	// pools holds every peer once, in a group of the pool of its kind
	// and family.
	pools [numPools]memPool
	// addrs counts the peers of each address the AddrLimit applies to;
	// heavy orders them, most peers first.
	addrs map[addrKey]*memAddr
	heavy addrHeap
	// oldest and newest end the list of peers in the order they last
	// announced (memPeer.prev, memPeer.next), oldest first.
	oldest, newest *memPeer
	downloaded     int
	// zones holds the labelled peers once more, by exact label, each in
	// the pool of its kind and family (memPeer.zpos says where). A label
	// is here only while it has a peer, so there are at most as many as
	// peers.
	zones map[string]*zonePools
}

// zonePools are one label's peers, an index slice per pool.
type zonePools [numPools][]*memPeer

// memPool is one pool's peers, grouped by address: groups[:visited] of
// a sample in progress are the groups it has drawn from.
type memPool struct {
	peers  int
	groups []*memGroup
	byKey  map[addrKey]*memGroup
}

// memGroup is the peers of one pool at one address (an exempt peer is a
// group of its own).
type memGroup struct {
	key   addrKey
	pos   int // in memPool.groups
	peers []*memPeer
	// taken counts the peers at the front of peers a sample in progress
	// has drawn; zero between samples.
	taken int
	// one backs peers while the group has one peer (most groups), so a
	// draw does not fetch a separate array.
	one [1]*memPeer
}

// memAddr is one address's count in one swarm.
type memAddr struct {
	key addrKey
	n   int
	// unvalued counts its peers that neither proved progress nor hold a
	// key: of two addresses as heavy, one with such a peer loses one first.
	unvalued int
	heap     int // index in memSwarm.heavy
	// groups are its groups, one per pool, for choosing whom to evict.
	groups [numPools]*memGroup
}

// memPeer is one peer of a memSwarm.
type memPeer struct {
	Peer
	lastSeen time.Time
	// proven: we saw it go from leecher to seeder with its downloaded
	// count rising (the "completed with real progress" of a real client).
	proven     bool
	pool       int
	group      *memGroup
	gpos       int // in group.peers
	zpos       int // in zones[Zone][pool], if labelled
	addr       *memAddr
	prev, next *memPeer
}

// NewMemoryStore returns an empty store that forgets peers not seen for
// ttl, holds at most maxTorrents swarms of at most maxPeersPerTorrent
// peers each. Non-positive bounds mean unbounded; no per-address bound.
func NewMemoryStore(ttl time.Duration, maxTorrents, maxPeersPerTorrent int) *MemoryStore {
	return NewMemoryStoreWith(MemoryStoreConfig{TTL: ttl, MaxTorrents: maxTorrents, MaxPeersPerTorrent: maxPeersPerTorrent})
}

// NewMemoryStoreWith returns an empty store configured by cfg.
func NewMemoryStoreWith(cfg MemoryStoreConfig) *MemoryStore {
	if cfg.Rand == nil {
		var seed [16]byte
		crand.Read(seed[:])
		cfg.Rand = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	return &MemoryStore{cfg: cfg, swarms: make(map[[20]byte]*memSwarm)}
}

// Put implements [Store].
func (m *MemoryStore) Put(_ context.Context, infoHash [20]byte, p Peer, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	s := m.swarms[infoHash]
	if s == nil {
		if m.cfg.MaxTorrents > 0 && len(m.swarms) >= m.cfg.MaxTorrents {
			return ErrTooManyTorrents
		}
		s = &memSwarm{byID: make(map[[20]byte]*memPeer), byAddr: make(map[netip.AddrPort]*memPeer),
			addrs: make(map[addrKey]*memAddr)}
		m.swarms[infoHash] = s
	}
	defer m.dropIfEmpty(infoHash, s)
	s.expire(now.Add(-m.cfg.TTL))
	key, limited := m.cfg.AddrLimit.key(p.Addr)
	mp := s.byID[p.ID]
	if mp != nil && !mayActFor(p, mp.Peer) {
		return ErrPeerIDTaken
	}
	if old := s.byAddr[p.Addr]; old != nil && old != mp {
		s.remove(old) // a restarted client at the same address and port
	}
	if limited && m.cfg.AddrLimit.Max > 0 && (mp == nil || mp.addr == nil || mp.addr.key != key) {
		if a := s.addrs[key]; a != nil && a.n >= m.cfg.AddrLimit.Max {
			return ErrAddressFull
		}
	}
	if mp != nil {
		s.update(mp, p, key, limited, now)
		return nil
	}
	if m.cfg.MaxPeersPerTorrent > 0 && len(s.byID) >= m.cfg.MaxPeersPerTorrent && !s.evictFor(key, limited) {
		return ErrSwarmFull
	}
	s.add(&memPeer{Peer: p, lastSeen: now}, key, limited)
	return nil
}

// IndexesZones implements [ZoneIndexer]: the store indexes every label.
func (m *MemoryStore) IndexesZones() bool { return true }

// Remove implements [Store].
func (m *MemoryStore) Remove(_ context.Context, infoHash [20]byte, p Peer, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	if s := m.swarms[infoHash]; s != nil {
		if mp := s.byID[p.ID]; mp != nil && mayActFor(p, mp.Peer) {
			s.remove(mp)
		}
		m.dropIfEmpty(infoHash, s)
	}
	return nil
}

// live returns the swarm of infoHash with its expired peers dropped, or
// nil if it has no live peer. m.mu must be held.
func (m *MemoryStore) live(infoHash [20]byte, now time.Time) *memSwarm {
	m.maybeSweep(now)
	s := m.swarms[infoHash]
	if s == nil {
		return nil
	}
	s.expire(now.Add(-m.cfg.TTL))
	if m.dropIfEmpty(infoHash, s) {
		return nil
	}
	return s
}

// Sample implements [Store]. It is fair to addresses: a draw takes one
// peer from each of as many address groups as it can, groups chosen at
// random, before it takes a second peer from any group, so a thousand
// peers at one address weigh no more in a draw than one peer at another.
// (Exempt peers are groups of their own, so a swarm on one exempt address
// is drawn from peer by peer.) Each peer drawn costs a few steps of a
// partial Fisher-Yates shuffle of the pool's groups, in place; once every
// group of the pools drawn from has given a peer, a further peer costs a
// scan of those groups, fewer than the peers already drawn.
func (m *MemoryStore) Sample(_ context.Context, infoHash [20]byte, d Draw, now time.Time, dst []Peer) ([]Peer, SwarmStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.live(infoHash, now)
	if s == nil {
		return dst, SwarmStats{}, nil
	}
	// groupsLeft[p] counts the groups of pool p not drawn from yet (the
	// drawn ones are moved to the front); peersLeft[p] its peers not
	// drawn.
	var groupsLeft, peersLeft [numPools]int
	for p := range s.pools {
		groupsLeft[p], peersLeft[p] = len(s.pools[p].groups), s.pools[p].peers
	}
	rng := m.cfg.Rand
	seeders, leechers, all := drawPools(d.Family)
	if zp := s.zones[d.Zone]; d.Zone != "" && zp != nil {
		dst = m.drawZone(s, zp, d, seeders, leechers, all, &groupsLeft, &peersLeft, dst)
	}
	for _, part := range [...]struct {
		n  int
		ps poolSet
	}{{d.Seeders, seeders}, {d.Leechers, leechers}, {d.Any, all}} {
		for range part.n {
			var g *memGroup
			if p, ok := pickPool(rng.IntN, &groupsLeft, part.ps); ok {
				pool := &s.pools[p]
				front := len(pool.groups) - groupsLeft[p] - 1
				pool.swapGroups(front, front+rng.IntN(groupsLeft[p]+1))
				g = pool.groups[front]
				peersLeft[p]--
			} else if p, ok := pickPool(rng.IntN, &peersLeft, part.ps); ok {
				g = s.pools[p].groupWithPeerLeft(rng.IntN)
			} else {
				break
			}
			if g.taken == 0 {
				m.touched = append(m.touched, g)
			}
			g.swapPeers(g.taken, g.taken+rng.IntN(len(g.peers)-g.taken))
			dst = append(dst, g.peers[g.taken].Peer)
			g.taken++
		}
	}
	for _, g := range m.touched {
		g.taken = 0
	}
	clear(m.touched)
	m.touched = m.touched[:0]
	return dst, s.stats(), nil
}

// drawZone draws the Near part of d from zp, peer by peer (a partial
// Fisher-Yates shuffle of the label's pools; AddrLimit bounds what one
// address can put there, and the policy takes one peer per address while
// others are left), appending to dst. Each peer drawn is marked taken in
// its address group, and a group left with no peer counts as drawn from,
// so the swarm's parts that follow never draw it again. m.mu must be held.
func (m *MemoryStore) drawZone(s *memSwarm, zp *zonePools, d Draw, seeders, leechers, all poolSet,
	groupsLeft, peersLeft *[numPools]int, dst []Peer) []Peer {
	rng := m.cfg.Rand
	var left [numPools]int
	for p := range zp {
		left[p] = len(zp[p])
	}
	for k, ps := range [3]poolSet{seeders, leechers, all} {
		for range [3]int{d.Near.Seeders, d.Near.Leechers, d.Near.Any}[k] {
			p, ok := pickPool(rng.IntN, &left, ps)
			if !ok {
				break
			}
			front := len(zp[p]) - left[p] - 1
			zp.swap(p, front, front+rng.IntN(left[p]+1))
			mp := zp[p][front]
			dst = append(dst, mp.Peer)
			g := mp.group
			if g.taken == 0 {
				m.touched = append(m.touched, g)
			}
			g.swapPeers(mp.gpos, g.taken)
			g.taken++
			peersLeft[p]--
			if pl := &s.pools[p]; g.taken == len(g.peers) {
				if drawn := len(pl.groups) - groupsLeft[p]; g.pos >= drawn {
					pl.swapGroups(drawn, g.pos)
					groupsLeft[p]--
				}
			}
		}
	}
	return dst
}

// groupWithPeerLeft picks, among the groups of pl that have peers a
// sample has not drawn, one with probability proportional to how many.
func (pl *memPool) groupWithPeerLeft(intN func(int) int) *memGroup {
	total := 0
	for _, g := range pl.groups {
		total += len(g.peers) - g.taken
	}
	r := intN(total)
	for _, g := range pl.groups {
		if r < len(g.peers)-g.taken {
			return g
		}
		r -= len(g.peers) - g.taken
	}
	panic("unreachable")
}

// Peers implements [Store].
func (m *MemoryStore) Peers(_ context.Context, infoHash [20]byte, now time.Time) ([]Peer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.live(infoHash, now)
	if s == nil {
		return nil, nil
	}
	out := make([]Peer, 0, len(s.byID))
	for mp := s.oldest; mp != nil; mp = mp.next {
		out = append(out, mp.Peer)
	}
	return out, nil
}

// Completed implements [Store]. A swarm nobody is in does not count.
func (m *MemoryStore) Completed(_ context.Context, infoHash [20]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.swarms[infoHash]; s != nil {
		s.downloaded++
	}
	return nil
}

// Scrape implements [Store].
func (m *MemoryStore) Scrape(_ context.Context, infoHash [20]byte, now time.Time) (SwarmStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.live(infoHash, now)
	if s == nil {
		return SwarmStats{}, nil
	}
	st := s.stats()
	st.Downloaded = s.downloaded
	return st, nil
}

// Stats implements [Store]; expired peers not yet swept are counted.
func (m *MemoryStore) Stats(_ context.Context, now time.Time) (StoreStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	st := StoreStats{Torrents: len(m.swarms)}
	for _, s := range m.swarms {
		c := s.stats()
		st.Peers += c.Complete + c.Incomplete
		st.Seeders += c.Complete
	}
	return st, nil
}

// Len reports how many swarms and peers the store holds, expired or not.
func (m *MemoryStore) Len() (torrents, peers int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.swarms {
		peers += len(s.byID)
	}
	return len(m.swarms), peers
}

// addrCounts returns how many peers each address the AddrLimit applies
// to holds in the swarm of infoHash, expired or not (for tests).
func (m *MemoryStore) addrCounts(infoHash [20]byte) map[netip.Addr]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[netip.Addr]int{}
	if s := m.swarms[infoHash]; s != nil {
		for k, a := range s.addrs {
			out[k.ip] = a.n
		}
	}
	return out
}

// maybeSweep expires every swarm if a TTL has passed since the last sweep,
// so swarms nobody announces to any more are freed too.
func (m *MemoryStore) maybeSweep(now time.Time) {
	if now.Sub(m.lastSweep) < m.cfg.TTL {
		return
	}
	m.lastSweep = now
	cutoff := now.Add(-m.cfg.TTL)
	for ih, s := range m.swarms {
		s.expire(cutoff)
		m.dropIfEmpty(ih, s)
	}
}

func (m *MemoryStore) dropIfEmpty(infoHash [20]byte, s *memSwarm) bool {
	if len(s.byID) > 0 {
		return false
	}
	delete(m.swarms, infoHash)
	return true
}

// mayActFor reports whether an announce of p may refresh, move or remove
// the listed entry old of the same peer ID: it comes from old's IP, or it
// carries the key old announced with. Otherwise anyone who learnt a peer
// ID (the dictionary peer form hands them out) could move the peer or
// stop it.
func mayActFor(p, old Peer) bool {
	return p.Addr.Addr() == old.Addr.Addr() || (old.Key != "" && p.Key == old.Key)
}

// stats counts the swarm's seeders and leechers.
func (s *memSwarm) stats() SwarmStats {
	return SwarmStats{
		Complete:   s.pools[poolSeed4].peers + s.pools[poolSeed6].peers,
		Incomplete: s.pools[poolLeech4].peers + s.pools[poolLeech6].peers,
	}
}

// evictFor makes room for a newcomer at key (limited: the AddrLimit
// applies to it) by dropping one peer of the address holding the most
// peers, if that address holds at least two more than the newcomer's
// (so the newcomer's address ends with no more than it). The peer dropped
// is that address's least worth keeping: not proven and holding no key
// before the others, then the one silent longest. It reports whether it
// made room.
func (s *memSwarm) evictFor(key addrKey, limited bool) bool {
	if len(s.heavy) == 0 {
		return false
	}
	top := s.heavy[0]
	have := 0
	if a := s.addrs[key]; limited && a != nil {
		have = a.n
	}
	if top.n < have+2 {
		return false
	}
	var victim *memPeer
	for _, g := range top.groups {
		if g == nil {
			continue
		}
		for _, mp := range g.peers[:min(len(g.peers), maxEvictScan)] {
			if victim == nil || mp.worthLess(victim) {
				victim = mp
			}
		}
	}
	s.remove(victim)
	return true
}

// maxEvictScan bounds the peers of one group evictFor compares.
const maxEvictScan = 64

// worthLess reports whether mp is less worth keeping than o.
func (mp *memPeer) worthLess(o *memPeer) bool {
	if a, b := mp.valued(), o.valued(); a != b {
		return b
	}
	return mp.lastSeen.Before(o.lastSeen)
}

// valued: the peer proved progress or holds a key.
func (mp *memPeer) valued() bool { return mp.proven || mp.Key != "" }

// expire drops the peers last seen before cutoff: the front of the list.
func (s *memSwarm) expire(cutoff time.Time) {
	for s.oldest != nil && s.oldest.lastSeen.Before(cutoff) {
		s.remove(s.oldest)
	}
}

// add inserts mp, seen at mp.lastSeen, at address key.
func (s *memSwarm) add(mp *memPeer, key addrKey, limited bool) {
	s.byID[mp.ID] = mp
	s.byAddr[mp.Addr] = mp
	s.enpool(mp, key, limited)
	s.pushNewest(mp)
}

// update refreshes mp with p's address and counters, seen at now.
func (s *memSwarm) update(mp *memPeer, p Peer, key addrKey, limited bool, now time.Time) {
	proven := mp.proven || (p.Seeder() && !mp.Seeder() && p.Downloaded > mp.Downloaded)
	if mp.Addr != p.Addr {
		if s.byAddr[mp.Addr] == mp {
			delete(s.byAddr, mp.Addr)
		}
		s.byAddr[p.Addr] = mp
	}
	moved := poolOf(p) != mp.pool || mp.group.key != key || (mp.addr != nil) != limited || p.Zone != mp.Zone
	if moved {
		s.unpool(mp)
	}
	wasValued := mp.valued()
	mp.Peer, mp.proven = p, proven
	if moved {
		s.enpool(mp, key, limited)
	} else if a := mp.addr; a != nil && wasValued != mp.valued() {
		if wasValued {
			a.unvalued++
		} else {
			a.unvalued--
		}
		heap.Fix(&s.heavy, a.heap)
	}
	mp.lastSeen = now
	s.unlink(mp)
	s.pushNewest(mp)
}

// remove forgets mp.
func (s *memSwarm) remove(mp *memPeer) {
	delete(s.byID, mp.ID)
	if s.byAddr[mp.Addr] == mp {
		delete(s.byAddr, mp.Addr)
	}
	s.unpool(mp)
	s.unlink(mp)
}

// enpool puts mp in the group for key of the pool of its kind, and counts
// it at its address.
func (s *memSwarm) enpool(mp *memPeer, key addrKey, limited bool) {
	mp.pool = poolOf(mp.Peer)
	pl := &s.pools[mp.pool]
	g := pl.byKey[key]
	if g == nil {
		if pl.byKey == nil {
			pl.byKey = make(map[addrKey]*memGroup)
		}
		g = &memGroup{key: key, pos: len(pl.groups)}
		g.peers = g.one[:0]
		pl.byKey[key] = g
		pl.groups = append(pl.groups, g)
	}
	mp.group, mp.gpos = g, len(g.peers)
	g.peers = append(g.peers, mp)
	pl.peers++
	s.enzone(mp)
	mp.addr = nil
	if !limited {
		return
	}
	a := s.addrs[key]
	if a == nil {
		a = &memAddr{key: key}
		s.addrs[key] = a
		heap.Push(&s.heavy, a)
	}
	a.n++
	if !mp.valued() {
		a.unvalued++
	}
	a.groups[mp.pool] = g
	heap.Fix(&s.heavy, a.heap)
	mp.addr = a
}

// unpool takes mp out of its group (and the group out of its pool when
// it empties) by moving the last one into its place, and uncounts it.
func (s *memSwarm) unpool(mp *memPeer) {
	s.unzone(mp)
	g, pl := mp.group, &s.pools[mp.pool]
	last := len(g.peers) - 1
	g.swapPeers(mp.gpos, last)
	g.peers[last] = nil
	g.peers = g.peers[:last]
	pl.peers--
	if len(g.peers) == 0 {
		lg := len(pl.groups) - 1
		pl.swapGroups(g.pos, lg)
		pl.groups[lg] = nil
		pl.groups = pl.groups[:lg]
		delete(pl.byKey, g.key)
		if mp.addr != nil {
			mp.addr.groups[mp.pool] = nil
		}
	}
	if a := mp.addr; a != nil {
		a.n--
		if !mp.valued() {
			a.unvalued--
		}
		if a.n == 0 {
			heap.Remove(&s.heavy, a.heap)
			delete(s.addrs, a.key)
		} else {
			heap.Fix(&s.heavy, a.heap)
		}
		mp.addr = nil
	}
	mp.group = nil
}

func (pl *memPool) swapGroups(i, j int) {
	pl.groups[i], pl.groups[j] = pl.groups[j], pl.groups[i]
	pl.groups[i].pos, pl.groups[j].pos = i, j
}

// enzone adds a labelled mp to its label's pool of its kind.
func (s *memSwarm) enzone(mp *memPeer) {
	if mp.Zone == "" {
		return
	}
	if s.zones == nil {
		s.zones = make(map[string]*zonePools)
	}
	zp := s.zones[mp.Zone]
	if zp == nil {
		zp = new(zonePools)
		s.zones[mp.Zone] = zp
	}
	mp.zpos = len(zp[mp.pool])
	zp[mp.pool] = append(zp[mp.pool], mp)
}

// unzone takes a labelled mp out of its label's pool (swap-remove), and
// forgets the label with its last peer.
func (s *memSwarm) unzone(mp *memPeer) {
	zp := s.zones[mp.Zone]
	if mp.Zone == "" || zp == nil {
		return
	}
	last := len(zp[mp.pool]) - 1
	zp.swap(mp.pool, mp.zpos, last)
	zp[mp.pool][last] = nil
	zp[mp.pool] = zp[mp.pool][:last]
	for _, ps := range zp {
		if len(ps) > 0 {
			return
		}
	}
	delete(s.zones, mp.Zone)
}

func (zp *zonePools) swap(p, i, j int) {
	ps := zp[p]
	ps[i], ps[j] = ps[j], ps[i]
	ps[i].zpos, ps[j].zpos = i, j
}

func (g *memGroup) swapPeers(i, j int) {
	g.peers[i], g.peers[j] = g.peers[j], g.peers[i]
	g.peers[i].gpos, g.peers[j].gpos = i, j
}

func (s *memSwarm) pushNewest(mp *memPeer) {
	mp.prev, mp.next = s.newest, nil
	if s.newest != nil {
		s.newest.next = mp
	} else {
		s.oldest = mp
	}
	s.newest = mp
}

func (s *memSwarm) unlink(mp *memPeer) {
	if mp.prev != nil {
		mp.prev.next = mp.next
	} else {
		s.oldest = mp.next
	}
	if mp.next != nil {
		mp.next.prev = mp.prev
	} else {
		s.newest = mp.prev
	}
	mp.prev, mp.next = nil, nil
}

// addrHeap orders a swarm's addresses by their peer count, most first,
// and of those as heavy the ones with an unvalued peer first
// (container/heap).
type addrHeap []*memAddr

func (h addrHeap) Len() int { return len(h) }
func (h addrHeap) Less(i, j int) bool {
	if h[i].n != h[j].n {
		return h[i].n > h[j].n
	}
	return h[i].unvalued > 0 && h[j].unvalued == 0
}
func (h addrHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heap, h[j].heap = i, j
}
func (h *addrHeap) Push(x any) {
	a := x.(*memAddr)
	a.heap = len(*h)
	*h = append(*h, a)
}
func (h *addrHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return a
}
