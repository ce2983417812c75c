package tracker

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAnnounceSwarmSize measures what one announce costs the tracker
// (in process, no sockets) in a swarm of 1k, 10k and 100k peers, one in
// ten a seeder: a re-announce of a random member asking for 50 peers, over
// UDP (HandleUDP) and HTTP (ServeHTTP) on the memory store, and over UDP
// on a real redis-server (skipped when it is not installed). It uses only
// the server's protocol entry points and the Store's Put, so the same file
// measures any version:
//
//	go test ./tracker -run '^$' -bench AnnounceSwarmSize -benchmem
//
// It reports figures (ns/op is wall time; cpu-us/op the process's CPU
// time per announce, garbage collection included); it is not pass/fail.
// See docs/BENCHMARKS.md.
func BenchmarkAnnounceSwarmSize(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		for _, proto := range []string{"udp", "http", "redis-udp"} {
			b.Run(fmt.Sprintf("peers=%dk/%s", n/1000, proto), func(b *testing.B) {
				benchAnnounce(b, n, proto)
			})
		}
	}
}

// benchPeer is member i of the bench swarm: its own IPv4 address (so no
// per-address bound applies), a port, and whether it seeds.
func benchPeer(i int) (id [20]byte, addr netip.AddrPort, left int64) {
	copy(id[:], fmt.Sprintf("-BN0001-%012d", i))
	addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
	if i%10 != 0 {
		left = 1 << 20
	}
	return id, addr, left
}

func benchAnnounce(b *testing.B, n int, proto string) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	cfg := ServerConfig{
		MaxPeersPerTorrent: 2 * n, Now: func() time.Time { return now },
		Rand: rand.New(rand.NewPCG(1, 2)), Logger: discard(), HandoutBudget: -1,
	}
	if proto == "redis-udp" {
		cfg.Store = newRedisStore(b, startRedis(b), "bench:", time.Hour, 2*n)
		proto = "udp"
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	srv := NewServer(cfg)
	ih := id20("bench-torrent")
	// Fill the swarm straight into the store (through announces it would
	// take the old tracker O(n^2)), from a few goroutines for Redis's sake.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				id, addr, left := benchPeer(i)
				if err := srv.cfg.Store.Put(ctx, ih, Peer{ID: id, Addr: addr, Left: left, Downloaded: 1}, now); err != nil {
					errs <- fmt.Errorf("fill %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	perPeer := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	if cfg.Store == nil {
		// Reported after the loop: ResetTimer drops metrics reported before.
		defer b.ReportMetric(perPeer, "heap-B/peer")
	}
	out := make([]byte, 0, 2048)
	pkt := make([]byte, 0, 128)
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op") }()
	b.ResetTimer()
	switch proto {
	case "udp":
		for range b.N {
			id, addr, left := benchPeer(rng.IntN(n))
			pkt = benchUDPAnnounce(pkt[:0], srv.connIDs.Issue(addr.Addr(), now), ih, id, addr.Port(), left)
			if r := srv.HandleUDP(ctx, pkt, netip.AddrPortFrom(addr.Addr(), 40000), out[:0]); len(r) < 20+6*40 {
				b.Fatalf("announce got %d bytes", len(r))
			}
		}
	case "http":
		rec := httptest.NewRecorder()
		for range b.N {
			id, addr, left := benchPeer(rng.IntN(n))
			q := fmt.Sprintf("info_hash=%s&peer_id=%s&port=%d&uploaded=0&downloaded=1&left=%d&compact=1&numwant=50",
				url.QueryEscape(string(ih[:])), url.QueryEscape(string(id[:])), addr.Port(), left)
			r := &http.Request{Method: "GET", URL: &url.URL{Path: "/announce", RawQuery: q},
				RemoteAddr: netip.AddrPortFrom(addr.Addr(), 40000).String(), Header: http.Header{}}
			r = r.WithContext(ctx)
			rec.Body.Reset()
			srv.ServeHTTP(rec, r)
			if rec.Body.Len() < 6*40 {
				b.Fatalf("announce got %q", rec.Body.Bytes())
			}
		}
	}
}

// cpuTime is the CPU time this process has used, user and system (the
// tracker's own work and the garbage collector's; not Redis's, which is
// another process). Less disturbed by a busy machine than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchUDPAnnounce writes a BEP 15 announce by hand (so the bench does not
// depend on the client's encoder), a regular re-announce (event 0).
func benchUDPAnnounce(b []byte, connID uint64, ih, id [20]byte, port uint16, left int64) []byte {
	b = binary.BigEndian.AppendUint64(b, connID)
	b = binary.BigEndian.AppendUint32(b, 1) // announce
	b = binary.BigEndian.AppendUint32(b, 7) // transaction ID
	b = append(append(b, ih[:]...), id[:]...)
	b = binary.BigEndian.AppendUint64(b, 1) // downloaded: not a newcomer
	b = binary.BigEndian.AppendUint64(b, uint64(left))
	b = binary.BigEndian.AppendUint64(b, 0)
	b = binary.BigEndian.AppendUint32(b, 0) // event: none
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, 50)
	return binary.BigEndian.AppendUint16(b, port)
}
