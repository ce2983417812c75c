package tracker

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"
)

// Errors a [Store] returns when a memory bound would be exceeded.
var (
	// ErrTooManyTorrents means the store already tracks its maximum number
	// of swarms and will not start another.
	ErrTooManyTorrents = errors.New("too many torrents")
	// ErrSwarmFull means the swarm already holds its maximum number of
	// peers and will not admit another.
	ErrSwarmFull = errors.New("swarm full")
)

// Peer is one peer of a swarm as the tracker knows it.
type Peer struct {
	ID   [20]byte
	Addr netip.AddrPort
	// Left is the bytes the peer still needs; zero makes it a seeder.
	Left int64
	// Downloaded is the bytes the peer reports having downloaded.
	Downloaded int64
}

// Seeder reports whether p has the whole torrent.
func (p Peer) Seeder() bool { return p.Left == 0 }

// Store keeps the peers of each swarm, keyed by info hash and peer ID, and
// forgets peers that have not announced within its time to live. The time
// is passed in by the caller, so a store has no clock of its own.
// Implementations must be safe for concurrent use.
type Store interface {
	// Put inserts or refreshes p in the swarm of infoHash as seen at now.
	// A peer at the same address under another ID replaces that entry (a
	// restarted client). It fails with ErrTooManyTorrents or ErrSwarmFull
	// when a bound would be exceeded.
	Put(ctx context.Context, infoHash [20]byte, p Peer, now time.Time) error
	// Remove forgets the peer id in the swarm of infoHash; removing an
	// unknown peer is not an error.
	Remove(ctx context.Context, infoHash [20]byte, id [20]byte, now time.Time) error
	// Peers returns the live peers of the swarm of infoHash at now, in no
	// particular order. The slice is the caller's.
	Peers(ctx context.Context, infoHash [20]byte, now time.Time) ([]Peer, error)
	// Completed counts one finished download in the swarm of infoHash
	// (the "downloaded" figure of a scrape).
	Completed(ctx context.Context, infoHash [20]byte) error
	// Scrape returns the swarm's counts at now (BEP 48).
	Scrape(ctx context.Context, infoHash [20]byte, now time.Time) (SwarmStats, error)
	// Stats returns totals over every swarm, for metrics.
	Stats(ctx context.Context, now time.Time) (StoreStats, error)
}

// SwarmStats are one swarm's counts as a scrape reports them.
type SwarmStats struct {
	// Complete and Incomplete count live seeders and leechers.
	Complete, Incomplete int
	// Downloaded counts "completed" events the store has seen.
	Downloaded int
}

// StoreStats are totals over a whole store.
type StoreStats struct {
	Torrents, Peers, Seeders int
}

// countPeers tallies seeders and leechers of ps.
func countPeers(ps []Peer) (s SwarmStats) {
	for _, p := range ps {
		if p.Seeder() {
			s.Complete++
		} else {
			s.Incomplete++
		}
	}
	return s
}

// MemoryStore is a [Store] held in process memory. Expired peers are
// dropped lazily: from a swarm whenever it is touched, and from every
// swarm in a sweep at most once per TTL, run by whichever call comes due.
type MemoryStore struct {
	ttl                time.Duration
	maxTorrents        int
	maxPeersPerTorrent int

	mu        sync.Mutex
	swarms    map[[20]byte]*memSwarm
	lastSweep time.Time
}

// memSwarm is one torrent's peers, indexed by ID and by address.
type memSwarm struct {
	peers      map[[20]byte]memPeer
	byAddr     map[netip.AddrPort][20]byte
	downloaded int
}

type memPeer struct {
	Peer
	lastSeen time.Time
}

// NewMemoryStore returns an empty store that forgets peers not seen for
// ttl, holds at most maxTorrents swarms of at most maxPeersPerTorrent
// peers each. Non-positive bounds mean unbounded.
func NewMemoryStore(ttl time.Duration, maxTorrents, maxPeersPerTorrent int) *MemoryStore {
	return &MemoryStore{
		ttl:                ttl,
		maxTorrents:        maxTorrents,
		maxPeersPerTorrent: maxPeersPerTorrent,
		swarms:             make(map[[20]byte]*memSwarm),
	}
}

// Put implements [Store].
func (m *MemoryStore) Put(_ context.Context, infoHash [20]byte, p Peer, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	s := m.swarms[infoHash]
	if s == nil {
		if m.maxTorrents > 0 && len(m.swarms) >= m.maxTorrents {
			return ErrTooManyTorrents
		}
		s = &memSwarm{peers: make(map[[20]byte]memPeer), byAddr: make(map[netip.AddrPort][20]byte)}
		m.swarms[infoHash] = s
	}
	if old, ok := s.byAddr[p.Addr]; ok && old != p.ID {
		s.remove(old)
	}
	if old, ok := s.peers[p.ID]; ok {
		delete(s.byAddr, old.Addr)
	} else if m.maxPeersPerTorrent > 0 && len(s.peers) >= m.maxPeersPerTorrent {
		// Full: make room from expired peers before refusing. Otherwise
		// expiry is left to the Peers call that follows every announce.
		s.expire(now.Add(-m.ttl))
		if len(s.peers) >= m.maxPeersPerTorrent {
			m.dropIfEmpty(infoHash, s)
			return ErrSwarmFull
		}
	}
	s.peers[p.ID] = memPeer{Peer: p, lastSeen: now}
	s.byAddr[p.Addr] = p.ID
	return nil
}

// Remove implements [Store].
func (m *MemoryStore) Remove(_ context.Context, infoHash [20]byte, id [20]byte, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	if s := m.swarms[infoHash]; s != nil {
		s.remove(id)
		m.dropIfEmpty(infoHash, s)
	}
	return nil
}

// Peers implements [Store].
func (m *MemoryStore) Peers(_ context.Context, infoHash [20]byte, now time.Time) ([]Peer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	s := m.swarms[infoHash]
	if s == nil {
		return nil, nil
	}
	s.expire(now.Add(-m.ttl))
	if m.dropIfEmpty(infoHash, s) {
		return nil, nil
	}
	out := make([]Peer, 0, len(s.peers))
	for _, p := range s.peers {
		out = append(out, p.Peer)
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
func (m *MemoryStore) Scrape(ctx context.Context, infoHash [20]byte, now time.Time) (SwarmStats, error) {
	ps, _ := m.Peers(ctx, infoHash, now)
	st := countPeers(ps)
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.swarms[infoHash]; s != nil {
		st.Downloaded = s.downloaded
	}
	return st, nil
}

// Stats implements [Store]; expired peers not yet swept are counted.
func (m *MemoryStore) Stats(_ context.Context, now time.Time) (StoreStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	st := StoreStats{Torrents: len(m.swarms)}
	for _, s := range m.swarms {
		st.Peers += len(s.peers)
		for _, p := range s.peers {
			if p.Seeder() {
				st.Seeders++
			}
		}
	}
	return st, nil
}

// Len reports how many swarms and peers the store holds, expired or not.
func (m *MemoryStore) Len() (torrents, peers int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.swarms {
		peers += len(s.peers)
	}
	return len(m.swarms), peers
}

// maybeSweep expires every swarm if a TTL has passed since the last sweep,
// so swarms nobody announces to any more are freed too.
func (m *MemoryStore) maybeSweep(now time.Time) {
	if now.Sub(m.lastSweep) < m.ttl {
		return
	}
	m.lastSweep = now
	cutoff := now.Add(-m.ttl)
	for ih, s := range m.swarms {
		s.expire(cutoff)
		m.dropIfEmpty(ih, s)
	}
}

func (m *MemoryStore) dropIfEmpty(infoHash [20]byte, s *memSwarm) bool {
	if len(s.peers) > 0 {
		return false
	}
	delete(m.swarms, infoHash)
	return true
}

// expire drops peers last seen before cutoff.
func (s *memSwarm) expire(cutoff time.Time) {
	for id, p := range s.peers {
		if p.lastSeen.Before(cutoff) {
			s.remove(id)
		}
	}
}

func (s *memSwarm) remove(id [20]byte) {
	if p, ok := s.peers[id]; ok {
		delete(s.byAddr, p.Addr)
		delete(s.peers, id)
	}
}
