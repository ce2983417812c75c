package sim

import (
	"slices"

	"github.com/shoal-p2p/shoal/swarm"
)

// fifo is a first-in first-out queue on a slice that reuses its space.
type fifo[T any] struct {
	buf  []T
	head int
}

func (q *fifo[T]) len() int { return len(q.buf) - q.head }

func (q *fifo[T]) push(v T) { q.buf = append(q.buf, v) }

// front returns a pointer to the oldest element; the queue must not be empty.
func (q *fifo[T]) front() *T { return &q.buf[q.head] }

// pop removes and returns the oldest element; the queue must not be empty.
func (q *fifo[T]) pop() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head >= 16 && q.head*2 >= len(q.buf) {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return v
}

// pushCtrlByTime queues d behind every delivery due at or before d.at and
// ahead of those due later, so that the loop, which delivers from the
// front, keeps time order when deliveries do not all take the same delay
// (Config.ControlQueued). Most go at or near the back.
func pushCtrlByTime(q *fifo[ctrl], d ctrl) {
	k := len(q.buf)
	for k > q.head && q.buf[k-1].at > d.at {
		k--
	}
	q.buf = slices.Insert(q.buf, k, d)
}

// reset empties the queue and drops its storage.
func (q *fifo[T]) reset() { q.buf, q.head = nil, 0 }

// eventKind says what a timed event does.
type eventKind uint8

const (
	evTick      eventKind = iota // a host's once-a-second Tick
	evUpDone                     // a host's upload link finished a block
	evArrive                     // a block finished arriving at a host
	evAnnounce                   // an announce reaches the tracker
	evPeers                      // a tracker response reaches a host
	evHandshake                  // a dialer's handshake reaches the acceptor
	evJoin                       // a host starts (announces for the first time)
	evFin                        // a close reaches the other end after its last block
	evWake                       // a host's peer manager has a timer due before its next tick
	evSample                     // the trace samples queue depths (a timeline bin starts)
	evUpWake                     // a backlogged receiver drained: the upload link may go on
)

// event is one entry of the timed event queue. Times are nanoseconds of
// simulated time since the start.
type event struct {
	at   int64
	seq  uint64
	h    *host
	c    *conn
	spec swarm.BlockSpec
	kind eventKind // after spec, in its padding: 48 bytes, not 56
}

// eventHeap is a min-heap of events ordered by (at, seq), so that events
// at the same instant run in the order they were scheduled. The keys are
// unique (seq is), so the order events leave in is the same for any
// correct heap; this one is 4-ary (half the levels of a binary heap, and a
// node's four children share a cache line or two) and moves a hole
// instead of swapping, which matters when a 10,000-host run keeps tens of
// thousands of events queued and pops one per simulated block.
type eventHeap []event

// before reports whether a orders before b.
func before(a, b *event) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !before(&e, &s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = e
}

func (h *eventHeap) pop() event {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	s[n] = event{}
	s = s[:n]
	*h = s
	if n == 0 {
		return top
	}
	i := 0
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		end := min(c+4, n)
		for k := c + 1; k < end; k++ {
			if before(&s[k], &s[m]) {
				m = k
			}
		}
		if !before(&s[m], &last) {
			break
		}
		s[i] = s[m]
		i = m
	}
	s[i] = last
	return top
}
