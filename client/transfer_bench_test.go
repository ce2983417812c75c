package client

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/wire"
)

// cpuTime is the user plus system CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTransfer moves a 256 MiB file from one seeder to one receiver
// in this process over loopback, unlimited, and reports the CPU (all
// goroutines, kernel included) per GB delivered and the allocations per
// 16 KiB block: allocs/block over the whole transfer, set-up included
// (dialing, handshakes, the torrent's state: about a thousand allocations
// whatever the size), and steady-allocs/block over the blocks received after
// the first quarter of the file, which is what the data path allocates per
// block (SHOAL_BENCH_SIZE_MB sets another size, SHOAL_BENCH_PIECE_KB a piece length,
// SHOAL_BENCH_LIMIT_MB a download limit for the receiver). Every op is a fresh receiver; the seeder's file stays in
// the page cache. Run with -cpuprofile to see where the time goes:
//
//	go test ./client -run '^$' -bench Transfer -benchtime 4x -cpuprofile cpu.out
func BenchmarkTransfer(b *testing.B) {
	size := 256 << 20
	if s := os.Getenv("SHOAL_BENCH_SIZE_MB"); s != "" {
		mb, err := strconv.Atoi(s)
		if err != nil || mb < 1 {
			b.Fatalf("SHOAL_BENCH_SIZE_MB=%q: want a positive number of MiB", s)
		}
		size = mb << 20
	}
	src := b.TempDir()
	path := filepath.Join(src, "f.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*131 + i>>9)
	}
	for off := 0; off < size; off += len(chunk) {
		chunk[0], chunk[1] = byte(off>>20), byte(off>>28)
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	f.Close()
	var limit float64
	if s := os.Getenv("SHOAL_BENCH_LIMIT_MB"); s != "" {
		mb, err := strconv.Atoi(s)
		if err != nil || mb < 1 {
			b.Fatalf("SHOAL_BENCH_LIMIT_MB=%q: want a download limit in MB/s", s)
		}
		limit = float64(mb) * 1e6
	}
	var pieceLen int64
	if s := os.Getenv("SHOAL_BENCH_PIECE_KB"); s != "" {
		kb, err := strconv.Atoi(s)
		if err != nil || kb < 16 {
			b.Fatalf("SHOAL_BENCH_PIECE_KB=%q: want a piece length in KiB, at least 16", s)
		}
		pieceLen = int64(kb) << 10
	}
	mi, err := metainfo.Create(path, metainfo.CreateOptions{PieceLength: pieceLen})
	if err != nil {
		b.Fatal(err)
	}
	seeder, err := New(Config{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer seeder.Close()
	if _, err := seeder.AddTorrent(mi, TorrentOptions{Dir: src, Seed: true, Trackers: []string{}}); err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	var allocs, peakHeap, steadyAllocs uint64
	var steadyBlocks int64
	var ms runtime.MemStats
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		out := filepath.Join(b.TempDir(), "out")
		getter, err := New(Config{ListenAddr: "127.0.0.1:0", DownloadLimit: limit})
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		a0, c0 := ms.Mallocs, cpuTime()
		b.StartTimer()
		tor, err := getter.AddTorrent(mi, TorrentOptions{Dir: out, Peers: []string{seeder.Addr().String()}, Trackers: []string{}})
		if err != nil {
			b.Fatal(err)
		}
		var mark heapMark
		stopSampling := sampleHeap(&peakHeap, func() int64 { return tor.Stats().Downloaded }, int64(size/4), &mark)
		select {
		case <-tor.Done():
		case <-time.After(5 * time.Minute):
			b.Fatalf("transfer not done: %+v", tor.Stats())
		}
		if err := tor.Err(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		stopSampling()
		cpu += cpuTime() - c0
		runtime.ReadMemStats(&ms)
		allocs += ms.Mallocs - a0
		if mark.set {
			steadyAllocs += ms.Mallocs - mark.mallocs
			steadyBlocks += (int64(size) - mark.downloaded) / wire.BlockSize
		}
		getter.Close()
		os.RemoveAll(out)
		b.StartTimer()
	}
	b.StopTimer()
	gb := float64(b.N) * float64(size) / 1e9
	b.ReportMetric(cpu.Seconds()/gb, "CPU-s/GB")
	b.ReportMetric(float64(allocs)/(float64(b.N)*float64(size/wire.BlockSize)), "allocs/block")
	if steadyBlocks > 0 {
		b.ReportMetric(float64(steadyAllocs)/float64(steadyBlocks), "steady-allocs/block")
	}
	b.ReportMetric(float64(peakHeap)/1e6, "peak-heap-MB")
}

// heapMark is what sampleHeap saw at its first sample once the transfer had
// passed its mark: the process's allocations so far and the bytes received.
type heapMark struct {
	set        bool
	mallocs    uint64
	downloaded int64
}

// sampleHeap records the largest heap in use (seeder and receiver) into
// peak every 20 ms until the returned function is called, and into at the
// allocations so far at the first sample where progress has reached mark.
func sampleHeap(peak *uint64, progress func() int64, mark int64, at *heapMark) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			got := progress()
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			if !at.set && got >= mark {
				*at = heapMark{set: true, mallocs: ms.Mallocs, downloaded: got}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}
