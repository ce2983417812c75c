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
// behind one address share one view of every swarm, with the memory
// store's behaviour: the same draws (fair to addresses), per-address
// bound, fair eviction and peer-ID protection. Layout, under a key prefix,
// per swarm (HEX is the info hash; a group key is an address as the
// [AddrLimit] counts it, length-prefixed: an IPv4 address, an IPv6 /64, or
// for an exempt peer its address and port):
//
//	PREFIX p:HEX        hash: raw peer ID -> last seen, left, downloaded,
//	                    flags, key, address (see encodeRedisPeer)
//	PREFIX t:HEX        sorted set: raw peer ID by last seen (ms), for expiry
//	PREFIX a:HEX        hash: address (netip binary form) -> raw peer ID
//	PREFIX x0..x3:HEX   per pool (seeders and leechers of each IP family), an
//	PREFIX y0..y3:HEX   index slice of its peers as two hashes, position ->
//	                    raw peer ID and back, kept dense by swap-remove
//	PREFIX gx0..gx3:HEX the same for the pool's group keys
//	PREFIX gy0..gy3:HEX
//	PREFIX z0..z3:HEX   sorted set (all scores 0): group key + raw peer ID,
//	                    so a group's members are one lexicographic range
//	PREFIX g:HEX        hash: raw peer ID -> 'L' (bounded) or 'E' (exempt),
//	                    then its group key
//	PREFIX c:HEX        hash: group key -> peers, for bounded addresses
//	PREFIX h:HEX        sorted set: bounded group keys by twice their peer
//	                    count, plus one if one of them is unvalued (neither
//	                    proven nor keyed), so the first is whom to evict from
//	PREFIX u:HEX        hash: group key -> unvalued peers
//	PREFIX d:HEX        counter of completed downloads (scrape "downloaded")
//	PREFIX swarms       set of HEX info hashes with peers (for metrics)
//
// Every change to a swarm is one Lua script, so the keys agree and
// trackers sharing the server never see half an update. An announce is two
// round trips whatever the swarm's size: the put script (which also drops
// up to 256 expired peers, oldest first) and the sample script (sparse
// partial Fisher-Yates shuffles over the index hashes, driven by random
// numbers sent from here, then HMGET of the drawn IDs: a few commands per
// peer drawn). Redis's own SRANDMEMBER is not used: it is not uniform on
// small sets. A swarm's keys expire as a whole one TTL after its last
// announce. The torrent bound is not enforced (Redis's maxmemory is the
// operator's bound there).
type RedisStore struct {
	rdb    *redis.Client
	prefix string
	cfg    RedisStoreConfig

	mu  sync.Mutex // guards rng
	rng *rand.Rand
}

// RedisStoreConfig configures a [RedisStore].
type RedisStoreConfig struct {
	// URL is the server's: redis://[:password@]host:port[/db].
	URL string
	// Prefix goes before every key; default "shoal:tracker:".
	Prefix string
	// TTL is how long a peer stays without re-announcing.
	TTL time.Duration
	// MaxPeersPerTorrent bounds each swarm; non-positive means unbounded.
	MaxPeersPerTorrent int
	// AddrLimit bounds the peers of one address in a swarm; the zero
	// value bounds nothing.
	AddrLimit AddrLimit
}

// NewRedisStore returns a store using the Redis server at rawURL
// (redis://[:password@]host:port[/db]) with the given peer TTL and bound,
// and no per-address bound. It does not contact the server; see
// [RedisStore.Ping].
func NewRedisStore(rawURL, prefix string, ttl time.Duration, maxPeersPerTorrent int) (*RedisStore, error) {
	return NewRedisStoreWith(RedisStoreConfig{URL: rawURL, Prefix: prefix, TTL: ttl, MaxPeersPerTorrent: maxPeersPerTorrent})
}

// NewRedisStoreWith returns a store configured by cfg. It does not
// contact the server; see [RedisStore.Ping].
func NewRedisStoreWith(cfg RedisStoreConfig) (*RedisStore, error) {
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "shoal:tracker:"
	}
	var seed [16]byte
	crand.Read(seed[:])
	return &RedisStore{rdb: redis.NewClient(opts), prefix: cfg.Prefix, cfg: cfg,
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
	rkPeers      = iota
	rkSeen                               // sorted set by last seen
	rkAddrs                              // address -> ID
	rkAt                                 // numPools hashes position -> ID
	rkPos        = rkAt + numPools       // numPools hashes ID -> position
	rkGroupAt    = rkPos + numPools      // numPools hashes position -> group key
	rkGroupPos   = rkGroupAt + numPools  // numPools hashes group key -> position
	rkMembers    = rkGroupPos + numPools // numPools sorted sets group key + ID
	rkGroupOf    = rkMembers + numPools
	rkAddrCount  = rkGroupOf + 1
	rkHeavy      = rkAddrCount + 1
	rkUnvalued   = rkHeavy + 1
	rkCount      = rkUnvalued + 1
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
		ks[rkGroupAt+p] = fmt.Sprintf("%sgx%d:%s", r.prefix, p, h)
		ks[rkGroupPos+p] = fmt.Sprintf("%sgy%d:%s", r.prefix, p, h)
		ks[rkMembers+p] = fmt.Sprintf("%sz%d:%s", r.prefix, p, h)
	}
	ks[rkGroupOf] = r.prefix + "g:" + h
	ks[rkAddrCount] = r.prefix + "c:" + h
	ks[rkHeavy] = r.prefix + "h:" + h
	ks[rkUnvalued] = r.prefix + "u:" + h
	ks[rkCount] = r.prefix + "d:" + h
	ks[rkSwarms] = r.prefix + "swarms"
	return ks
}

// redisLib holds the Lua the put and remove scripts share. KEYS follow
// swarmKeys (KEYS[i+1] is index i). idxAdd and idxDel keep an index slice
// (two hashes) dense; enpool and unpool keep a peer's pool and group
// membership; count keeps a bounded address's count and its place in the
// heavy set; drop forgets one peer from every key.
const redisLib = `
local IDLEN = 20
local function addrOf(v) return string.sub(v, 27 + string.byte(v, 26)) end
local function keyOf(v) return string.sub(v, 27, 26 + string.byte(v, 26)) end
local function ipOf(a) return string.sub(a, 1, -3) end
local function u64(v, i)
  local n = 0
  for k = i, i + 7 do n = n * 256 + string.byte(v, k) end
  return n
end
local function grange(g) return '[' .. g .. string.rep('\0', IDLEN), '[' .. g .. string.rep('\255', IDLEN) end
local function idxAdd(at, pos, m)
  if redis.call('HEXISTS', pos, m) == 1 then return end
  local n = redis.call('HLEN', at)
  redis.call('HSET', at, n, m)
  redis.call('HSET', pos, m, n)
end
local function idxDel(at, pos, m)
  local i = redis.call('HGET', pos, m)
  if not i then return false end
  local last = redis.call('HLEN', at) - 1
  if tonumber(i) ~= last then
    local lm = redis.call('HGET', at, last)
    redis.call('HSET', at, i, lm)
    redis.call('HSET', pos, lm, i)
  end
  redis.call('HDEL', at, last)
  redis.call('HDEL', pos, m)
  return true
end
local function enpool(p, id, g)
  idxAdd(KEYS[4 + p], KEYS[8 + p], id)
  redis.call('ZADD', KEYS[20 + p], 0, g .. id)
  local lo, hi = grange(g)
  if redis.call('ZLEXCOUNT', KEYS[20 + p], lo, hi) == 1 then idxAdd(KEYS[12 + p], KEYS[16 + p], g) end
end
local function unpool(p, id, g)
  if not idxDel(KEYS[4 + p], KEYS[8 + p], id) then return end
  redis.call('ZREM', KEYS[20 + p], g .. id)
  local lo, hi = grange(g)
  if redis.call('ZLEXCOUNT', KEYS[20 + p], lo, hi) == 0 then idxDel(KEYS[12 + p], KEYS[16 + p], g) end
end
local function valued(v) return v and (string.byte(v, 25) % 2 == 1 or string.byte(v, 26) > 0) end
local function count(g, dn, du)
  local n = redis.call('HINCRBY', KEYS[25], g, dn)
  local u = redis.call('HINCRBY', KEYS[27], g, du)
  if n <= 0 then
    redis.call('HDEL', KEYS[25], g)
    redis.call('HDEL', KEYS[27], g)
    redis.call('ZREM', KEYS[26], g)
    return
  end
  if u <= 0 then
    redis.call('HDEL', KEYS[27], g)
    u = 0
  end
  redis.call('ZADD', KEYS[26], 2 * n + math.min(u, 1), g)
end
local function unvalued(v)
  if valued(v) then return 0 end
  return 1
end
local function leave(id, gv, v)
  local g = string.sub(gv, 2)
  for p = 0, 3 do unpool(p, id, g) end
  -- 0 - x, not -x: Lua writes -0 as "-0", which HINCRBY refuses.
  if string.sub(gv, 1, 1) == 'L' then count(g, -1, 0 - unvalued(v)) end
end
local function drop(id)
  local v = redis.call('HGET', KEYS[1], id)
  if v then
    local a = addrOf(v)
    if redis.call('HGET', KEYS[3], a) == id then redis.call('HDEL', KEYS[3], a) end
    redis.call('HDEL', KEYS[1], id)
  end
  redis.call('ZREM', KEYS[2], id)
  local gv = redis.call('HGET', KEYS[24], id)
  if gv then
    leave(id, gv, v)
    redis.call('HDEL', KEYS[24], id)
  end
end
local function mayAct(v, ip, key)
  local k = keyOf(v)
  return ipOf(addrOf(v)) == ip or (k ~= '' and k == key)
end
local function worthLess(a, b)
  if valued(a) ~= valued(b) then return valued(b) end
  return string.sub(a, 1, 8) < string.sub(b, 1, 8)
end
`

// redisPut inserts or refreshes one peer, as [MemoryStore.Put] does.
// ARGV: raw ID, value (flags zero), address, pool (0-3), now (ms), expiry
// cutoff (ms), peer bound (0: none), TTL (ms), hex info hash, group key,
// 'L' (bounded) or 'E' (exempt), per-address bound (0: none). It returns
// 1, or 0 (swarm full), -1 (peer ID taken), -2 (address full).
var redisPut = redis.NewScript(redisLib + `
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[6], 'LIMIT', 0, 256)
for _, o in ipairs(old) do drop(o) end
local id, v, addr, g, lim = ARGV[1], ARGV[2], ARGV[3], ARGV[10], ARGV[11]
local prev = redis.call('HGET', KEYS[1], id)
if prev and not mayAct(prev, ipOf(addr), keyOf(v)) then return -1 end
local other = redis.call('HGET', KEYS[3], addr)
if other and other ~= id then drop(other) end
local pg = prev and redis.call('HGET', KEYS[24], id)
local ng = lim .. g
local maxa = tonumber(ARGV[12])
if lim == 'L' and maxa > 0 and pg ~= ng then
  if tonumber(redis.call('HGET', KEYS[25], g) or '0') >= maxa then return -2 end
end
if not prev then
  local maxp = tonumber(ARGV[7])
  if maxp > 0 and redis.call('HLEN', KEYS[1]) >= maxp then
    local top = redis.call('ZREVRANGE', KEYS[26], 0, 0, 'WITHSCORES')
    local have = 0
    if lim == 'L' then have = tonumber(redis.call('HGET', KEYS[25], g) or '0') end
    if #top == 0 or math.floor(tonumber(top[2]) / 2) < have + 2 then return 0 end
    local victim, vv
    local lo, hi = grange(top[1])
    for p = 0, 3 do
      for _, m in ipairs(redis.call('ZRANGEBYLEX', KEYS[20 + p], lo, hi, 'LIMIT', 0, 64)) do
        local mid = string.sub(m, -IDLEN)
        local mv = redis.call('HGET', KEYS[1], mid)
        if mv and (not victim or worthLess(mv, vv)) then victim, vv = mid, mv end
      end
    end
    if not victim then return 0 end
    drop(victim)
  end
end
local flags = 0
if prev then
  flags = string.byte(prev, 25)
  if u64(prev, 9) > 0 and u64(v, 9) == 0 and u64(v, 17) > u64(prev, 17) then flags = 1 end
  local pa = addrOf(prev)
  if pa ~= addr and redis.call('HGET', KEYS[3], pa) == id then redis.call('HDEL', KEYS[3], pa) end
end
local nv = string.sub(v, 1, 24) .. string.char(flags) .. string.sub(v, 26)
redis.call('HSET', KEYS[1], id, nv)
redis.call('ZADD', KEYS[2], ARGV[5], id)
redis.call('HSET', KEYS[3], addr, id)
local pool = tonumber(ARGV[4])
if pg ~= ng or redis.call('HEXISTS', KEYS[8 + pool], id) == 0 then
  if pg then leave(id, pg, prev) end
  enpool(pool, id, g)
  if lim == 'L' then count(g, 1, unvalued(nv)) end
  redis.call('HSET', KEYS[24], id, ng)
elseif lim == 'L' and unvalued(prev) ~= unvalued(nv) then
  count(g, 0, unvalued(nv) - unvalued(prev))
end
for i = 1, 27 do redis.call('PEXPIRE', KEYS[i], ARGV[8]) end
redis.call('SADD', KEYS[29], ARGV[9])
return 1
`)

// redisRemove forgets one peer if the caller may act for it. ARGV: raw
// ID, the caller's IP (netip binary form), its key.
var redisRemove = redis.NewScript(redisLib + `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and mayAct(v, ARGV[2], ARGV[3]) then drop(ARGV[1]) end
return 1
`)

// redisSample draws random peers as a [Draw] says, with the odds of the
// memory store's draw: while a pool the part may use has groups not drawn
// from, a peer is drawn by picking such a pool with probability
// proportional to those groups, a random one of them by a step of a
// sparse partial Fisher-Yates shuffle of the pool's group positions, and a
// random member of it (ZRANGEBYLEX at a random offset); after that, by
// picking a pool proportionally to its peers not drawn and a random one
// of those by a sparse shuffle of its peer positions, skipping peers
// already drawn. Nothing is written (moved tables hold the swaps). KEYS:
// the peer hash, the four position -> ID hashes, the four position ->
// group key hashes, the four member sets. ARGV: seeders, leechers, any,
// family (0 any, 1 IPv4, 2 IPv6), and a string of big-endian 32-bit
// random numbers (four per peer drawn is enough). It returns the four
// pool sizes, the drawn IDs and their values.
var redisSample = redis.NewScript(`
local IDLEN = 20
local n, prem, gsize, grem, used, moved, gmoved = {}, {}, {}, {}, {}, {}, {}
for p = 1, 4 do
  n[p] = redis.call('HLEN', KEYS[1 + p])
  prem[p] = n[p]
  gsize[p] = redis.call('HLEN', KEYS[5 + p])
  grem[p] = gsize[p]
  used[p] = 0
  moved[p] = {}
  gmoved[p] = {}
end
local fam = tonumber(ARGV[4])
local function usable(p)
  local v6 = (p == 2 or p == 4)
  return fam == 0 or (fam == 2) == v6
end
local rnd, pos = ARGV[5], 1
local function random(m)
  if pos + 3 > #rnd then return 0 end
  local v
  v, pos = struct.unpack('>I4', rnd, pos)
  return v % m
end
local function pick(rem, part)
  local total = 0
  for _, p in ipairs(part) do
    if usable(p) then total = total + rem[p] end
  end
  if total == 0 then return 0 end
  local x = random(total)
  for _, p in ipairs(part) do
    if usable(p) then
      if x < rem[p] then
        rem[p] = rem[p] - 1
        return p
      end
      x = x - rem[p]
    end
  end
  return 0
end
local function step(at, m, i, size)
  local j = i + random(size - i)
  local vj = m[j] or redis.call('HGET', at, j)
  m[j] = m[i] or redis.call('HGET', at, i)
  return vj
end
local parts = {{1, 2}, {3, 4}, {1, 2, 3, 4}}
local ids, taken = {}, {}
for k = 1, 3 do
  for _ = 1, tonumber(ARGV[k]) do
    local id
    local p = pick(grem, parts[k])
    if p > 0 then
      local g = step(KEYS[5 + p], gmoved[p], gsize[p] - grem[p] - 1, gsize[p])
      if g then
        local lo, hi = '[' .. g .. string.rep('\0', IDLEN), '[' .. g .. string.rep('\255', IDLEN)
        local c = redis.call('ZLEXCOUNT', KEYS[9 + p], lo, hi)
        if c > 0 then
          local m = redis.call('ZRANGEBYLEX', KEYS[9 + p], lo, hi, 'LIMIT', random(c), 1)
          if m[1] then id = string.sub(m[1], -IDLEN) end
        end
      end
      prem[p] = prem[p] - 1
    else
      p = pick(prem, parts[k])
      if p == 0 then break end
      while used[p] < n[p] do
        local c = step(KEYS[1 + p], moved[p], used[p], n[p])
        used[p] = used[p] + 1
        if c and not taken[c] then
          id = c
          break
        end
      end
    end
    if id then
      taken[id] = true
      ids[#ids + 1] = id
    end
  end
end
local vals = {}
if #ids > 0 then vals = redis.call('HMGET', KEYS[1], unpack(ids)) end
return {n[1], n[2], n[3], n[4], ids, vals}
`)

// maxRedisDraw bounds each part of one sample, so all three stay well
// inside what Lua's unpack takes.
const maxRedisDraw = 1000

// groupKey is k as the scripts store it: a length byte, the address, and
// for an exempt peer its port.
func groupKey(k addrKey, limited bool) string {
	b, _ := k.ip.MarshalBinary()
	if !limited {
		b = binary.BigEndian.AppendUint16(b, k.port)
	}
	return string(append([]byte{byte(len(b))}, b...))
}

// Put implements [Store].
func (r *RedisStore) Put(ctx context.Context, infoHash [20]byte, p Peer, now time.Time) error {
	addr, err := p.Addr.MarshalBinary()
	if err != nil {
		return fmt.Errorf("redis store: put: %w", err)
	}
	k, limited := r.cfg.AddrLimit.key(p.Addr)
	lim := "E"
	if limited {
		lim = "L"
	}
	res, err := redisPut.Run(ctx, r.rdb, r.swarmKeys(infoHash),
		string(p.ID[:]), encodeRedisPeer(p, now), string(addr), poolOf(p),
		now.UnixMilli(), now.Add(-r.cfg.TTL).UnixMilli(), max(r.cfg.MaxPeersPerTorrent, 0), r.cfg.TTL.Milliseconds(),
		hex.EncodeToString(infoHash[:]), groupKey(k, limited), lim, max(r.cfg.AddrLimit.Max, 0)).Int()
	if err != nil {
		return fmt.Errorf("redis store: put: %w", err)
	}
	switch res {
	case 1:
		return nil
	case 0:
		return ErrSwarmFull
	case -1:
		return ErrPeerIDTaken
	case -2:
		return ErrAddressFull
	}
	return fmt.Errorf("redis store: put: script returned %d", res)
}

// Remove implements [Store].
func (r *RedisStore) Remove(ctx context.Context, infoHash [20]byte, p Peer, _ time.Time) error {
	ip, _ := p.Addr.Addr().MarshalBinary()
	if err := redisRemove.Run(ctx, r.rdb, r.swarmKeys(infoHash), string(p.ID[:]), string(ip), redisKey(p.Key)).Err(); err != nil {
		return fmt.Errorf("redis store: remove: %w", err)
	}
	return nil
}

// Sample implements [Store] in one round trip (the sample script).
// Peers past their TTL that the put script has not dropped yet are
// counted but not drawn.
func (r *RedisStore) Sample(ctx context.Context, infoHash [20]byte, d Draw, now time.Time, dst []Peer) ([]Peer, SwarmStats, error) {
	parts := [3]int{min(max(d.Seeders, 0), maxRedisDraw), min(max(d.Leechers, 0), maxRedisDraw), min(max(d.Any, 0), maxRedisDraw)}
	rnd := make([]byte, 4*(4*(parts[0]+parts[1]+parts[2])+16))
	r.mu.Lock()
	for i := 0; i < len(rnd); i += 4 {
		binary.BigEndian.PutUint32(rnd[i:], r.rng.Uint32())
	}
	r.mu.Unlock()
	keys := r.swarmKeys(infoHash)
	sk := append([]string{keys[rkPeers]}, keys[rkAt:rkAt+numPools]...)
	sk = append(append(sk, keys[rkGroupAt:rkGroupAt+numPools]...), keys[rkMembers:rkMembers+numPools]...)
	res, err := redisSample.Run(ctx, r.rdb, sk, parts[0], parts[1], parts[2], int(d.Family), rnd).Slice()
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
	cutoff := now.Add(-r.cfg.TTL)
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
	cutoff := now.Add(-r.cfg.TTL)
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
	pipe.PExpire(ctx, key, 24*time.Hour+r.cfg.TTL)
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
// downloaded (8 bytes each, big-endian), a flags byte (bit 0: proven,
// set by the put script), the key's length and the key (at most 255
// bytes), then the address in netip's binary form.
func encodeRedisPeer(p Peer, now time.Time) string {
	key := redisKey(p.Key)
	b := make([]byte, 0, 26+len(key)+20)
	b = binary.BigEndian.AppendUint64(b, uint64(now.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(p.Left))
	b = binary.BigEndian.AppendUint64(b, uint64(p.Downloaded))
	b = append(b, 0, byte(len(key)))
	b = append(b, key...)
	b, _ = p.Addr.AppendBinary(b)
	return string(b)
}

// redisKey is the part of an announce key the Redis store keeps.
func redisKey(k string) string { return k[:min(len(k), 255)] }

func decodeRedisPeer(id, v string) (Peer, time.Time, bool) {
	var p Peer
	if len(id) != 20 || len(v) < 26 || len(v) < 26+int(v[25]) {
		return p, time.Time{}, false
	}
	copy(p.ID[:], id)
	b := []byte(v)
	last := time.Unix(0, int64(binary.BigEndian.Uint64(b[0:8])))
	p.Left = int64(binary.BigEndian.Uint64(b[8:16]))
	p.Downloaded = int64(binary.BigEndian.Uint64(b[16:24]))
	kl := int(b[25])
	p.Key = string(b[26 : 26+kl])
	if err := p.Addr.UnmarshalBinary(b[26+kl:]); err != nil || !p.Addr.IsValid() || p.Left < 0 {
		return p, last, false
	}
	return p, last, true
}
