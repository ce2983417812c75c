package client

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// loop is the only goroutine that touches the torrent's two machines, the
// scheduling core and the peer manager. Each turn:
//  1. it takes one event: a message, a dial or announce result, a verified
//     piece, a tick (every second, and when the peer manager's Wake is due);
//  2. it steps the machine the event concerns;
//  3. it takes each machine's batch of actions (Ready) and performs it:
//     queues sends, starts dials, announces and hashes, copies a block from
//     the buffer its WriteBlock hands back, closes connections; what an
//     action produces at once (a block written, a connection admitted, a
//     ban) is kept as a later event;
//  4. it acknowledges each batch (Advance);
//  5. it steps the later events, and repeats 3-5 until neither machine has
//     work; then it waits for the next event.
func (t *Torrent) loop() {
	defer t.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	defer t.wakes.lazy.timer.Stop()
	defer t.wakes.haves.timer.Stop()
	t.settle(time.Now())
	for {
		t.armWake(wake)
		select {
		case <-t.ctx.Done():
			t.shutdown()
			return
		case now := <-tick.C:
			t.core.Tick(now)
			t.facts = t.core.AppendPeerFacts(t.facts[:0])
			t.mgr.Facts(now, t.facts)
			t.mgr.Tick(now)
			t.recheckTick(now)
			t.settle(now)
			t.updateStats()
		case now := <-wake.C:
			t.mgr.Tick(now)
			t.settle(now)
		case <-t.wakes.lazy.timer.C:
			t.flushDeferred()
		case <-t.wakes.haves.timer.C:
			t.flushHaves()
		case ev := <-t.events:
			now := time.Now()
			ev.apply(t, now)
			t.settle(now)
		}
	}
}

// armWake resets the timer to the peer manager's next tracker or DHT
// deadline.
func (t *Torrent) armWake(wake *time.Timer) {
	w := t.mgr.Wake()
	if w.IsZero() {
		wake.Reset(time.Hour)
		return
	}
	wake.Reset(max(time.Until(w), time.Millisecond))
}

// settle performs both machines' batches and steps their later events
// until neither has anything left to do.
func (t *Torrent) settle(now time.Time) {
	for {
		worked := false
		if acts := t.mgr.Ready(); acts != nil {
			for _, a := range acts {
				t.doPeers(now, a)
			}
			t.mgr.Advance()
			worked = true
		}
		if t.runCore(now) {
			worked = true
		}
		for i := 0; i < len(t.later); i++ { // apply may append
			t.later[i].apply(t, now)
			worked = true
		}
		clear(t.later)
		t.later = t.later[:0]
		if !worked {
			return
		}
	}
}

// shutdown closes every connection, tells the trackers "stopped" and
// releases what queued events hold.
func (t *Torrent) shutdown() {
	for _, pc := range t.conns {
		pc.close("torrent stopped")
	}
	for id, h := range t.pending {
		h.nc.Close()
		delete(t.pending, id)
	}
	t.mgr.Stop(time.Now())
	for _, a := range t.mgr.Ready() {
		if a.Kind == peers.Announce {
			t.announceStopped(a)
		}
	}
	if t.mgr.HasReady() {
		t.mgr.Advance()
	}
	t.drain()
}

// drain releases what events still queued after the loop stopped hold:
// connections nobody will adopt and pooled buffers.
func (t *Torrent) drain() {
	for {
		select {
		case ev := <-t.events:
			ev.release()
		default:
			return
		}
	}
}

// onMessage feeds a wire message to the core, except the extension and
// PORT messages the runtime and the peer manager handle.
func (t *Torrent) onMessage(now time.Time, pc *peerConn, m wire.Message) {
	if t.conns[pc.id] != pc {
		return
	}
	switch m.Type {
	case wire.Reject:
		pc.answered()
	case wire.Choke:
		pc.asked = 0 // a peer without the fast extension drops our requests
	case wire.Extended:
		if !t.onExtended(now, pc, m) {
			return
		}
	case wire.Port:
		t.onPort(pc, m.Port)
		return
	}
	t.core.Receive(now, pc.id, m)
}

// runCore performs the core's pending batch, if any, and acknowledges it.
func (t *Torrent) runCore(now time.Time) bool {
	acts := t.core.Ready()
	if acts == nil {
		return false
	}
	for _, a := range acts {
		t.do(now, a)
	}
	t.core.Advance()
	return true
}

// onBlock hands a received block to the core with its buffer as the
// payload, and performs the core's answer at once: a WriteBlock takes the
// buffer over (do returns it to the pool once copied); an unwanted block's
// buffer goes back here.
func (t *Torrent) onBlock(now time.Time, e blockEvent) {
	if t.conns[e.conn.id] != e.conn {
		blockPool.Put(e.buf)
		return
	}
	e.conn.answered()
	t.core.ReceiveBlock(now, e.conn.id, e.spec, e.buf)
	taken := false
	if acts := t.core.Ready(); acts != nil {
		for _, a := range acts {
			if a.Kind == swarm.WriteBlock && a.Data == swarm.Payload(e.buf) {
				taken = true
			}
			t.do(now, a)
		}
		t.core.Advance()
	}
	if !taken {
		blockPool.Put(e.buf)
	}
}

// onVerified reports a hash result to the core.
func (t *Torrent) onVerified(now time.Time, piece int, ok bool, digests []swarm.BlockDigest) {
	t.mu.Lock()
	if ok {
		t.stats.Verified++
		t.verified[piece] = true
		if t.stats.FirstPieceAfter == 0 {
			t.stats.FirstPieceAfter = max(now.Sub(t.added), time.Nanosecond)
		}
	} else {
		t.stats.HashFails++
	}
	t.mu.Unlock()
	if !ok {
		t.log.Warn("piece failed its hash", "piece", piece)
	}
	t.core.PieceVerifiedBlocks(now, piece, ok, digests)
}

// do performs one action of the core.
func (t *Torrent) do(now time.Time, a swarm.Action) {
	pc := t.conns[a.Conn]
	switch a.Kind {
	case swarm.Send:
		if pc != nil {
			pc.enqueue(outItem{msg: a.Msg})
		}
	case swarm.SendBlock:
		if pc != nil {
			pc.enqueue(outItem{block: a.Block, isBlock: true})
		}
	case swarm.DropBlock:
		if pc != nil {
			pc.drop(a.Block)
		}
	case swarm.WriteBlock:
		buf, ok := a.Data.(*[]byte)
		if !ok {
			// The core hands back exactly what ReceiveBlock got: a bug.
			t.fail(fmt.Errorf("write piece %d: %w", a.Block.Piece, errNoBuffer))
			t.later = append(t.later, blockWrittenEvent{spec: a.Block, err: errNoBuffer})
			return
		}
		t.write(a.Block, buf)
		blockPool.Put(buf)
	case swarm.VerifyPiece:
		t.verifyAsync(a.Piece, a.Digests)
	case swarm.Disconnect:
		if pc != nil {
			t.log.Debug("disconnect", "peer", pc, "reason", a.Reason)
			pc.close(a.Reason)
		}
	case swarm.Ban:
		switch {
		case pc == nil:
		case a.Until.IsZero():
			t.log.Warn("banned peer", "peer", pc, "reason", a.Reason)
		default:
			t.log.Warn("banned peer for a while: it was the only source of the piece", "peer", pc, "reason", a.Reason, "until", a.Until.Format(time.TimeOnly))
		}
		t.mu.Lock()
		t.stats.Banned++
		t.mu.Unlock()
		t.later = append(t.later, coreBanEvent{conn: a.Conn, reason: a.Reason, until: a.Until})
	case swarm.Completed:
		t.updateStats()
		if err := t.st.Sync(); err != nil {
			t.fail(fmt.Errorf("sync: %w", err))
			return
		}
		t.markDone(nil)
		t.later = append(t.later, completedEvent{})
	}
}

// errNoBuffer reports a WriteBlock whose payload is not a block buffer.
var errNoBuffer = errors.New("no block buffer for write")

// write hands a received block to the assembler (or the disk, when its
// piece is not assembled in memory) and keeps the result as a later
// BlockWritten.
func (t *Torrent) write(b swarm.BlockSpec, buf *[]byte) {
	err := t.writeBlock(b, buf)
	if err != nil {
		t.fail(fmt.Errorf("write piece %d: %w", b.Piece, err))
	}
	t.later = append(t.later, t.asm.written(b, err)) // a recycled writtenEvent (assembler.written)
}

// verifyAsync queues a piece for hashing and reports the result as a
// verifiedEvent. The loop only.
func (t *Torrent) verifyAsync(piece int, wantDigests bool) {
	buf := t.asm.take(piece)
	if t.ctx.Err() != nil {
		if buf != nil {
			t.asm.put(buf)
		}
		return
	}
	if t.hashq.push(hashJob{piece: piece, buf: buf, digests: wantDigests}) {
		t.wg.Add(1)
		go t.hashWorker()
	}
}

// hashWorker hashes (and writes) queued pieces until the torrent stops.
// Workers live as long as the torrent: a goroutine per piece used to cost
// a start and, as SHA-1 and the write deepen its stack, two stack copies
// per piece (1.6% of the hosts' CPU in shoal bench --peers 30 --link 1GB;
// docs/BENCHMARKS.md, session 10).
func (t *Torrent) hashWorker() {
	defer t.wg.Done()
	for {
		j, ok := t.hashq.pop(t.ctx.Done())
		if !ok {
			for _, j := range t.hashq.drain() {
				if j.buf != nil {
					t.asm.put(j.buf)
				}
			}
			return
		}
		t.hash(j)
	}
}

// hash verifies one queued piece on the hashing pool (t.verifying, shared
// with re-verification) and posts the result.
func (t *Torrent) hash(j hashJob) {
	if j.buf != nil {
		defer t.asm.put(j.buf)
	}
	select {
	case t.verifying <- struct{}{}:
	case <-t.ctx.Done():
		return
	}
	ok, digests, err := t.verify(j.piece, j.buf, j.digests)
	<-t.verifying
	if err != nil {
		t.fail(fmt.Errorf("verify piece %d: %w", j.piece, err))
		return
	}
	t.post(newVerifiedEvent(j.piece, ok, digests))
}

// hashJob is a complete piece waiting for its hash: its blocks in memory
// (buf), or nil when it was written through to disk.
type hashJob struct {
	piece   int
	buf     *assembly
	digests bool
}

// hashQueue is a torrent's queue of pieces to hash and its workers, at most
// max of them, started as the queue needs them and kept until the torrent
// stops. Its length is bounded by the torrent's pieces (the core verifies a
// piece once at a time).
type hashQueue struct {
	max  int
	wake chan struct{} // a token per wake-up of an idle worker; capacity max

	mu      sync.Mutex
	jobs    []hashJob
	head    int
	workers int
	idle    int
}

func newHashQueue(workers int) *hashQueue {
	return &hashQueue{max: workers, wake: make(chan struct{}, workers)}
}

// push queues j and reports whether a worker is to be started for it.
func (q *hashQueue) push(j hashJob) (start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) == cap(q.jobs) && q.head > 0 {
		// Reuse the popped front instead of growing: a queue that never
		// empties (the hashing behind the readers) grew its array, a copy
		// and an allocation, however few jobs it held.
		n := copy(q.jobs, q.jobs[q.head:])
		clear(q.jobs[n:])
		q.jobs, q.head = q.jobs[:n], 0
	}
	q.jobs = append(q.jobs, j)
	switch {
	case q.idle > 0:
		select {
		case q.wake <- struct{}{}:
		default: // every idle worker has a wake-up waiting already
		}
	case q.workers < q.max:
		q.workers++
		return true
	}
	return false
}

// pop returns the next job, waiting for one; false once done is closed.
func (q *hashQueue) pop(done <-chan struct{}) (hashJob, bool) {
	for {
		q.mu.Lock()
		if q.head < len(q.jobs) {
			j := q.jobs[q.head]
			q.jobs[q.head] = hashJob{}
			q.head++
			if q.head == len(q.jobs) {
				q.jobs, q.head = q.jobs[:0], 0
			}
			q.mu.Unlock()
			return j, true
		}
		q.idle++
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-done:
			q.mu.Lock()
			q.idle--
			q.mu.Unlock()
			return hashJob{}, false
		}
		q.mu.Lock()
		q.idle--
		q.mu.Unlock()
	}
}

// drain empties the queue and returns what it held.
func (q *hashQueue) drain() []hashJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	left := append([]hashJob(nil), q.jobs[q.head:]...)
	clear(q.jobs)
	q.jobs, q.head = q.jobs[:0], 0
	return left
}
