package tracker

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a [Store] in a Redis server, so several tracker processes
// behind one address share one view of every swarm. Layout, under a key
// prefix, per swarm (HEX is the info hash):
//
//	PREFIX p:HEX       hash: raw peer ID -> last seen, left, downloaded, address
//	PREFIX t:HEX       sorted set: raw peer ID by last seen (ms), for expiry
//	PREFIX a:HEX       hash: address (netip binary form) -> raw peer ID
//	PREFIX x0..x3:HEX  per pool (seeders and leechers of each IP family), an
//	PREFIX y0..y3:HEX  index slice as two hashes: position -> raw peer ID
//	                   and raw peer ID -> position, kept dense by
//	                   swap-remove, so a sample picks random positions
//	PREFIX d:HEX       counter of completed downloads (scrape "downloaded")
//	PREFIX swarms      set of HEX info hashes with peers (for metrics)
//
// Every change to a swarm is one Lua script, so the keys agree and
// trackers sharing the server never see half an update. An announce is two
// round trips whatever the swarm's size: the put script (which also drops
// up to 256 expired peers, oldest first) and the sample script (a partial
// Fisher-Yates shuffle over the index hashes, driven by random numbers
// sent from here, then HMGET of the drawn IDs: a few commands per peer
// drawn). Redis's own SRANDMEMBER
// is not used: it is not uniform on small sets. A swarm's keys expire as
// a whole one TTL after its last announce. The torrent bound is not
// enforced (Redis's maxmemory is the operator's bound there).
type RedisStore struct {
	rdb                *redis.Client
	prefix             string
	ttl                time.Duration
	maxPeersPerTorrent int

	mu  sync.Mutex // guards rng
	rng *rand.Rand
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
	var seed [16]byte
	crand.Read(seed[:])
	return &RedisStore{rdb: redis.NewClient(opts), prefix: prefix, ttl: ttl, maxPeersPerTorrent: maxPeersPerTorrent,
		rng: rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))}, nil
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

// Indices into swarmKeys' result, in the order the scripts expect (Lua's
// KEYS[i+1]).
const (
	rkPeers = iota
	rkSeen
	rkAddrs
	rkAt                           // numPools hashes position -> ID
	rkPos        = rkAt + numPools // numPools hashes ID -> position
	rkCount      = rkPos + numPools
	rkSwarms     = rkCount + 1
	numRedisKeys = rkSwarms + 1
)

// swarmKeys are the keys of one swarm.
func (r *RedisStore) swarmKeys(ih [20]byte) []string {
	h := hex.EncodeToString(ih[:])
	ks := make([]string, numRedisKeys)
	ks[rkPeers] = r.prefix + "p:" + h
	ks[rkSeen] = r.prefix + "t:" + h
	ks[rkAddrs] = r.prefix + "a:" + h
	for p := range numPools {
		ks[rkAt+p] = fmt.Sprintf("%sx%d:%s", r.prefix, p, h)
		ks[rkPos+p] = fmt.Sprintf("%sy%d:%s", r.prefix, p, h)
	}
	ks[rkCount] = r.prefix + "d:" + h
	ks[rkSwarms] = r.prefix + "swarms"
	return ks
}

// redisDrop holds the Lua functions the put and remove scripts share:
// enpool and unpool keep a pool's index hashes dense (unpool moves the
// last ID into the freed position), drop forgets one peer (by raw ID)
// from every key of its swarm.
const redisDrop = `
local function enpool(p, id)
  local at, pos = KEYS[4 + p], KEYS[8 + p]
  if redis.call('HEXISTS', pos, id) == 1 then return end
  local n = redis.call('HLEN', at)
  redis.call('HSET', at, n, id)
  redis.call('HSET', pos, id, n)
end
local function unpool(p, id)
  local at, pos = KEYS[4 + p], KEYS[8 + p]
  local i = redis.call('HGET', pos, id)
  if not i then return end
  local last = redis.call('HLEN', at) - 1
  if tonumber(i) ~= last then
    local lid = redis.call('HGET', at, last)
    redis.call('HSET', at, i, lid)
    redis.call('HSET', pos, lid, i)
  end
  redis.call('HDEL', at, last)
  redis.call('HDEL', pos, id)
end
local function drop(id)
  local v = redis.call('HGET', KEYS[1], id)
  if v then
    local a = string.sub(v, 25)
    if redis.call('HGET', KEYS[3], a) == id then redis.call('HDEL', KEYS[3], a) end
    redis.call('HDEL', KEYS[1], id)
  end
  redis.call('ZREM', KEYS[2], id)
  for p = 0, 3 do unpool(p, id) end
end
`

// redisPut inserts or refreshes one peer. ARGV: raw ID, value, address,
// pool (0-3), now (ms), expiry cutoff (ms), peer bound (0: none), TTL
// (ms), hex info hash. It returns 1, or 0 when the swarm is full.
var redisPut = redis.NewScript(redisDrop + `
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[6], 'LIMIT', 0, 256)
for _, o in ipairs(old) do drop(o) end
local id = ARGV[1]
local other = redis.call('HGET', KEYS[3], ARGV[3])
if other and other ~= id then drop(other) end
local prev = redis.call('HGET', KEYS[1], id)
if prev then
  local a = string.sub(prev, 25)
  if a ~= ARGV[3] and redis.call('HGET', KEYS[3], a) == id then redis.call('HDEL', KEYS[3], a) end
elseif tonumber(ARGV[7]) > 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[7]) then
  return 0
end
redis.call('HSET', KEYS[1], id, ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[5], id)
redis.call('HSET', KEYS[3], ARGV[3], id)
local pool = tonumber(ARGV[4])
for p = 0, 3 do
  if p == pool then enpool(p, id) else unpool(p, id) end
end
for i = 1, 11 do redis.call('PEXPIRE', KEYS[i], ARGV[8]) end
redis.call('SADD', KEYS[13], ARGV[9])
return 1
`)

// redisRemove forgets one peer. ARGV: raw ID.
var redisRemove = redis.NewScript(redisDrop + `
drop(ARGV[1])
return 1
`)

// redisSample draws random peers as a [Draw] says, with the odds of the
// memory store's draw: each peer drawn first picks a pool with
// probability proportional to the peers it has left, then a random one of
// those by a step of a sparse partial Fisher-Yates shuffle of the pool's
// positions (moved holds the positions it swapped, so nothing is
// written). KEYS: the peer hash, then the four position -> ID hashes.
// ARGV: seeders, leechers, any, family (0 any, 1 IPv4, 2 IPv6), and a
// string of big-endian 32-bit random numbers, two per peer drawn. It
// returns the four pool sizes, the drawn IDs and their values.
var redisSample = redis.NewScript(`
local n, rem, moved = {}, {}, {}
for p = 1, 4 do
  n[p] = redis.call('HLEN', KEYS[1 + p])
  rem[p] = n[p]
  moved[p] = {}
end
local fam = tonumber(ARGV[4])
local function usable(p)
  local v6 = (p == 2 or p == 4)
  return fam == 0 or (fam == 2) == v6
end
local rnd, pos = ARGV[5], 1
local function random(m)
  local v
  v, pos = struct.unpack('>I4', rnd, pos)
  return v % m
end
local parts = {{1, 2}, {3, 4}, {1, 2, 3, 4}}
local ids = {}
for k = 1, 3 do
  for _ = 1, tonumber(ARGV[k]) do
    local total = 0
    for _, p in ipairs(parts[k]) do
      if usable(p) then total = total + rem[p] end
    end
    if total == 0 then break end
    local x, pool = random(total), 0
    for _, p in ipairs(parts[k]) do
      if usable(p) and pool == 0 then
        if x < rem[p] then pool = p else x = x - rem[p] end
      end
    end
    local i = n[pool] - rem[pool]
    local j = i + random(rem[pool])
    rem[pool] = rem[pool] - 1
    local at = KEYS[1 + pool]
    local vj = moved[pool][j] or redis.call('HGET', at, j)
    moved[pool][j] = moved[pool][i] or redis.call('HGET', at, i)
    if vj then ids[#ids + 1] = vj end
  end
end
local vals = {}
if #ids > 0 then vals = redis.call('HMGET', KEYS[1], unpack(ids)) end
return {n[1], n[2], n[3], n[4], ids, vals}
`)

// maxRedisDraw bounds each part of one sample, so all three stay well
// inside what Lua's unpack takes.
const maxRedisDraw = 1000

// Put implements [Store].
func (r *RedisStore) Put(ctx context.Context, infoHash [20]byte, p Peer, now time.Time) error {
	addr, err := p.Addr.MarshalBinary()
	if err != nil {
		return fmt.Errorf("redis store: put: %w", err)
	}
	ok, err := redisPut.Run(ctx, r.rdb, r.swarmKeys(infoHash),
		string(p.ID[:]), encodeRedisPeer(p, now), string(addr), poolOf(p),
		now.UnixMilli(), now.Add(-r.ttl).UnixMilli(), r.maxPeersPerTorrent, r.ttl.Milliseconds(),
		hex.EncodeToString(infoHash[:])).Int()
	if err != nil {
		return fmt.Errorf("redis store: put: %w", err)
	}
	if ok == 0 {
		return ErrSwarmFull
	}
	return nil
}

// Remove implements [Store].
func (r *RedisStore) Remove(ctx context.Context, infoHash [20]byte, id [20]byte, _ time.Time) error {
	if err := redisRemove.Run(ctx, r.rdb, r.swarmKeys(infoHash), string(id[:])).Err(); err != nil {
		return fmt.Errorf("redis store: remove: %w", err)
	}
	return nil
}

// Sample implements [Store] in one round trip (the sample script).
// Peers past their TTL that the put script has not dropped yet are
// counted but not drawn.
func (r *RedisStore) Sample(ctx context.Context, infoHash [20]byte, d Draw, now time.Time, dst []Peer) ([]Peer, SwarmStats, error) {
	parts := [3]int{min(max(d.Seeders, 0), maxRedisDraw), min(max(d.Leechers, 0), maxRedisDraw), min(max(d.Any, 0), maxRedisDraw)}
	rnd := make([]byte, 4*2*(parts[0]+parts[1]+parts[2]))
	r.mu.Lock()
	for i := 0; i < len(rnd); i += 4 {
		binary.BigEndian.PutUint32(rnd[i:], r.rng.Uint32())
	}
	r.mu.Unlock()
	keys := r.swarmKeys(infoHash)
	res, err := redisSample.Run(ctx, r.rdb, append(keys[rkPeers:rkPeers+1], keys[rkAt:rkAt+numPools]...),
		parts[0], parts[1], parts[2], int(d.Family), rnd).Slice()
	if err != nil {
		return dst, SwarmStats{}, fmt.Errorf("redis store: sample: %w", err)
	}
	if len(res) != numPools+2 {
		return dst, SwarmStats{}, fmt.Errorf("redis store: sample: %d values in reply", len(res))
	}
	var size [numPools]int
	for p := range numPools {
		n, _ := res[p].(int64)
		size[p] = int(n)
	}
	ids, _ := res[numPools].([]any)
	vals, _ := res[numPools+1].([]any)
	if len(vals) != len(ids) {
		return dst, SwarmStats{}, fmt.Errorf("redis store: sample: %d values for %d peers", len(vals), len(ids))
	}
	cutoff := now.Add(-r.ttl)
	for i := range ids {
		id, _ := ids[i].(string)
		v, _ := vals[i].(string)
		if peer, last, ok := decodeRedisPeer(id, v); ok && !last.Before(cutoff) {
			dst = append(dst, peer)
		}
	}
	st := SwarmStats{Complete: size[poolSeed4] + size[poolSeed6], Incomplete: size[poolLeech4] + size[poolLeech6]}
	return dst, st, nil
}

// Peers implements [Store].
func (r *RedisStore) Peers(ctx context.Context, infoHash [20]byte, now time.Time) ([]Peer, error) {
	all, err := r.rdb.HGetAll(ctx, r.swarmKeys(infoHash)[rkPeers]).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: peers: %w", err)
	}
	cutoff := now.Add(-r.ttl)
	out := make([]Peer, 0, len(all))
	for id, v := range all {
		if p, last, ok := decodeRedisPeer(id, v); ok && !last.Before(cutoff) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Completed implements [Store].
func (r *RedisStore) Completed(ctx context.Context, infoHash [20]byte) error {
	key := r.swarmKeys(infoHash)[rkCount]
	pipe := r.rdb.TxPipeline()
	pipe.Incr(ctx, key)
	pipe.PExpire(ctx, key, 24*time.Hour+r.ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis store: completed: %w", err)
	}
	return nil
}

// Scrape implements [Store]: the pools' sizes and the counter, in one
// round trip. Peers past their TTL that no announce has dropped yet are
// counted.
func (r *RedisStore) Scrape(ctx context.Context, infoHash [20]byte, _ time.Time) (SwarmStats, error) {
	keys := r.swarmKeys(infoHash)
	pipe := r.rdb.Pipeline()
	var sizes [numPools]*redis.IntCmd
	for p := range numPools {
		sizes[p] = pipe.HLen(ctx, keys[rkAt+p])
	}
	count := pipe.Get(ctx, keys[rkCount])
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return SwarmStats{}, fmt.Errorf("redis store: scrape: %w", err)
	}
	st := SwarmStats{
		Complete:   int(sizes[poolSeed4].Val() + sizes[poolSeed6].Val()),
		Incomplete: int(sizes[poolLeech4].Val() + sizes[poolLeech6].Val()),
	}
	st.Downloaded, _ = count.Int()
	return st, nil
}

// Stats implements [Store] in two round trips: the set of swarms, then
// every swarm's pool sizes. Swarms found empty leave the set.
func (r *RedisStore) Stats(ctx context.Context, _ time.Time) (StoreStats, error) {
	hexes, err := r.rdb.SMembers(ctx, r.prefix+"swarms").Result()
	if err != nil {
		return StoreStats{}, fmt.Errorf("redis store: stats: %w", err)
	}
	pipe := r.rdb.Pipeline()
	sizes := make([][numPools]*redis.IntCmd, len(hexes))
	for i, h := range hexes {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 20 {
			continue
		}
		keys := r.swarmKeys([20]byte(b))
		for p := range numPools {
			sizes[i][p] = pipe.HLen(ctx, keys[rkAt+p])
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && len(hexes) > 0 {
		return StoreStats{}, fmt.Errorf("redis store: stats: %w", err)
	}
	var st StoreStats
	var gone []any
	for i, h := range hexes {
		if sizes[i][0] == nil {
			gone = append(gone, h)
			continue
		}
		seeders := sizes[i][poolSeed4].Val() + sizes[i][poolSeed6].Val()
		peers := seeders + sizes[i][poolLeech4].Val() + sizes[i][poolLeech6].Val()
		if peers == 0 {
			gone = append(gone, h)
			continue
		}
		st.Torrents++
		st.Peers += int(peers)
		st.Seeders += int(seeders)
	}
	if len(gone) > 0 {
		r.rdb.SRem(ctx, r.prefix+"swarms", gone...)
	}
	return st, nil
}

// encodeRedisPeer is a peer's hash value: last seen (Unix ns), left,
// downloaded, then the address in netip's binary form (which the scripts
// find at byte 25).
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
