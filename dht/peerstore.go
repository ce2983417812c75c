package dht

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// Peer store limits. They bound what announce_peer queries from the
// outside can make us hold.
const (
	DefaultMaxInfoHashes   = 4096
	DefaultMaxPeersPerHash = 256
	PeerTTL                = 30 * time.Minute
	MaxValuesPerReply      = 50 // peers returned in one get_peers reply
)

// PeerStore holds the peers announced to us, per info hash, each for
// PeerTTL after its last announce. It is bounded in info hashes and in
// peers per info hash; when full, new entries are refused after expired
// ones are swept. It is not safe for concurrent use.
type PeerStore struct {
	maxHashes, maxPeers int
	hashes              map[ID]map[netip.AddrPort]time.Time
	count               int
}

// NewPeerStore returns a store with the given bounds (defaults if <= 0).
func NewPeerStore(maxHashes, maxPeersPerHash int) *PeerStore {
	if maxHashes <= 0 {
		maxHashes = DefaultMaxInfoHashes
	}
	if maxPeersPerHash <= 0 {
		maxPeersPerHash = DefaultMaxPeersPerHash
	}
	return &PeerStore{maxHashes: maxHashes, maxPeers: maxPeersPerHash, hashes: map[ID]map[netip.AddrPort]time.Time{}}
}

// Add records peer for infoHash at now. It reports false when a bound
// refused it.
func (s *PeerStore) Add(infoHash ID, peer netip.AddrPort, now time.Time) bool {
	peers, ok := s.hashes[infoHash]
	if !ok {
		if len(s.hashes) >= s.maxHashes {
			s.Expire(now)
			if len(s.hashes) >= s.maxHashes {
				return false
			}
		}
		peers = map[netip.AddrPort]time.Time{}
		s.hashes[infoHash] = peers
	}
	if _, ok := peers[peer]; !ok {
		if len(peers) >= s.maxPeers {
			s.expireHash(infoHash, peers, now)
			if len(peers) >= s.maxPeers {
				return false
			}
			s.hashes[infoHash] = peers // the sweep may have dropped an emptied map
		}
		s.count++
	}
	peers[peer] = now.Add(PeerTTL)
	return true
}

// Get returns up to n unexpired peers for infoHash, a random subset when
// there are more.
func (s *PeerStore) Get(infoHash ID, n int, now time.Time, r *rand.Rand) []netip.AddrPort {
	var out []netip.AddrPort
	for p, exp := range s.hashes[infoHash] {
		if now.Before(exp) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, netip.AddrPort.Compare) // map order is not seeded
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Len returns the number of stored peers across all info hashes.
func (s *PeerStore) Len() int { return s.count }

// InfoHashes returns the number of info hashes with stored peers.
func (s *PeerStore) InfoHashes() int { return len(s.hashes) }

// Expire drops every peer whose TTL has passed.
func (s *PeerStore) Expire(now time.Time) {
	for ih, peers := range s.hashes {
		s.expireHash(ih, peers, now)
	}
}

func (s *PeerStore) expireHash(ih ID, peers map[netip.AddrPort]time.Time, now time.Time) {
	for p, exp := range peers {
		if !now.Before(exp) {
			delete(peers, p)
			s.count--
		}
	}
	if len(peers) == 0 {
		delete(s.hashes, ih)
	}
}
