package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// linkFixture is an uploader with one open connection to each of n
// receivers, every link at rate bytes per second, blocks of 16 KiB.
func linkFixture(n int, rate float64) (*simulation, *host, []*conn) {
	s := &simulation{lat: int64(time.Millisecond), lay: layout{scale: 1}, now: int64(time.Second)}
	// firstSent for the uploader and its n receivers (trace.upload).
	s.trace = &trace{bin: int64(time.Second), pieceReal: 1, firstSent: make([]int64, n+1)}
	up := &host{up: rate / 1e9, down: rate / 1e9}
	var cs []*conn
	for i := 0; i < n; i++ {
		r := &host{idx: i + 1, up: rate / 1e9, down: rate / 1e9}
		c := &conn{h: up, peer: r, state: open}
		c.remote = &conn{h: r, peer: up, state: open, remote: c}
		c.q.push(outItem{block: true, spec: swarm.BlockSpec{Piece: uint32(i), Length: 16 << 10}})
		c.inRR = true
		up.rr.push(c)
		cs = append(cs, c)
	}
	return s, up, cs
}

// TestUploadSkipsBacklogged: the upload link passes over a connection whose
// receiver has more than DownBuffer waiting for its download link, as TCP
// would leave the link to the uncongested flows.
func TestUploadSkipsBacklogged(t *testing.T) {
	rate := 1e9
	s, up, cs := linkFixture(2, rate)
	backlog := int64(2 * DownBuffer / rate * 1e9) // twice the buffer
	cs[0].remote.h.downFree = s.now + s.lat + backlog
	s.startUpload(up)
	if !up.busy || up.cur != cs[1] {
		t.Fatalf("link busy %v sending on %p, want the uncongested connection %p", up.busy, up.cur, cs[1])
	}
}

// TestUploadWaitsForDrain: with every receiver backlogged the link idles
// and wakes when the first has drained to within the buffer.
func TestUploadWaitsForDrain(t *testing.T) {
	rate := 1e9
	s, up, cs := linkFixture(2, rate)
	buf := int64(DownBuffer / rate * 1e9)
	cs[0].remote.h.downFree = s.now + s.lat + buf + 3e6
	cs[1].remote.h.downFree = s.now + s.lat + buf + 1e6
	s.startUpload(up)
	if up.busy {
		t.Fatal("link sends although every receiver is backlogged")
	}
	if len(s.events) != 1 || s.events[0].kind != evUpWake || s.events[0].at != s.now+1e6 {
		t.Fatalf("events %+v, want one wake-up when the second receiver has drained (at %d)", s.events, s.now+1e6)
	}
	s.now += 1e6
	s.handle(s.events.pop())
	if !up.busy || up.cur != cs[1] {
		t.Fatalf("after the wake-up: busy %v on %p, want the drained connection %p", up.busy, up.cur, cs[1])
	}
}

// TestControlQueued: with Config.ControlQueued a control message to a host
// whose download link still holds blocks arrives when they have, behind
// them, and one to an idle host after the latency alone, ahead of it; off,
// both take the latency alone, in the order sent.
func TestControlQueued(t *testing.T) {
	for _, on := range []bool{false, true} {
		s, _, cs := linkFixture(2, 1e9)
		s.cfg.ControlQueued = on
		for _, c := range cs {
			c.q.reset()
		}
		busyUntil := s.now + 5*int64(time.Millisecond) // blocks on their way to receiver 1
		cs[0].remote.h.downFree = busyUntil
		s.send(cs[0], ctrlMsg{typ: wire.Have, index: 7})
		s.send(cs[1], ctrlMsg{typ: wire.Have, index: 8})
		first, second := s.ctrls.pop(), s.ctrls.pop()
		if on {
			if first.to != cs[1].remote || first.at != s.now+s.lat || second.to != cs[0].remote || second.at != busyUntil {
				t.Fatalf("on: delivered to %p at %d, then %p at %d; want %p at %d (idle), then %p at %d (behind its blocks)",
					first.to, first.at, second.to, second.at, cs[1].remote, s.now+s.lat, cs[0].remote, busyUntil)
			}
			continue
		}
		if first.to != cs[0].remote || first.at != s.now+s.lat || second.to != cs[1].remote || second.at != s.now+s.lat {
			t.Fatalf("off: delivered to %p at %d, then %p at %d; want both after the latency (%d), in the order sent",
				first.to, first.at, second.to, second.at, s.now+s.lat)
		}
	}
}

// TestPushCtrlByTime: deliveries leave the queue in time order, those due
// at the same instant in the order queued.
func TestPushCtrlByTime(t *testing.T) {
	var q fifo[ctrl]
	for i, at := range []int64{5, 3, 5, 1, 9, 3} {
		pushCtrlByTime(&q, ctrl{at: at, msg: ctrlMsg{index: uint32(i)}})
	}
	var got [][2]int64
	for q.len() > 0 {
		d := q.pop()
		got = append(got, [2]int64{d.at, int64(d.msg.index)})
	}
	want := [][2]int64{{1, 3}, {3, 1}, {3, 5}, {5, 0}, {5, 2}, {9, 4}}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
