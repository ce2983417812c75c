package tracker

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

func newRedisChannelStore(t testing.TB, url, prefix string, lim ChannelLimits) *RedisChannelStore {
	t.Helper()
	s, err := NewRedisChannelStore(url, prefix, lim, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRedisChannelStore(t *testing.T) {
	url := startRedis(t)
	testChannelStore(t, func(t *testing.T, lim ChannelLimits) ChannelStore {
		return newRedisChannelStore(t, url, "test:"+t.Name()+":", lim)
	})
}

// TestRedisChannelsAcrossTrackers: two trackers on one Redis share the
// channels. A host long-polling tracker B learns of a publish on tracker
// A (the time it took is logged; BenchmarkPublishToNext measures
// it), concurrent publishes on both never reuse a seq, and a report on
// one shows on the other's fleet data.
func TestRedisChannelsAcrossTrackers(t *testing.T) {
	url := startRedis(t)
	a, ca := channelTracker(t, ServerConfig{Channels: ChannelConfig{Store: newRedisChannelStore(t, url, "", ChannelLimits{})}})
	b, cb := channelTracker(t, ServerConfig{Channels: ChannelConfig{Store: newRedisChannelStore(t, url, "", ChannelLimits{})}})
	_ = a
	ctx := context.Background()
	if err := cb.Report(ctx, "build", channel.HostReport{Host: "h1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Publish(ctx, "build", testPublishKey, infoDict("first", 1000), 0); err != nil {
		t.Fatal(err)
	}
	waiting := hookWaiting(b)
	got := make(chan channel.Release, 1)
	go func() {
		r, ok, err := cb.Next(ctx, "build", 1)
		if err != nil || !ok {
			t.Errorf("next on B: %v %v", ok, err)
		}
		got <- r
	}()
	awaitHook(t, waiting)
	info := infoDict("from-a", 1000)
	start := time.Now()
	rel, err := ca.Publish(ctx, "build", testPublishKey, info, 0)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r != rel {
			t.Fatalf("B answered %+v, A published %+v", r, rel)
		}
		t.Logf("tracker B answered its long poll %v after the publish on A", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("no answer on B")
	}
	if b, err := cb.Info(ctx, "build", 2, hashOf(info)); err != nil || string(b) != string(info) {
		t.Fatalf("info through B: %v", err)
	}

	// Concurrent publishes through both trackers: distinct seqs 3..22.
	seqs := make(chan uint64, 20)
	for i := range 20 {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		go func() {
			r, err := c.Publish(ctx, "build", testPublishKey, infoDict("race-"+string(rune('a'+i)), 100), 0)
			if err != nil {
				t.Errorf("publish %d: %v", i, err)
			}
			seqs <- r.Seq
		}()
	}
	var all []uint64
	for range 20 {
		all = append(all, <-seqs)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	want := make([]uint64, 20)
	for i := range want {
		want[i] = uint64(i + 3)
	}
	if !slices.Equal(all, want) {
		t.Fatalf("seqs %v", all)
	}
	if err := ca.Report(ctx, "build", channel.HostReport{Host: "h2", Current: 22}); err != nil {
		t.Fatal(err)
	}
	sums, err := cb.Channels(ctx)
	if err != nil || len(sums) != 1 || sums[0].Subscribers != 2 || sums[0].Latest.Seq != 22 || sums[0].Releases != DefaultMaxReleases {
		t.Fatalf("channels on B: %+v %v", sums, err)
	}
}

// BenchmarkPublishToNext measures the time from a publish to the answer
// of a long poll waiting for it, side by side: on one tracker with the
// memory store, and across two trackers on one Redis (loopback, real
// redis-server). It reports the median and 99th percentile of the
// publish call plus the wake-up.
func BenchmarkPublishToNext(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		srv, c := benchTracker(b, nil)
		benchPublishToNext(b, srv, c, c)
	})
	b.Run("redis-two-trackers", func(b *testing.B) {
		url := startRedis(b)
		store := func() ChannelStore { return newRedisChannelStore(b, url, "", ChannelLimits{MaxReleases: 4}) }
		_, ca := benchTracker(b, store())
		srvB, cb := benchTracker(b, store())
		benchPublishToNext(b, srvB, ca, cb)
	})
}

func benchTracker(b *testing.B, store ChannelStore) (*Server, *channel.Client) {
	srv := NewServer(ServerConfig{Logger: discard(), Channels: ChannelConfig{
		Store:       store,
		Limits:      ChannelLimits{MaxReleases: 4},
		PublishKeys: NewPublishKeys(map[string]string{testPublishKey: ""}),
	}})
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	c, err := channel.NewClient(hs.URL+"/announce", hs.Client())
	if err != nil {
		b.Fatal(err)
	}
	return srv, c
}

// benchPublishToNext publishes through pub while a long poll waits on
// poller's tracker srv.
func benchPublishToNext(b *testing.B, srv *Server, pub, poller *channel.Client) {
	waiting := make(chan struct{}, 16)
	srv.channels.testHookWaiting = func() { waiting <- struct{}{} }
	ctx := context.Background()
	if _, err := pub.Publish(ctx, "bench", testPublishKey, infoDict("bench-first", 100), 0); err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	for i := 1; b.Loop(); i++ {
		got := make(chan error, 1)
		go func() { _, _, err := poller.Next(ctx, "bench", uint64(i)); got <- err }()
		awaitHook(b, waiting)
		start := time.Now()
		if _, err := pub.Publish(ctx, "bench", testPublishKey, infoDict(fmt.Sprint("bench-", i), 100), 0); err != nil {
			b.Fatal(err)
		}
		if err := <-got; err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}

// TestRedisResubscribeWakesPolls: when a tracker's subscription to Redis
// comes back after Redis went away, every long poll it holds is woken to
// look at the store again, since publishes may have been missed.
func TestRedisResubscribeWakesPolls(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	url, stop := startRedisOn(t, port)
	a := newRedisChannelStore(t, url, "", ChannelLimits{})
	b := newRedisChannelStore(t, url, "", ChannelLimits{})
	ctx, id, t0 := context.Background(), ChannelID{Name: "build"}, time.Unix(1000, 0)
	// B is subscribed: a publish on A reaches it.
	changed, done := b.Watch(id)
	info := infoDict("r1", 10)
	if _, _, err := a.Publish(ctx, id, storeRelease("build", 0, info, t0), info); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("B never heard of A's publish")
	}
	done()
	changed, done = b.Watch(id)
	defer done()
	stop()
	startRedisOn(t, port)
	select {
	case <-changed:
	case <-time.After(30 * time.Second):
		t.Fatal("the poll was not woken after Redis came back")
	}
}
