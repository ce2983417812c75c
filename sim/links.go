package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// peerInfo is what every simulated handshake says: like the runtime, every
// host speaks the fast extension (BEP 6) and the extension protocol (BEP 10).
var peerInfo = swarm.PeerInfo{Fast: true, Extended: true}

const extendedType = wire.Extended

func swarmID(n int) swarm.ConnID { return swarm.ConnID(n) }

// sendCtrl puts a control delivery on the wire: it arrives after the
// latency, and with Config.ControlQueued not before the receiver's
// download link has delivered what it holds (downFree).
func (s *simulation) sendCtrl(d ctrl) {
	d.at = s.now + s.lat
	if !s.cfg.ControlQueued {
		s.ctrls.push(d)
		return
	}
	if d.to != nil {
		d.at = max(d.at, d.to.h.downFree)
	}
	pushCtrlByTime(&s.ctrls, d)
}

// send sends a wire message on c: at once if nothing is queued ahead of it
// on the connection, else behind the queued blocks.
func (s *simulation) send(c *conn, m ctrlMsg) {
	if c.q.len() == 0 && !(c.h.busy && c.h.cur == c) {
		s.sendCtrl(ctrl{kind: ctrlMessage, to: c.remote, msg: m})
		return
	}
	c.q.push(outItem{msg: m})
}

// enqueueBlock queues a block for upload on c.
func (s *simulation) enqueueBlock(c *conn, spec swarm.BlockSpec) {
	c.q.push(outItem{block: true, spec: spec})
	if !c.inRR {
		c.inRR = true
		c.h.rr.push(c)
	}
	if !c.h.busy {
		s.startUpload(c.h)
	}
}

// flushCtrl sends the control messages at the head of c's queue, which no
// longer wait behind a block.
func (s *simulation) flushCtrl(c *conn) {
	for c.q.len() > 0 && !c.q.front().block {
		it := c.q.pop()
		s.sendCtrl(ctrl{kind: ctrlMessage, to: c.remote, msg: it.msg})
	}
}

// startUpload starts sending the next block, taking connections with
// queued blocks in turn. A connection whose receiver's download link is
// backlogged by more than the buffer is passed over, as TCP's congestion
// control would slow that flow and leave the link to the others; when
// every connection is, the link waits for the first to drain.
func (s *simulation) startUpload(h *host) {
	wake := int64(math.MaxInt64)
	for n := h.rr.len(); n > 0; n-- {
		c := h.rr.pop()
		c.inRR = false
		if c.state != open {
			continue
		}
		s.flushCtrl(c)
		if c.q.len() == 0 {
			continue
		}
		if ready := s.drainedAt(c); ready > s.now {
			wake = min(wake, ready)
			c.inRR = true
			h.rr.push(c)
			continue
		}
		it := c.q.pop()
		h.busy, h.cur, h.curSpec = true, c, it.spec
		if c.q.len() > 0 {
			c.inRR = true
			h.rr.push(c)
		}
		dur := int64(float64(it.spec.Length) / h.up)
		s.trace.upload(h, s.now, s.now+dur)
		s.schedule(event{at: s.now + dur, kind: evUpDone, h: h})
		return
	}
	h.busy, h.cur = false, nil
	if wake != math.MaxInt64 && (h.upWakeAt <= s.now || wake < h.upWakeAt) {
		h.upWakeAt = wake
		s.schedule(event{at: wake, kind: evUpWake, h: h})
	}
}

// DownBuffer is how many bytes may wait for a host's download link (beyond
// those in flight) before the hosts sending to it hold back: what a switch
// port buffers and TCP keeps queued there before congestion control slows
// the flows into it. At data-centre rates it is a fraction of a
// millisecond; at the bench's few MB/s it is hundreds, so those runs see
// no backpressure.
const DownBuffer = 1 << 20

// drainedAt returns when c's receiver will have drained its download link
// enough for c to send another block: its backlog beyond the latency
// within DownBuffer.
func (s *simulation) drainedAt(c *conn) int64 {
	r := c.remote
	if r == nil {
		return 0
	}
	return r.h.downFree - s.lat - int64(DownBuffer/float64(s.lay.scale)/r.h.down)
}

// upDone finishes the block on h's upload link: the core learns it was
// sent, and it travels to the receiver's download link.
func (s *simulation) upDone(h *host) {
	c, spec := h.cur, h.curSpec
	h.busy, h.cur = false, nil
	if c.state == open && !h.gone {
		if h.origin {
			s.originSentBlock(spec)
		}
		r := c.remote
		if r.state == open {
			size := float64(spec.Length)
			// The last byte leaves now; the receiver's link takes at least
			// size/down for the block, and serves blocks one after another
			// (racks.go: through the racks' uplinks if any).
			at := s.blockArrival(h, r.h, int(spec.Piece), size)
			r.h.downFree, r.lastArrive = at, at
			s.trace.arrival(r.h, at-int64(size/r.h.down), at)
			s.schedule(event{at: at, kind: evArrive, c: r, spec: spec})
		}
		h.core.BlockSent(timeOf(s.now), c.id, spec)
		s.process(h)
		s.flushCtrl(c)
	}
	if !h.busy {
		s.startUpload(h)
	}
	if h.leaving {
		s.depart(h)
	}
}

// originSentBlock notices when every piece left the origin once (for
// Config.OriginLeaves); the origin's egress is its core's upload count.
func (s *simulation) originSentBlock(spec swarm.BlockSpec) {
	plen := s.lay.modelPieceLen(int(spec.Piece))
	before := s.originSent[spec.Piece]
	s.originSent[spec.Piece] += int64(spec.Length)
	if before < plen && s.originSent[spec.Piece] >= plen {
		s.originOut++
		s.trace.pieceLeft(s, int(spec.Piece), s.originOut == s.lay.numPieces)
		s.maybeOriginLeaves()
	}
}

// originLeaveCopies is how many receivers still present must hold every
// piece before an origin with Config.OriginLeaves leaves.
const originLeaveCopies = 2

// maybeOriginLeaves makes the origin leave (Config.OriginLeaves) once every
// piece has left it and every piece is held by at least originLeaveCopies
// receivers that are still present: with receivers leaving (Config.Churn),
// a piece whose only copy went to a host that left, or that was still on
// the wire, would otherwise be lost to everyone. A real origin can count
// the same from its peers' Haves.
func (s *simulation) maybeOriginLeaves() {
	if s.cfg.OriginLeaves && s.originOut == s.lay.numPieces && s.fragile == 0 && !s.hosts[0].leaving {
		s.hosts[0].leaving = true
	}
}

// held notes that receiver h verified piece (d = 1) or left holding it
// (d = -1), for maybeOriginLeaves.
func (s *simulation) held(h *host, piece int, d int32) {
	if h.origin {
		return
	}
	before := s.holders[piece]
	s.holders[piece] += d
	switch {
	case before < originLeaveCopies && s.holders[piece] >= originLeaveCopies:
		s.fragile--
	case before >= originLeaveCopies && s.holders[piece] < originLeaveCopies:
		s.fragile++
	}
}

// process performs the pending actions of h's two machines until neither
// has any, as the client's loop does: it performs each batch, then steps
// the machines with what the batch produced. Writes and hashes are
// instant: BlockWritten and PieceVerified are reported at once.
func (s *simulation) process(h *host) {
	if h.busyP {
		return // the outer call picks up whatever this one would do
	}
	h.busyP = true
	defer func() { h.busyP = false }()
	now := timeOf(s.now)
	for {
		worked := false
		if h.mgr != nil && h.mgrStepped {
			h.mgrStepped = false
			if macts := h.mgr.Ready(); macts != nil {
				for i := range macts {
					s.doPeers(h, macts[i])
				}
				h.mgr.Advance()
				worked = true
			}
		} else if checkMgrSkips && h.mgr != nil && h.mgr.HasReady() {
			panic(fmt.Sprintf("sim: host %d's peer manager has actions but was not marked stepped", h.idx))
		}
		if s.runCore(h, now) {
			worked = true
		}
		for i := 0; i < len(h.later); i++ { // doLater may append
			s.doLater(h, now, h.later[i])
			worked = true
		}
		clear(h.later)
		h.later = h.later[:0]
		if !worked {
			break
		}
	}
	if h.churnAt > 0 && !h.leaving && h.core.NumHave() >= h.churnAt {
		h.leaving = true
		s.depart(h)
	}
	s.armWake(h)
}

// runCore performs h's core's pending batch, if any, and acknowledges it.
func (s *simulation) runCore(h *host, now time.Time) bool {
	acts := h.core.Ready()
	if acts == nil {
		return false
	}
	for i := range acts {
		s.doCore(h, now, &acts[i])
	}
	h.core.Advance()
	return true
}

// doCore performs one action of h's core. It steps no machine: results go
// to h.later.
func (s *simulation) doCore(h *host, now time.Time, a *swarm.Action) {
	switch a.Kind {
	case swarm.Send:
		if c := h.lookup(a.Conn); c != nil {
			s.send(c, compact(a.Msg))
		}
	case swarm.SendBlock:
		if c := h.lookup(a.Conn); c != nil {
			s.enqueueBlock(c, a.Block)
		}
	case swarm.DropBlock:
		if c := h.lookup(a.Conn); c != nil {
			dropQueued(c, a.Block)
		}
	case swarm.WriteBlock:
		s.trace.wrote(h, s.now, int64(a.Block.Length))
		h.later = append(h.later, later{kind: laterWritten, spec: a.Block})
	case swarm.VerifyPiece:
		s.trace.verified(h, s.now, a.Piece)
		if s.racks != nil && !h.origin {
			s.racks.verified(h.idx, a.Piece, s.now)
		}
		h.later = append(h.later, later{kind: laterVerified, piece: a.Piece})
	case swarm.Disconnect:
		if c := h.lookup(a.Conn); c != nil {
			s.closeConn(c, true)
			h.later = append(h.later, later{kind: laterClosed, c: c})
		}
	case swarm.Ban:
		h.later = append(h.later, later{kind: laterBan, conn: a.Conn, reason: a.Reason, until: a.Until})
	case swarm.Completed:
		if !h.origin && !h.done {
			h.done, h.finishedAt = true, s.now
			s.finished++
			if h.churnAt == 0 {
				s.receiversLeft--
			}
		}
		h.later = append(h.later, later{kind: laterCompleted})
	}
}

// doLater steps a machine with what a batch produced.
func (s *simulation) doLater(h *host, now time.Time, l later) {
	switch l.kind {
	case laterAddPeer:
		if l.c.state == open {
			s.addPeer(l.c)
		}
	case laterRemovePeer:
		h.core.RemovePeer(now, l.c.id)
	case laterClosed:
		if h.mgr != nil {
			h.mgr.Closed(now, l.c.id)
			h.stepped()
		}
	case laterBan:
		if h.mgr != nil {
			h.mgr.Ban(now, l.conn, l.reason, l.until)
			h.stepped()
		}
	case laterCompleted:
		if h.mgr != nil {
			h.mgr.Completed(now)
			h.stepped()
		}
	case laterDialFailed:
		if h.mgr != nil {
			h.mgr.DialFailed(now, l.addr)
			h.stepped()
		}
	case laterWritten:
		h.core.BlockWritten(now, l.spec, nil)
	case laterVerified:
		h.core.PieceVerified(now, l.piece, true)
		s.trackerStale(h) // its bytes left changed
		if !h.gone {
			s.held(h, int(l.piece), 1)
			s.maybeOriginLeaves()
		}
	}
}

// armWake schedules a wake-up of h's peer manager when one of its timers
// (an announce) falls before h's next tick, as the client arms a timer.
func (s *simulation) armWake(h *host) {
	if h.mgr == nil || h.gone {
		return
	}
	if h.wakeStale {
		h.wake, h.wakeStale = h.mgr.Wake(), false
	} else if checkMgrSkips && !h.mgr.Wake().Equal(h.wake) {
		panic(fmt.Sprintf("sim: host %d's peer manager changed its Wake but was not marked stepped", h.idx))
	}
	w := h.wake
	if w.IsZero() {
		return
	}
	at := max(int64(w.Sub(epoch)), s.now)
	if at >= h.nextTick || (h.wakeAt > s.now && h.wakeAt <= at) {
		return
	}
	h.wakeAt = at
	s.schedule(event{at: at, kind: evWake, h: h})
}

// dropQueued removes a block from c's queue if it has not started.
func dropQueued(c *conn, spec swarm.BlockSpec) {
	q := &c.q
	for k := q.head; k < len(q.buf); k++ {
		if it := q.buf[k]; it.block && it.spec == spec {
			copy(q.buf[k:], q.buf[k+1:])
			q.buf[len(q.buf)-1] = outItem{}
			q.buf = q.buf[:len(q.buf)-1]
			return
		}
	}
}

// closeConn closes c on its host; notify sends the other end a FIN. The
// caller tells the machines if they do not know yet.
func (s *simulation) closeConn(c *conn, notify bool) {
	if c.state != open {
		return
	}
	c.state = closed
	c.q.reset()
	if r := c.remote; notify && r != nil {
		if r.lastArrive >= s.now+s.lat {
			s.schedule(event{at: r.lastArrive, kind: evFin, c: r})
		} else {
			s.sendCtrl(ctrl{kind: ctrlFin, to: r})
		}
	}
}

// depart makes h leave for good: every connection closes and the tracker
// forgets it.
func (s *simulation) depart(h *host) {
	if h.gone {
		return
	}
	h.gone = true
	s.registered[h.idx] = false
	if !h.origin {
		for p := range s.holders {
			if h.core.Have(p) {
				s.held(h, p, -1)
			}
		}
	}
	for _, c := range h.conns {
		if c.state == open && !h.origin {
			c.peer.lost++ // churn.go
		}
		s.closeConn(c, true)
	}
	if h.churnAt > 0 {
		s.churned++
		if !h.done {
			s.receiversLeft--
		}
	}
}
