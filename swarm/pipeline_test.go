package swarm

import (
	"container/heap"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// uploaderModel is one remote seeder as the getter's core sees it through
// a network: requests reach it after the one-way delay, it sends blocks
// one after another at its link rate (FIFO), and each block reaches the
// getter a one-way delay after it left. With pulse > 0 it answers like
// Transmission: requests wait for the next pulse, which sends every
// request received before it (at the link rate).
type uploaderModel struct {
	link  float64       // bytes per second
	delay time.Duration // one way
	pulse time.Duration // 0: answer as requests arrive
}

// modelEvent is a request reaching the uploader or a block reaching the
// getter.
type modelEvent struct {
	at    time.Duration
	order int // ties: in the order scheduled
	block bool
	spec  BlockSpec
}

type modelQueue []modelEvent

func (q modelQueue) Len() int { return len(q) }
func (q modelQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].order < q[j].order
}
func (q modelQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *modelQueue) Push(x any)   { *q = append(*q, x.(modelEvent)) }
func (q *modelQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// runPipelineModel downloads a torrent of size bytes from m into a fresh
// core and returns the payload bytes received in each simulated second,
// up to limit, and the core's view of the seeder at the end.
func runPipelineModel(t *testing.T, m uploaderModel, size int64, limit time.Duration) ([]int64, *peer) {
	t.Helper()
	const pieceLen = 256 << 10
	n := int((size + pieceLen - 1) / pieceLen)
	s, err := New(Config{NumPieces: n, PieceLength: pieceLen, TotalLength: size, Fast: true, Seed: 1,
		MaxRequestsPerPeer: 256})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Unix(0, 0)
	var (
		q        modelQueue
		order    int
		linkFree time.Duration // when the uploader's link is next idle
		waiting  []BlockSpec   // requests held for the next pulse
		perSec   []int64
		nextTick = time.Second
	)
	push := func(e modelEvent) { order++; e.order = order; heap.Push(&q, e) }
	// serve puts a request on the uploader's link at time at.
	serve := func(at time.Duration, spec BlockSpec) {
		start := max(at, linkFree)
		linkFree = start + time.Duration(float64(spec.Length)/m.link*float64(time.Second))
		push(modelEvent{at: linkFree + m.delay, block: true, spec: spec})
	}
	drain := func(now time.Duration) {
		for _, a := range s.Actions() {
			switch {
			case a.Kind == Send && a.Msg.Type == wire.Request:
				push(modelEvent{at: now + m.delay, spec: BlockSpec{a.Msg.Index, a.Msg.Begin, a.Msg.Length}})
			case a.Kind == WriteBlock:
				s.BlockWritten(base.Add(now), a.Block, nil)
			case a.Kind == VerifyPiece:
				s.PieceVerified(base.Add(now), a.Piece, true)
			}
		}
	}
	const seeder = ConnID(1)
	s.AddPeer(base, seeder, PeerInfo{Fast: true, Extended: true})
	s.Receive(base, seeder, wire.Message{Type: wire.HaveAll})
	s.Receive(base, seeder, wire.Message{Type: wire.Unchoke})
	drain(0)
	if m.pulse > 0 {
		push(modelEvent{at: m.pulse, spec: BlockSpec{Length: 0}}) // pulse marker
	}
	for q.Len() > 0 && !s.Complete() {
		e := heap.Pop(&q).(modelEvent)
		for nextTick <= e.at {
			if testing.Verbose() {
				if p := s.byID.get(seeder); p != nil {
					t.Logf("t=%v target=%d out=%d rate=%.0f rtt=%v floor=%d", nextTick, s.target(p), len(p.reqs), p.downRate, p.pipe.rtt, p.pipe.floor)
				}
			}
			s.Tick(base.Add(nextTick))
			drain(nextTick)
			nextTick += time.Second
		}
		if e.at > limit {
			break
		}
		switch {
		case e.block:
			sec := int(e.at / time.Second)
			for len(perSec) <= sec {
				perSec = append(perSec, 0)
			}
			perSec[sec] += int64(e.spec.Length)
			s.ReceiveBlock(base.Add(e.at), seeder, e.spec, e.spec)
		case e.spec.Length == 0: // a pulse: send everything received so far
			for _, spec := range waiting {
				serve(e.at, spec)
			}
			waiting = waiting[:0]
			push(modelEvent{at: e.at + m.pulse, spec: BlockSpec{Length: 0}})
		case m.pulse > 0:
			waiting = append(waiting, e.spec)
		default:
			serve(e.at, e.spec)
		}
		drain(e.at)
	}
	return perSec, s.byID.get(seeder)
}

// steadyRate is the mean rate over the whole seconds from..to of perSec.
func steadyRate(perSec []int64, from, to int) float64 {
	var sum int64
	for i := from; i < to && i < len(perSec); i++ {
		sum += perSec[i]
	}
	return float64(sum) / float64(to-from)
}

// TestPipelineKeepsLongLinksFull: at a 150 ms one-way delay (300 ms round
// trip) a single peer's link stays full once the pipeline has grown, for
// a 4 MB/s and a 10 MB/s link. With a pipeline of a quarter second of
// the rate plus two, the rate settles where the pipeline limits it: about
// 2 blocks per 50 ms, 640 kB/s.
func TestPipelineKeepsLongLinksFull(t *testing.T) {
	for _, link := range []float64{4e6, 10e6} {
		t.Run(fmt.Sprintf("%.0fMBps", link/1e6), func(t *testing.T) {
			m := uploaderModel{link: link, delay: 150 * time.Millisecond}
			perSec, _ := runPipelineModel(t, m, int64(link*12), 20*time.Second)
			t.Logf("bytes per second: %v", perSec)
			if got := steadyRate(perSec, 3, 10); got < 0.95*link {
				t.Fatalf("rate over seconds 3-10 is %.0f B/s, want at least 95%% of the %.0f B/s link", got, link)
			}
		})
	}
}

// TestPipelineFollowsPulsingPeer: a seeder that answers every request in
// 500 ms pulses (as Transmission 3.00 does) on an 8 MB/s link. The
// pipeline doubles per pulse until the cap (256 blocks: 4 MiB per pulse,
// 8.4 MB/s), so from the third second on the link is the limit. With a
// quarter-second pipeline the getter settled at 128 KiB/s.
func TestPipelineFollowsPulsingPeer(t *testing.T) {
	const link = 8e6
	m := uploaderModel{link: link, delay: 100 * time.Microsecond, pulse: 500 * time.Millisecond}
	perSec, _ := runPipelineModel(t, m, 10*link, 20*time.Second)
	t.Logf("bytes per second: %v", perSec)
	if got := steadyRate(perSec, 3, 8); got < 0.9*link {
		t.Fatalf("rate over seconds 3-8 is %.0f B/s, want at least 90%% of the %.0f B/s link", got, link)
	}
}

// TestPipelineShallowOnFastLinks: on a fast, short link (100 µs one way,
// 10 MB/s) the peer is never idle between rounds, so the pipeline stays
// near a quarter second of the rate (the benefit for fleets: shallow
// queues at the uploader) and the link is full.
func TestPipelineShallowOnFastLinks(t *testing.T) {
	const link = 10e6
	m := uploaderModel{link: link, delay: 100 * time.Microsecond}
	perSec, p := runPipelineModel(t, m, 6*link, 10*time.Second)
	t.Logf("bytes per second: %v", perSec)
	if got := steadyRate(perSec, 1, 5); got < 0.95*link {
		t.Fatalf("rate over seconds 1-5 is %.0f B/s, want at least 95%% of the %.0f B/s link", got, link)
	}
	if p == nil {
		t.Fatal("seeder gone")
	}
	if d := time.Duration(float64(p.pipe.rtt) * rttHeadroom); d > 50*time.Millisecond {
		t.Fatalf("round-trip term %v (rtt %v): the quarter second should rule on a 200 µs round trip", d, p.pipe.rtt)
	}
}
