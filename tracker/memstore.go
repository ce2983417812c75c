package tracker

import (
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
	// Rand draws the samples; default a generator seeded from crypto/rand.
	// The store then owns it (it serialises access under its lock).
	Rand *rand.Rand
}

// MemoryStore is a [Store] held in process memory. Every operation costs
// time in the number of peers it touches, not in the size of the swarm:
// each swarm keeps its peers in a list ordered by last announce (expiry
// pops from the front) and in index slices per pool (seeders and leechers
// of each IP family), which a sample shuffles partially in place. Swarms
// nobody announces to any more are freed by a sweep at most once per TTL,
// run by whichever call comes due.
type MemoryStore struct {
	cfg MemoryStoreConfig

	mu        sync.Mutex // guards everything below, and cfg.Rand
	swarms    map[[20]byte]*memSwarm
	lastSweep time.Time
}

// memSwarm is one torrent's peers.
type memSwarm struct {
	byID   map[[20]byte]*memPeer
	byAddr map[netip.AddrPort]*memPeer
	// pools holds every peer once, in the pool of its kind and family;
	// memPeer.pool and memPeer.pos say where.
	pools [numPools][]*memPeer
	// oldest and newest end the list of peers in the order they last
	// announced (memPeer.prev, memPeer.next), oldest first.
	oldest, newest *memPeer
	downloaded     int
}

// memPeer is one peer of a memSwarm.
type memPeer struct {
	Peer
	lastSeen   time.Time
	pool, pos  int
	prev, next *memPeer
}

// NewMemoryStore returns an empty store that forgets peers not seen for
// ttl, holds at most maxTorrents swarms of at most maxPeersPerTorrent
// peers each. Non-positive bounds mean unbounded.
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
		s = &memSwarm{byID: make(map[[20]byte]*memPeer), byAddr: make(map[netip.AddrPort]*memPeer)}
		m.swarms[infoHash] = s
	}
	s.expire(now.Add(-m.cfg.TTL))
	if old := s.byAddr[p.Addr]; old != nil && old.ID != p.ID {
		s.remove(old)
	}
	if mp := s.byID[p.ID]; mp != nil {
		s.update(mp, p, now)
		return nil
	}
	if m.cfg.MaxPeersPerTorrent > 0 && len(s.byID) >= m.cfg.MaxPeersPerTorrent {
		m.dropIfEmpty(infoHash, s)
		return ErrSwarmFull
	}
	s.add(&memPeer{Peer: p}, now)
	return nil
}

// Remove implements [Store].
func (m *MemoryStore) Remove(_ context.Context, infoHash [20]byte, id [20]byte, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	if s := m.swarms[infoHash]; s != nil {
		if mp := s.byID[id]; mp != nil {
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

// Sample implements [Store]: each peer drawn costs a few steps of a
// partial Fisher-Yates shuffle of the pools, in place.
func (m *MemoryStore) Sample(_ context.Context, infoHash [20]byte, d Draw, now time.Time, dst []Peer) ([]Peer, SwarmStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.live(infoHash, now)
	if s == nil {
		return dst, SwarmStats{}, nil
	}
	// remaining[p] counts the peers of pool p not drawn yet; the drawn
	// ones are moved to the front of the pool, before the remaining.
	var remaining [numPools]int
	for p := range remaining {
		remaining[p] = len(s.pools[p])
	}
	seeders, leechers, all := drawPools(d.Family)
	for _, part := range [...]struct {
		n  int
		ps poolSet
	}{{d.Seeders, seeders}, {d.Leechers, leechers}, {d.Any, all}} {
		for range part.n {
			p, ok := pickPool(m.cfg.Rand.IntN, &remaining, part.ps)
			if !ok {
				break
			}
			pool := s.pools[p]
			front := len(pool) - remaining[p] - 1 // where the drawn peer goes
			s.swap(p, front, front+m.cfg.Rand.IntN(remaining[p]+1))
			dst = append(dst, pool[front].Peer)
		}
	}
	return dst, s.stats(), nil
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

// stats counts the swarm's seeders and leechers.
func (s *memSwarm) stats() SwarmStats {
	return SwarmStats{
		Complete:   len(s.pools[poolSeed4]) + len(s.pools[poolSeed6]),
		Incomplete: len(s.pools[poolLeech4]) + len(s.pools[poolLeech6]),
	}
}

// expire drops the peers last seen before cutoff: the front of the list.
func (s *memSwarm) expire(cutoff time.Time) {
	for s.oldest != nil && s.oldest.lastSeen.Before(cutoff) {
		s.remove(s.oldest)
	}
}

// add inserts mp, seen at now.
func (s *memSwarm) add(mp *memPeer, now time.Time) {
	s.byID[mp.ID] = mp
	s.byAddr[mp.Addr] = mp
	mp.pool = poolOf(mp.Peer)
	mp.pos = len(s.pools[mp.pool])
	s.pools[mp.pool] = append(s.pools[mp.pool], mp)
	mp.lastSeen = now
	s.pushNewest(mp)
}

// update refreshes mp with p's address and counters, seen at now.
func (s *memSwarm) update(mp *memPeer, p Peer, now time.Time) {
	if mp.Addr != p.Addr {
		delete(s.byAddr, mp.Addr)
		s.byAddr[p.Addr] = mp
	}
	mp.Peer = p
	if pool := poolOf(p); pool != mp.pool {
		s.unpool(mp)
		mp.pool, mp.pos = pool, len(s.pools[pool])
		s.pools[pool] = append(s.pools[pool], mp)
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

// unpool takes mp out of its pool by moving the pool's last peer into its
// place.
func (s *memSwarm) unpool(mp *memPeer) {
	pool := s.pools[mp.pool]
	last := len(pool) - 1
	s.swap(mp.pool, mp.pos, last)
	pool[last] = nil
	s.pools[mp.pool] = pool[:last]
}

// swap exchanges positions i and j of pool p.
func (s *memSwarm) swap(p, i, j int) {
	pool := s.pools[p]
	pool[i], pool[j] = pool[j], pool[i]
	pool[i].pos, pool[j].pos = i, j
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
