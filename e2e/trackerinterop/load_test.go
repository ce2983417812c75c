package trackerinterop

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// The load bench: many simulated peers announce in parallel to one
// tracker process, over HTTP or UDP, and the bench reports announces per
// second and the 99th percentile latency. It runs the Shoal tracker and
// opentracker the same way in the same run:
//
//	go test ./e2e/trackerinterop -run '^$' -bench TrackerLoad -benchtime 20000x
//
// It is a benchmark, not a pass/fail test; figures go in docs/BENCHMARKS.md.
const (
	loadPeers    = 5000 // simulated peers
	loadTorrents = 50   // swarms they are spread over
	loadWorkers  = 64   // announces in flight at once
)

func loadHash(i int) [20]byte { return sha1.Sum([]byte(fmt.Sprint("load-torrent-", i))) }

func loadHashesHex() []string {
	var hs []string
	for i := range loadTorrents {
		h := loadHash(i)
		hs = append(hs, hex.EncodeToString(h[:]))
	}
	return hs
}

// loadPeer is simulated peer i: its torrent, peer ID and port.
func loadPeer(i int) (ih [20]byte, id [20]byte, port uint16, left int64) {
	ih = loadHash(i % loadTorrents)
	copy(id[:], fmt.Sprintf("-LD0001-%012d", i))
	port = uint16(10000 + i%50000)
	if i%10 != 0 {
		left = 1 << 20 // one peer in ten is a seeder
	}
	return
}

func BenchmarkTrackerLoad(b *testing.B) {
	ctx := harness.Context(b, 10*time.Minute)
	trackers := []struct {
		name  string
		start func(b *testing.B) string
	}{
		{"shoal", func(b *testing.B) string {
			return startTracker(ctx, b, "shoal tracker", "--rate", "0", "--max-peers", "100000")
		}},
		{"opentracker", func(b *testing.B) string { return startOpentracker(ctx, b, loadHashesHex()...) }},
	}
	for _, tr := range trackers {
		for _, proto := range []string{"http", "udp"} {
			b.Run(tr.name+"/"+proto, func(b *testing.B) {
				addr := tr.start(b)
				runLoad(ctx, b, addr, proto)
			})
		}
	}
}

// runLoad sends b.N announces from loadWorkers goroutines and reports the
// rate and latency percentiles.
func runLoad(ctx context.Context, b *testing.B, addr, proto string) {
	var next atomic.Int64
	var errs atomic.Int64
	lat := make([][]time.Duration, loadWorkers)
	var wg sync.WaitGroup
	b.ResetTimer()
	t0 := time.Now()
	for w := range loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var announce func(i int) error
			if proto == "http" {
				announce = httpAnnouncer(addr)
			} else {
				var err error
				if announce, err = udpAnnouncer(addr); err != nil {
					b.Error(err)
					return
				}
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N || ctx.Err() != nil {
					return
				}
				s := time.Now()
				if err := announce(i % loadPeers); err != nil {
					errs.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(s))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		b.Fatalf("no announce succeeded (%d errors)", errs.Load())
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "announces/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(errs.Load()), "errors")
}

// httpAnnouncer returns a function sending one compact HTTP announce for
// a simulated peer over a kept-alive connection.
func httpAnnouncer(addr string) func(int) error {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	return func(i int) error {
		ih, id, port, left := loadPeer(i)
		u := fmt.Sprintf("http://%s/announce?info_hash=%s&peer_id=%s&port=%d&uploaded=0&downloaded=0&left=%d&compact=1&numwant=50",
			addr, url.QueryEscape(string(ih[:])), url.QueryEscape(string(id[:])), port, left)
		resp, err := hc.Get(u)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || len(body) < 2 || string(body[:3]) == "d14" {
			return fmt.Errorf("bad reply %d %q: %v", resp.StatusCode, body, err)
		}
		return nil
	}
}

// udpAnnouncer returns a function sending one BEP 15 announce for a
// simulated peer, reusing its connection ID as a real client does and
// reconnecting when the tracker refuses it.
func udpAnnouncer(addr string) (func(int) error, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 2048)
	var tid uint32
	var connID uint64
	var issued time.Time
	exchange := func(pkt []byte, id uint32) ([]byte, error) {
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(pkt); err != nil {
			return nil, err
		}
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return nil, err
			}
			if n >= 8 && binary.BigEndian.Uint32(buf[4:8]) == id {
				return buf[:n], nil
			}
		}
	}
	connect := func() error {
		tid++
		pkt := binary.BigEndian.AppendUint64(nil, 0x41727101980)
		pkt = binary.BigEndian.AppendUint32(pkt, 0)
		pkt = binary.BigEndian.AppendUint32(pkt, tid)
		r, err := exchange(pkt, tid)
		if err != nil || len(r) < 16 || binary.BigEndian.Uint32(r) != 0 {
			return fmt.Errorf("connect: %v", err)
		}
		connID, issued = binary.BigEndian.Uint64(r[8:]), time.Now()
		return nil
	}
	return func(i int) error {
		if connID == 0 || time.Since(issued) > 50*time.Second {
			if err := connect(); err != nil {
				return err
			}
		}
		ih, id, port, left := loadPeer(i)
		tid++
		pkt := binary.BigEndian.AppendUint64(nil, connID)
		pkt = binary.BigEndian.AppendUint32(pkt, 1)
		pkt = binary.BigEndian.AppendUint32(pkt, tid)
		pkt = append(append(pkt, ih[:]...), id[:]...)
		pkt = binary.BigEndian.AppendUint64(pkt, 0)
		pkt = binary.BigEndian.AppendUint64(pkt, uint64(left))
		pkt = binary.BigEndian.AppendUint64(pkt, 0)
		pkt = binary.BigEndian.AppendUint32(pkt, 0) // event: none
		pkt = binary.BigEndian.AppendUint32(pkt, 0)
		pkt = binary.BigEndian.AppendUint32(pkt, uint32(i))
		pkt = binary.BigEndian.AppendUint32(pkt, 50)
		pkt = binary.BigEndian.AppendUint16(pkt, port)
		r, err := exchange(pkt, tid)
		if err != nil {
			return err
		}
		if binary.BigEndian.Uint32(r) != 1 {
			connID = 0
			return fmt.Errorf("announce refused: %q", r[8:])
		}
		return nil
	}, nil
}
