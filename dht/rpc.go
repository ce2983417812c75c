package dht

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// readLoop reads packets until the transport is closed.
func (n *Node) readLoop() {
	defer n.wg.Done()
	buf := make([]byte, MaxPacketSize+1)
	for {
		k, from, err := n.tr.ReadFrom(buf)
		if err != nil {
			select {
			case <-n.done:
				return
			default:
			}
			n.log.Debug("dht read", "err", err)
			continue
		}
		n.handlePacket(buf[:k], from)
	}
}

// handlePacket dispatches one datagram. It never panics on its input.
func (n *Node) handlePacket(b []byte, from netip.AddrPort) {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	m, err := ParseMessage(b)
	n.mu.Lock()
	n.stats.PacketsIn++
	if err != nil {
		n.stats.Malformed++
		n.mu.Unlock()
		n.log.Debug("dht malformed packet", "from", from, "err", err)
		return
	}
	switch m.Y {
	case TypeQuery:
		reply, ok := n.handleQueryLocked(m, from)
		n.mu.Unlock()
		if ok {
			if err := n.send(reply, from); err != nil {
				n.log.Debug("dht reply", "err", err)
			}
		}
	default:
		n.handleReplyLocked(m, from)
		n.mu.Unlock()
	}
}

func (n *Node) handleQueryLocked(m Msg, from netip.AddrPort) (Msg, bool) {
	now := n.clock.Now()
	if !n.limiter.Allow(from.Addr(), now) {
		n.stats.RateLimited++
		return Msg{}, false
	}
	n.stats.QueriesIn++
	reply := n.srv.respond(from, m, now)
	switch {
	case m.Q == MethodAnnouncePeer && reply.Y == TypeResponse:
		n.stats.Announces++
	case m.Q == MethodAnnouncePeer && reply.E.Code == ErrCodeProtocol:
		n.stats.BadTokens++
	}
	if m.RO {
		n.stats.ReadOnlySeen++ // BEP 43: answer, but never route through it
	} else if m.A.ID != n.id {
		n.insertLocked(NodeInfo{ID: m.A.ID, Addr: from}, false)
	}
	return reply, true
}

func (n *Node) handleReplyLocked(m Msg, from netip.AddrPort) {
	p, ok := n.pending[m.T]
	if !ok || p.to != from {
		n.stats.Unexpected++
		return
	}
	delete(n.pending, m.T)
	if m.Y == TypeResponse && m.R.ID != n.id {
		n.insertLocked(NodeInfo{ID: m.R.ID, Addr: from}, true)
	}
	p.reply <- m // buffered for one; the entry is gone so it is sent once
}

// query sends q to node and waits for its reply, the query timeout, ctx,
// or Close. A KRPC error reply is returned as an Error.
func (n *Node) query(ctx context.Context, to NodeInfo, q Msg) (Msg, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return Msg{}, ErrClosed
	}
	if len(n.pending) >= n.cfg.MaxPending {
		n.stats.PendingFull++
		n.mu.Unlock()
		return Msg{}, ErrTooManyPending
	}
	tx := n.newTxLocked()
	p := &pendingQuery{to: to.Addr, reply: make(chan Msg, 1)}
	n.pending[tx] = p
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		if n.pending[tx] == p {
			delete(n.pending, tx)
		}
		n.mu.Unlock()
	}()

	q.T, q.Y, q.A.ID = tx, TypeQuery, n.id
	if err := n.send(q, to.Addr); err != nil {
		return Msg{}, err
	}
	timeout := make(chan struct{})
	stop := n.clock.AfterFunc(n.cfg.QueryTimeout, func() { close(timeout) })
	defer stop()
	select {
	case m := <-p.reply:
		if m.Y == TypeError {
			return m, fmt.Errorf("%s to %s: %w", q.Q, to.Addr, m.E)
		}
		return m, nil
	case <-timeout:
		n.mu.Lock()
		n.stats.Timeouts++
		if !to.ID.IsZero() {
			n.table.Failed(to.ID, n.clock.Now())
		}
		n.mu.Unlock()
		return Msg{}, fmt.Errorf("%s to %s: %w", q.Q, to.Addr, ErrTimeout)
	case <-ctx.Done():
		return Msg{}, ctx.Err()
	case <-n.done:
		return Msg{}, ErrClosed
	}
}

// newTxLocked returns a 2-byte transaction ID not currently outstanding.
func (n *Node) newTxLocked() string {
	for {
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], uint16(n.rnd.Uint32()))
		if _, used := n.pending[string(b[:])]; !used {
			return string(b[:])
		}
	}
}
