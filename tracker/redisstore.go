package tracker

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a [Store] in a Redis server, so several tracker processes
// behind one address share one view of every swarm. Layout, under a key
// prefix:
//
//	PREFIX s:HEX   hash: raw peer ID -> last seen, left, downloaded, address
//	PREFIX d:HEX   counter of completed downloads (scrape "downloaded")
//	PREFIX swarms  set of HEX info hashes with peers (for metrics)
//
// A swarm's hash expires as a whole one TTL after its last announce;
// expired peers inside a live swarm are filtered on read and deleted then.
// The per-swarm peer bound is checked with HLEN before adding, so
// concurrent trackers may overshoot it by a few; the torrent bound is not
// enforced (Redis's maxmemory is the operator's bound there).
type RedisStore struct {
	rdb                *redis.Client
	prefix             string
	ttl                time.Duration
	maxPeersPerTorrent int
}

// NewRedisStore returns a store using the Redis server at rawURL
// (redis://[:password@]host:port[/db]) with the given peer TTL and bound.
// It does not contact the server; see [RedisStore.Ping].
func NewRedisStore(rawURL, prefix string, ttl time.Duration, maxPeersPerTorrent int) (*RedisStore, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	if prefix == "" {
		prefix = "shoal:tracker:"
	}
	return &RedisStore{rdb: redis.NewClient(opts), prefix: prefix, ttl: ttl, maxPeersPerTorrent: maxPeersPerTorrent}, nil
}

// Ping checks that the server answers.
func (r *RedisStore) Ping(ctx context.Context) error {
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis store: ping: %w", err)
	}
	return nil
}

// Close closes the connections to Redis.
func (r *RedisStore) Close() error { return r.rdb.Close() }

func (r *RedisStore) swarmKey(ih [20]byte) string { return r.prefix + "s:" + hex.EncodeToString(ih[:]) }
func (r *RedisStore) countKey(ih [20]byte) string { return r.prefix + "d:" + hex.EncodeToString(ih[:]) }
func (r *RedisStore) setKey() string              { return r.prefix + "swarms" }

// Put implements [Store].
func (r *RedisStore) Put(ctx context.Context, infoHash [20]byte, p Peer, now time.Time) error {
	key := r.swarmKey(infoHash)
	if r.maxPeersPerTorrent > 0 {
		n, err := r.rdb.HLen(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("redis store: put: %w", err)
		}
		if n >= int64(r.maxPeersPerTorrent) {
			ok, err := r.rdb.HExists(ctx, key, string(p.ID[:])).Result()
			if err != nil {
				return fmt.Errorf("redis store: put: %w", err)
			}
			if !ok {
				return ErrSwarmFull
			}
		}
	}
	pipe := r.rdb.TxPipeline()
	pipe.HSet(ctx, key, string(p.ID[:]), encodeRedisPeer(p, now))
	pipe.PExpire(ctx, key, r.ttl)
	pipe.SAdd(ctx, r.setKey(), hex.EncodeToString(infoHash[:]))
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis store: put: %w", err)
	}
	return nil
}

// Remove implements [Store].
func (r *RedisStore) Remove(ctx context.Context, infoHash [20]byte, id [20]byte, _ time.Time) error {
	if err := r.rdb.HDel(ctx, r.swarmKey(infoHash), string(id[:])).Err(); err != nil {
		return fmt.Errorf("redis store: remove: %w", err)
	}
	return nil
}

// Peers implements [Store]. Of two live entries at one address the newer
// wins (a restarted client), as in [MemoryStore].
func (r *RedisStore) Peers(ctx context.Context, infoHash [20]byte, now time.Time) ([]Peer, error) {
	key := r.swarmKey(infoHash)
	all, err := r.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: peers: %w", err)
	}
	type seen struct {
		i    int
		when time.Time
	}
	var stale []string
	out := make([]Peer, 0, len(all))
	byAddr := make(map[netip.AddrPort]seen, len(all))
	for id, v := range all {
		p, last, ok := decodeRedisPeer(id, v)
		if !ok || now.Sub(last) > r.ttl {
			stale = append(stale, id)
			continue
		}
		if prev, dup := byAddr[p.Addr]; dup {
			if !last.After(prev.when) {
				stale = append(stale, id)
				continue
			}
			stale = append(stale, string(out[prev.i].ID[:]))
			out[prev.i] = p
			byAddr[p.Addr] = seen{prev.i, last}
			continue
		}
		byAddr[p.Addr] = seen{len(out), last}
		out = append(out, p)
	}
	if len(stale) > 0 {
		r.rdb.HDel(ctx, key, stale...)
	}
	return out, nil
}

// Completed implements [Store].
func (r *RedisStore) Completed(ctx context.Context, infoHash [20]byte) error {
	key := r.countKey(infoHash)
	pipe := r.rdb.TxPipeline()
	pipe.Incr(ctx, key)
	pipe.PExpire(ctx, key, 24*time.Hour+r.ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis store: completed: %w", err)
	}
	return nil
}

// Scrape implements [Store].
func (r *RedisStore) Scrape(ctx context.Context, infoHash [20]byte, now time.Time) (SwarmStats, error) {
	ps, err := r.Peers(ctx, infoHash, now)
	if err != nil {
		return SwarmStats{}, err
	}
	st := countPeers(ps)
	n, err := r.rdb.Get(ctx, r.countKey(infoHash)).Int()
	if err != nil && err != redis.Nil {
		return st, fmt.Errorf("redis store: scrape: %w", err)
	}
	st.Downloaded = n
	return st, nil
}

// Stats implements [Store]. It reads every swarm, so it costs a scan of
// the store; it is meant for a metrics scrape every few seconds.
func (r *RedisStore) Stats(ctx context.Context, now time.Time) (StoreStats, error) {
	hexes, err := r.rdb.SMembers(ctx, r.setKey()).Result()
	if err != nil {
		return StoreStats{}, fmt.Errorf("redis store: stats: %w", err)
	}
	var st StoreStats
	for _, h := range hexes {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 20 {
			r.rdb.SRem(ctx, r.setKey(), h)
			continue
		}
		ps, err := r.Peers(ctx, [20]byte(b), now)
		if err != nil {
			return st, err
		}
		if len(ps) == 0 {
			r.rdb.SRem(ctx, r.setKey(), h)
			continue
		}
		st.Torrents++
		st.Peers += len(ps)
		st.Seeders += countPeers(ps).Complete
	}
	return st, nil
}

// encodeRedisPeer is a peer's hash value: last seen (Unix ns), left,
// downloaded, then the address in netip's binary form.
func encodeRedisPeer(p Peer, now time.Time) string {
	b := make([]byte, 0, 24+20)
	b = binary.BigEndian.AppendUint64(b, uint64(now.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(p.Left))
	b = binary.BigEndian.AppendUint64(b, uint64(p.Downloaded))
	b, _ = p.Addr.AppendBinary(b)
	return string(b)
}

func decodeRedisPeer(id, v string) (Peer, time.Time, bool) {
	var p Peer
	if len(id) != 20 || len(v) < 24 {
		return p, time.Time{}, false
	}
	copy(p.ID[:], id)
	b := []byte(v)
	last := time.Unix(0, int64(binary.BigEndian.Uint64(b[0:8])))
	p.Left = int64(binary.BigEndian.Uint64(b[8:16]))
	p.Downloaded = int64(binary.BigEndian.Uint64(b[16:24]))
	if err := p.Addr.UnmarshalBinary(b[24:]); err != nil || !p.Addr.IsValid() || p.Left < 0 {
		return p, last, false
	}
	return p, last, true
}
