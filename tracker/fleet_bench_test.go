package tracker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

// fillChannel publishes releases 1..releases of "build" and has hosts
// report, each holding every release; it returns the time of the reports.
func fillChannel(b *testing.B, s ChannelStore, hosts, releases int) time.Time {
	ctx, t0 := context.Background(), time.Unix(1_700_000_000, 0)
	id := ChannelID{Name: "build"}
	for i := range releases {
		info := infoDict(fmt.Sprint("r", i), 1000)
		if _, _, err := s.Publish(ctx, id, storeRelease("build", 0, info, t0), info); err != nil {
			b.Fatal(err)
		}
	}
	have := make([]uint64, releases)
	for i := range have {
		have[i] = uint64(i + 1)
	}
	for h := range hosts {
		r := channel.HostReport{Host: fmt.Sprintf("host-%05d", h), Current: uint64(releases), Have: have, DownRate: 1e6}
		if err := s.Report(ctx, id, r, t0.Add(time.Duration(h)*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
	return t0.Add(time.Duration(hosts) * time.Millisecond)
}

// BenchmarkChannelReport is the tracker's cost of one host report on a
// channel of 1,000 hosts holding its 3 releases: what a fleet of 1,000
// agents reporting every 5 s costs, 200 of these a second.
func BenchmarkChannelReport(b *testing.B) {
	stores := map[string]func() ChannelStore{
		"memory": func() ChannelStore { return NewMemoryChannelStore(ChannelLimits{}) },
		"redis": func() ChannelStore {
			return newRedisChannelStore(b, startRedis(b), "bench:", ChannelLimits{})
		},
	}
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			s := stores[name]()
			now := fillChannel(b, s, 1000, 3)
			ctx := context.Background()
			r := channel.HostReport{Current: 3, Have: []uint64{1, 2, 3}, DownRate: 1e6}
			for i := 0; b.Loop(); i++ {
				r.Host = fmt.Sprintf("host-%05d", i%1000)
				if err := s.Report(ctx, ChannelID{Name: "build"}, r, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFleetSnapshot is the cost of one fleet page snapshot (the
// store's view and buildFleet, JSON encoding included) of a channel of
// 10,000 hosts and 16 releases, on the memory store; the tracker builds
// at most one a second per tenant however many pages are open.
func BenchmarkFleetSnapshot(b *testing.B) {
	s := NewMemoryChannelStore(ChannelLimits{})
	now := fillChannel(b, s, 10_000, 16)
	api := NewServer(ServerConfig{Logger: discard(), Now: func() time.Time { return now }, Channels: ChannelConfig{Store: s}}).channels
	for b.Loop() {
		api.fleet = fleetCache{} // no reuse: build every time
		if _, err := api.snapshot(context.Background(), ""); err != nil {
			b.Fatal(err)
		}
	}
}
