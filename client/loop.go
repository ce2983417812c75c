package client

import (
	"fmt"
	"time"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// loop is the only goroutine that touches the core.
func (t *Torrent) loop() {
	defer t.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			for _, pc := range t.conns {
				pc.close("torrent stopped")
			}
			t.drain()
			return
		case now := <-tick.C:
			t.core.Tick(now)
			t.apply(nil)
			t.dialMore(now)
			t.sendPEX(now)
			t.recheckTick(now)
			t.updateStats()
		case ev := <-t.events:
			t.handle(ev)
			t.apply(ev.buf)
			if ev.buf != nil {
				blockPool.Put(ev.buf)
			}
		}
	}
}

// drain releases what events still queued after the loop stopped hold:
// connections nobody will adopt and pooled buffers.
func (t *Torrent) drain() {
	for {
		select {
		case ev := <-t.events:
			if ev.nc != nil {
				ev.nc.Close()
			}
			if ev.buf != nil {
				blockPool.Put(ev.buf)
			}
		default:
			return
		}
	}
}

// handle feeds one event to the core or the connection bookkeeping.
func (t *Torrent) handle(ev event) {
	now := time.Now()
	switch ev.kind {
	case evMessage:
		if _, ok := t.conns[ev.conn.id]; ok {
			switch ev.msg.Type {
			case wire.Extended:
				if !t.onExtended(now, ev.conn, ev.msg) {
					return
				}
			case wire.Port:
				t.onPort(ev.conn, ev.msg.Port)
				return
			}
			t.core.Receive(now, ev.conn.id, ev.msg)
		}
	case evBlockSent:
		if _, ok := t.conns[ev.conn.id]; ok {
			t.core.BlockSent(now, ev.conn.id, ev.spec)
			t.noteSent(now, ev.conn.id, ev.spec.Piece)
		}
	case evVerified:
		t.mu.Lock()
		if ev.ok {
			t.stats.Verified++
		} else {
			t.stats.HashFails++
		}
		t.mu.Unlock()
		if !ev.ok {
			t.log.Warn("piece failed its hash", "piece", ev.piece)
		}
		t.core.PieceVerified(now, ev.piece, ev.ok)
	case evConnected:
		t.connected(now, ev)
	case evDialFailed:
		t.halfOpen--
		if cd := t.cands[ev.addr]; cd != nil {
			cd.connected = false
			cd.failures++
			cd.nextTry = now.Add(redialDelay(cd.failures))
		}
	case evClosed:
		pc := ev.conn
		if _, ok := t.conns[pc.id]; !ok {
			return
		}
		delete(t.conns, pc.id)
		if t.byPeerID[pc.peerID] == pc {
			delete(t.byPeerID, pc.peerID)
		}
		if cd := t.cands[pc.dialAddr]; cd != nil {
			// It may come back (a restart) or be gone for good; dialling
			// again costs little, and failures back off from there.
			cd.connected = false
			cd.nextTry = now.Add(redialDelay(1))
		}
		t.log.Debug("peer gone", "peer", pc, "reason", pc.closeReason())
		t.core.RemovePeer(now, pc.id)
		t.peerGone(now, pc)
	case evPeers:
		t.addCandidates(now, ev.addrs)
	case evRechecked:
		t.onRechecked(now, ev)
	}
}

// apply carries out the core's actions. blockBuf holds the payload of the
// Piece message just received, for a WriteBlock action.
// It reuses one action buffer; do never calls apply, so it is not reentered.
func (t *Torrent) apply(blockBuf *[]byte) {
	for {
		t.acts = t.core.AppendActions(t.acts[:0])
		if len(t.acts) == 0 {
			return
		}
		for _, a := range t.acts {
			t.do(a, blockBuf)
		}
	}
}

func (t *Torrent) do(a swarm.Action, blockBuf *[]byte) {
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
		err := t.writeBlock(a.Block, blockBuf)
		if err != nil {
			t.fail(fmt.Errorf("write piece %d: %w", a.Block.Piece, err))
		}
		t.core.BlockWritten(time.Now(), a.Block, err)
	case swarm.VerifyPiece:
		piece := a.Piece
		buf := t.asm.take(piece)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			if buf != nil {
				defer t.asm.put(buf)
			}
			select {
			case t.verifying <- struct{}{}:
			case <-t.ctx.Done():
				return
			}
			ok, err := t.verify(piece, buf)
			<-t.verifying
			if err != nil {
				t.fail(fmt.Errorf("verify piece %d: %w", piece, err))
				return
			}
			t.post(event{kind: evVerified, piece: piece, ok: ok})
		}()
	case swarm.Disconnect:
		if pc != nil {
			t.log.Debug("disconnect", "peer", pc, "reason", a.Reason)
			pc.close(a.Reason)
		}
	case swarm.Ban:
		if pc != nil {
			if a.Until.IsZero() {
				t.log.Warn("banned peer", "peer", pc, "reason", a.Reason)
			} else {
				t.log.Warn("banned peer for a while: it was the only source of the piece", "peer", pc, "reason", a.Reason, "until", a.Until.Format(time.TimeOnly))
			}
			t.c.ban(pc, a.Reason, a.Until)
			t.mu.Lock()
			t.stats.Banned++
			t.mu.Unlock()
			pc.close("banned: " + a.Reason)
		}
	case swarm.Completed:
		t.updateStats()
		if err := t.st.Sync(); err != nil {
			t.fail(fmt.Errorf("sync: %w", err))
			return
		}
		t.markDone(nil)
		t.completedOnce.Do(func() { close(t.completed) })
	}
}

// redialDelay is how long to wait before dialling an address again after
// its n-th consecutive failure: 1 s, doubling up to a minute, so a peer
// that was briefly busy is back at once and a dead one costs little.
func redialDelay(n int) time.Duration {
	return min(time.Second<<min(n-1, 6), time.Minute)
}
