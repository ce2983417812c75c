package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shoal-p2p/shoal/channel"
)

// RedisChannelStore is a [ChannelStore] in a Redis server, so several
// trackers share one set of channels: a release published on one is
// listed, served and long-polled on all of them. Layout, under a key
// prefix, with ID the channel's tenant (escaped) and name:
//
//	PREFIX pub              set of IDs with releases
//	PREFIX pending          set of IDs known only from host reports
//	PREFIX c:ID:head        JSON: the kept releases (channelHead)
//	PREFIX c:ID:floor       the numbering floor
//	PREFIX c:ID:info:SEQ    the info dictionary of release SEQ
//	PREFIX c:ID:hosts       hash: host -> JSON HostRecord
//	PREFIX c:ID:done:SEQ    hash: host -> Unix ns of its completion of SEQ
//	PREFIX c:ID:egress      the origin egress counter
//	PREFIX events           pub/sub channel: the ID of each new release
//
// A publish is an optimistic transaction (WATCH head and floor, apply
// channelHead.publish, MULTI/EXEC, retry on a race), so trackers never
// hand out one seq twice. Each tracker subscribes to the events channel
// and wakes its own long polls, so an agent polling tracker B learns of
// a publish on tracker A within a round trip; a tracker that lost its
// subscription wakes every poll once it is back, and polls recheck the
// store every few seconds regardless. Hosts are filtered by their report
// times on read; the hosts hash and a pending channel's floor expire in
// Redis after a while without reports. Bounds on hosts, pending and
// published channels are checked before writing, so concurrent trackers
// may overshoot them by a few; the bytes of info dictionaries are left to
// Redis's maxmemory.
type RedisChannelStore struct {
	rdb    *redis.Client
	prefix string
	lim    ChannelLimits
	log    *slog.Logger
	notify notifier

	stop context.CancelFunc
	ps   *redis.PubSub
	wg   sync.WaitGroup
}

// redisPublishRetries bounds the optimistic retries of one publish.
const redisPublishRetries = 20

// NewRedisChannelStore returns a store on the Redis server at rawURL
// (redis://[:password@]host:port[/db]) under prefix (default
// "shoal:channels:"), and starts the goroutine that follows other
// trackers' publishes; Close stops it.
func NewRedisChannelStore(rawURL, prefix string, lim ChannelLimits, log *slog.Logger) (*RedisChannelStore, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis channel store: %w", err)
	}
	if prefix == "" {
		prefix = "shoal:channels:"
	}
	if log == nil {
		log = slog.Default()
	}
	r := &RedisChannelStore{rdb: redis.NewClient(opts), prefix: prefix, lim: lim.withDefaults(), log: log}
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	r.ps = r.rdb.Subscribe(ctx, r.eventsKey())
	r.wg.Add(1)
	go r.follow(ctx)
	return r, nil
}

// Ping checks that the server answers.
func (r *RedisChannelStore) Ping(ctx context.Context) error {
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis channel store: ping: %w", err)
	}
	return nil
}

// Close stops following publishes and closes the connections.
func (r *RedisChannelStore) Close() error {
	r.stop()
	err := r.ps.Close()
	r.wg.Wait()
	return errors.Join(err, r.rdb.Close())
}

func (r *RedisChannelStore) eventsKey() string  { return r.prefix + "events" }
func (r *RedisChannelStore) pubKey() string     { return r.prefix + "pub" }
func (r *RedisChannelStore) pendingKey() string { return r.prefix + "pending" }
func (r *RedisChannelStore) key(id ChannelID, part string) string {
	return r.prefix + "c:" + id.key() + ":" + part
}
func (r *RedisChannelStore) seqKey(id ChannelID, part string, seq uint64) string {
	return r.key(id, part+":"+strconv.FormatUint(seq, 10))
}

// gcTTL is how long Redis keeps what only live hosts need after the last
// report: well past HostTTL, since reads filter by report time anyway.
func (r *RedisChannelStore) gcTTL() time.Duration { return 2*r.lim.HostTTL + time.Minute }

// follow wakes local long polls on every publish announced on the events
// channel, and all of them after a gap in the subscription.
func (r *RedisChannelStore) follow(ctx context.Context) {
	defer r.wg.Done()
	for ctx.Err() == nil {
		msg, err := r.ps.ReceiveTimeout(ctx, 30*time.Second)
		switch m := msg.(type) {
		case *redis.Message:
			if id, ok := parseChannelKey(m.Payload); ok {
				r.notify.notify(id)
			}
			continue
		case *redis.Subscription:
			r.notify.notifyAll() // (re)subscribed: anything may have been missed
			continue
		case *redis.Pong:
			continue
		}
		if ctx.Err() != nil {
			return
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.ps.Ping(ctx) // quiet for a while: check the connection is alive
			continue
		}
		r.log.Warn("redis channel store: subscription", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// Publish implements [ChannelStore].
func (r *RedisChannelStore) Publish(ctx context.Context, id ChannelID, rel channel.Release, info []byte) (channel.Release, bool, error) {
	headKey, floorKey := r.key(id, "head"), r.key(id, "floor")
	var out channel.Release
	var created bool
	txf := func(tx *redis.Tx) error {
		head, err := r.readHead(ctx, tx, id)
		if err != nil {
			return err
		}
		if len(head.Releases) == 0 {
			n, err := tx.SCard(ctx, r.pubKey()).Result()
			if err != nil {
				return err
			}
			if n >= int64(r.lim.MaxChannels) {
				return fmt.Errorf("%w: %d channels with releases", ErrTooManyChannels, n)
			}
		}
		egress, err := tx.Get(ctx, r.key(id, "egress")).Int64()
		if err != nil && err != redis.Nil {
			return err
		}
		var evicted []uint64
		out, created, evicted, err = head.publish(rel, r.lim.MaxReleases, egress)
		if err != nil || !created {
			return err
		}
		hb, err := json.Marshal(head)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, headKey, hb, 0)
			p.Set(ctx, floorKey, head.Floor, 0)
			p.Set(ctx, r.seqKey(id, "info", out.Seq), info, 0)
			for _, s := range evicted {
				p.Del(ctx, r.seqKey(id, "info", s), r.seqKey(id, "done", s))
			}
			p.SAdd(ctx, r.pubKey(), id.key())
			p.SRem(ctx, r.pendingKey(), id.key())
			return nil
		})
		return err
	}
	for range redisPublishRetries {
		err := r.rdb.Watch(ctx, txf, headKey, floorKey)
		if errors.Is(err, redis.TxFailedErr) {
			continue // another tracker published at the same moment
		}
		if err != nil {
			return channel.Release{}, false, wrapRedis("publish", err)
		}
		if created {
			if err := r.rdb.Publish(ctx, r.eventsKey(), id.key()).Err(); err != nil {
				r.log.Warn("redis channel store: announcing a publish", "channel", id.String(), "err", err)
			}
		}
		return out, created, nil
	}
	return channel.Release{}, false, fmt.Errorf("redis channel store: publish %s: %d concurrent retries", id, redisPublishRetries)
}

// readHead reads the head of id with its floor folded in, in one round
// trip.
func (r *RedisChannelStore) readHead(ctx context.Context, c redis.Cmdable, id ChannelID) (channelHead, error) {
	var hc, fc *redis.StringCmd
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		hc, fc = r.queueHead(ctx, p, id)
		return nil
	})
	if err != nil && err != redis.Nil {
		return channelHead{}, err
	}
	return r.headFrom(id, hc, fc)
}

// queueHead queues the reads of id's head and floor on p.
func (r *RedisChannelStore) queueHead(ctx context.Context, p redis.Pipeliner, id ChannelID) (head, floor *redis.StringCmd) {
	return p.Get(ctx, r.key(id, "head")), p.Get(ctx, r.key(id, "floor"))
}

// headFrom decodes the replies of queueHead.
func (r *RedisChannelStore) headFrom(id ChannelID, hc, fc *redis.StringCmd) (channelHead, error) {
	var head channelHead
	b, err := hc.Bytes()
	switch {
	case err == redis.Nil:
	case err != nil:
		return head, err
	default:
		if err := json.Unmarshal(b, &head); err != nil {
			return head, fmt.Errorf("redis channel store: head of %s: %w", id, err)
		}
	}
	floor, err := fc.Uint64()
	if err != nil && err != redis.Nil {
		return head, err
	}
	head.raise(floor)
	return head, nil
}

// liveHosts reads the hosts of id live at now, and the names of the
// others.
func (r *RedisChannelStore) liveHosts(ctx context.Context, id ChannelID, now time.Time) (live []HostRecord, stale []string, err error) {
	all, err := r.rdb.HGetAll(ctx, r.key(id, "hosts")).Result()
	if err != nil {
		return nil, nil, err
	}
	for name, v := range all {
		var h HostRecord
		if json.Unmarshal([]byte(v), &h) != nil || h.Report.Host != name || !h.live(now, r.lim.HostTTL) {
			stale = append(stale, name)
			continue
		}
		live = append(live, h)
	}
	slices.SortFunc(live, func(a, b HostRecord) int { return strings.Compare(a.Report.Host, b.Report.Host) })
	return live, stale, nil
}

// Releases implements [ChannelStore].
func (r *RedisChannelStore) Releases(ctx context.Context, id ChannelID, now time.Time) ([]channel.Release, error) {
	head, err := r.readHead(ctx, r.rdb, id)
	if err != nil {
		return nil, wrapRedis("releases", err)
	}
	if len(head.Releases) == 0 {
		live, _, err := r.liveHosts(ctx, id, now)
		if err != nil {
			return nil, wrapRedis("releases", err)
		}
		return nil, unknownChannel(id, len(live))
	}
	return head.publicReleases(), nil
}

// Info implements [ChannelStore].
func (r *RedisChannelStore) Info(ctx context.Context, id ChannelID, seq uint64) ([]byte, error) {
	b, err := r.rdb.Get(ctx, r.seqKey(id, "info", seq)).Bytes()
	if err == nil {
		return b, nil
	}
	if err != redis.Nil {
		return nil, wrapRedis("info", err)
	}
	n, err := r.rdb.Exists(ctx, r.key(id, "head")).Result()
	if err != nil {
		return nil, wrapRedis("info", err)
	}
	if n == 0 {
		return nil, unknownChannel(id, 0)
	}
	return nil, fmt.Errorf("%w: %s keeps no release %d", ErrUnknownRelease, id.Name, seq)
}

// raiseFloorScript sets KEYS[1] to ARGV[1] if that is higher.
var raiseFloorScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`)

// doneScript records ARGV[1] completing at ARGV[2] in hash KEYS[1],
// unless it is there already or the hash holds ARGV[3] hosts.
var doneScript = redis.NewScript(`
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])`)

// Report implements [ChannelStore].
func (r *RedisChannelStore) Report(ctx context.Context, id ChannelID, rep channel.HostReport, now time.Time) error {
	hostsKey := r.key(id, "hosts")
	var prevCmd, hc, fc *redis.StringCmd
	var nHosts *redis.IntCmd
	var isPub, isPending *redis.BoolCmd
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		hc, fc = r.queueHead(ctx, p, id)
		prevCmd = p.HGet(ctx, hostsKey, rep.Host)
		nHosts = p.HLen(ctx, hostsKey)
		isPub = p.SIsMember(ctx, r.pubKey(), id.key())
		isPending = p.SIsMember(ctx, r.pendingKey(), id.key())
		return nil
	})
	if err != nil && err != redis.Nil {
		return wrapRedis("report", err)
	}
	head, err := r.headFrom(id, hc, fc)
	if err != nil {
		return wrapRedis("report", err)
	}
	published := isPub.Val() || len(head.Releases) > 0
	if !published && !isPending.Val() {
		n, err := r.rdb.SCard(ctx, r.pendingKey()).Result()
		if err != nil {
			return wrapRedis("report", err)
		}
		if n >= int64(r.lim.MaxPending) {
			return fmt.Errorf("%w: %d channels with no release yet", ErrTooManyChannels, n)
		}
	}
	var prev *HostRecord
	if b, err := prevCmd.Bytes(); err == nil {
		var h HostRecord
		if json.Unmarshal(b, &h) == nil && h.live(now, r.lim.HostTTL) {
			prev = &h
		}
	}
	if prev == nil && nHosts.Val() >= int64(r.lim.MaxHosts) {
		live, stale, err := r.liveHosts(ctx, id, now)
		if err != nil {
			return wrapRedis("report", err)
		}
		if len(stale) > 0 {
			r.rdb.HDel(ctx, hostsKey, stale...)
		}
		if len(live) >= r.lim.MaxHosts {
			return fmt.Errorf("%w: %s lists %d hosts", ErrChannelFull, id.Name, len(live))
		}
	}
	rec, delta := nextHostRecord(prev, rep, now)
	rb, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, hostsKey, rep.Host, rb)
		p.PExpire(ctx, hostsKey, r.gcTTL())
		if delta > 0 {
			p.IncrBy(ctx, r.key(id, "egress"), delta)
		}
		if hi := head.reported(rep); hi > head.Floor {
			raiseFloorScript.Eval(ctx, p, []string{r.key(id, "floor")}, hi)
		}
		if !published {
			p.SAdd(ctx, r.pendingKey(), id.key())
			p.PExpire(ctx, r.key(id, "floor"), r.gcTTL())
		}
		for _, s := range head.completedSeqs(rep) {
			doneScript.Eval(ctx, p, []string{r.seqKey(id, "done", s)}, rep.Host, now.UnixNano(), r.lim.MaxHosts)
		}
		return nil
	})
	if err != nil {
		return wrapRedis("report", err)
	}
	return nil
}

// View implements [ChannelStore]. It reads every channel of every tenant
// listed, so it costs a scan of the store; the fleet page reads it at
// most once a second per tenant per tracker.
func (r *RedisChannelStore) View(ctx context.Context, tenant string, now time.Time) ([]ChannelView, error) {
	pub, err := r.rdb.SMembers(ctx, r.pubKey()).Result()
	if err != nil {
		return nil, wrapRedis("view", err)
	}
	pending, err := r.rdb.SMembers(ctx, r.pendingKey()).Result()
	if err != nil {
		return nil, wrapRedis("view", err)
	}
	var out []ChannelView
	for i, k := range append(pub, pending...) {
		id, ok := parseChannelKey(k)
		if !ok || id.Tenant != tenant {
			continue
		}
		v, err := r.view(ctx, id, now)
		if err != nil {
			return nil, wrapRedis("view", err)
		}
		if len(v.Releases) == 0 && len(v.Hosts) == 0 {
			if i >= len(pub) { // a pending channel whose hosts all left
				r.rdb.SRem(ctx, r.pendingKey(), k)
			}
			continue
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b ChannelView) int { return strings.Compare(a.ID.Name, b.ID.Name) })
	return slices.CompactFunc(out, func(a, b ChannelView) bool { return a.ID == b.ID }), nil
}

func (r *RedisChannelStore) view(ctx context.Context, id ChannelID, now time.Time) (ChannelView, error) {
	head, err := r.readHead(ctx, r.rdb, id)
	if err != nil {
		return ChannelView{}, err
	}
	v := ChannelView{ID: id, Floor: head.Floor}
	if v.Hosts, _, err = r.liveHosts(ctx, id, now); err != nil {
		return v, err
	}
	if v.Egress, err = r.rdb.Get(ctx, r.key(id, "egress")).Int64(); err != nil && err != redis.Nil {
		return v, err
	}
	done := make([]*redis.MapStringStringCmd, len(head.Releases))
	_, err = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, rel := range head.Releases {
			done[i] = p.HGetAll(ctx, r.seqKey(id, "done", rel.Seq))
		}
		return nil
	})
	if err != nil {
		return v, err
	}
	for i, rel := range head.Releases {
		rv := ReleaseView{Release: rel.Release, OriginBase: rel.OriginBase, Completed: map[string]time.Time{}}
		for host, ns := range done[i].Val() {
			if n, err := strconv.ParseInt(ns, 10, 64); err == nil {
				rv.Completed[host] = time.Unix(0, n).UTC()
			}
		}
		v.Releases = append(v.Releases, rv)
	}
	return v, nil
}

// Watch implements [ChannelStore].
func (r *RedisChannelStore) Watch(id ChannelID) (<-chan struct{}, func()) { return r.notify.watch(id) }

func wrapRedis(op string, err error) error {
	if errors.Is(err, channel.ErrConflict) || errors.Is(err, ErrTooManyChannels) || errors.Is(err, ErrChannelFull) {
		return err
	}
	return fmt.Errorf("redis channel store: %s: %w", op, err)
}
