package client

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// maxBatchBlocks is the most block sends the writer takes from its queue
// at once (see limiters.batchBlocks for limited links).
const maxBatchBlocks = 16

// sender is the state of one connection's writer goroutine. Its scratch
// slices are reused from batch to batch, so sending allocates nothing.
//
// Blocks are read into user space and written with writev rather than
// sent with sendfile(2): measured on loopback (BenchmarkTransfer, see
// docs/BENCHMARKS.md), a Piece header then a sendfile per block cost 0.3
// CPU s/GB more than preadv plus one writev per batch, even with the
// batch corked: sendfile saves two 16 KiB copies but sends each block as
// its own TCP segment through the splice machinery.
type sender struct {
	c    *peerConn
	out  *sockWriter // raw writes (sock_linux.go); nil: write to c.nc
	hdrs []byte      // the batch's Piece headers, 13 bytes each
	bufs []*[]byte   // pooled block buffers
	vec  net.Buffers // writev scratch
	back [][]byte    // vec's backing array (WriteTo consumes vec)
	rd   [][]byte    // preadv scratch
	// deadlineSet is when the connection's write deadline was last moved.
	deadlineSet time.Time
}

func newSender(c *peerConn) *sender { return &sender{c: c, out: newSockWriter(c.nc)} }

// writeLoop sends queued messages and blocks until the connection closes.
func (c *peerConn) writeLoop(ctx context.Context) {
	s := newSender(c)
	defer s.release()
	idle := time.NewTimer(keepAliveEvery)
	defer idle.Stop()
	var (
		msgs          []byte
		blocks        []queuedBlock
		keepAlive, ok bool
	)
	keep := []byte{0, 0, 0, 0}
	for {
		msgs, blocks, keepAlive, ok = c.next(idle, blocks[:0], c.t.upLimits.batchBlocks())
		if !ok {
			return
		}
		if keepAlive {
			msgs = keep
		}
		if err := s.send(ctx, msgs, blocks); err != nil {
			c.close(fmt.Sprintf("send: %v", err))
			return
		}
	}
}

// next waits for the next stretch of the queue (see sendQueue.take), with
// at most maxBlocks block sends appended to blocks. It returns ok=false when
// the connection closed, and keepAlive when nothing was queued for a while.
// msgs stays valid until the next call.
func (c *peerConn) next(idle *time.Timer, blocks []queuedBlock, maxBlocks int) (msgs []byte, _ []queuedBlock, keepAlive, ok bool) {
	for {
		c.mu.Lock()
		if c.reason != "" {
			c.mu.Unlock()
			return nil, blocks, false, false
		}
		if !c.q.empty() {
			msgs, blocks = c.q.take(maxBlocks, blocks)
			c.mu.Unlock()
			return msgs, blocks, false, true
		}
		c.q.compact()
		c.mu.Unlock()
		idle.Reset(keepAliveEvery)
		select {
		case <-c.wake:
			idle.Stop()
		case <-c.closed:
			idle.Stop()
			return nil, blocks, false, false
		case <-idle.C:
			return nil, blocks, true, true
		}
	}
}

// send writes msgs, then the batch's entries: blocks as Piece messages,
// paced by the upload limits (one wait for the whole batch), and shared
// message payloads (ut_metadata replies) as they are. The blocks are
// reported sent with one event; each shared entry is reported done,
// written or not.
func (s *sender) send(ctx context.Context, msgs []byte, blocks []queuedBlock) (err error) {
	defer func() {
		for _, b := range blocks {
			b.done() // shared entries: written, or abandoned with the batch
		}
	}()
	c := s.c
	payload, n := 0, 0
	s.hdrs = s.hdrs[:0]
	for _, b := range blocks {
		if b.shared != nil {
			continue
		}
		if b.spec.Length > wire.BlockSize {
			return fmt.Errorf("block %v larger than %d", b.spec, wire.BlockSize)
		}
		payload += int(b.spec.Length)
		n++
		s.hdrs = appendPieceHeader(s.hdrs, b.spec)
	}
	if n > 0 {
		if err := c.t.upLimits.wait(ctx, payload+pieceHeaderLen*n); err != nil {
			return err
		}
	}
	// The write deadline moves at most once a second, not per write.
	if now := time.Now(); now.Sub(s.deadlineSet) >= time.Second {
		s.deadlineSet = now
		c.nc.SetWriteDeadline(now.Add(writeTimeout))
	}
	if len(blocks) == 0 {
		err = s.write(msgs)
	} else {
		err = s.writeBlocks(msgs, blocks)
	}
	if err != nil {
		return err
	}
	if payload == 0 {
		return nil
	}
	c.t.uploaded.Add(int64(payload))
	sent := c.sentFree.take(c.closed) // one event for the batch's blocks
	if sent == nil {
		return nil
	}
	for _, b := range blocks {
		if b.shared == nil {
			sent.sent = append(sent.sent, b.spec)
		}
	}
	c.t.post(sent)
	return nil
}

// appendPieceHeader appends the 13 bytes that precede a block on the wire:
// length prefix, type Piece, index and begin (BEP 3).
func appendPieceHeader(b []byte, spec swarm.BlockSpec) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(9+spec.Length))
	b = append(b, byte(wire.Piece))
	b = binary.BigEndian.AppendUint32(b, spec.Piece)
	return binary.BigEndian.AppendUint32(b, spec.Begin)
}

// writeBlocks reads the blocks from storage into pooled buffers, one
// vectored read (preadv) per run of blocks that follow each other on disk,
// and writes messages, headers, blocks and shared payloads to the socket
// with one writev(2). The buffers go back to the pool after the batch, so
// an idle connection holds none.
func (s *sender) writeBlocks(msgs []byte, blocks []queuedBlock) error {
	defer s.putBufs()
	v := s.back[:0]
	if len(msgs) > 0 {
		v = append(v, msgs)
	}
	rd := s.rd[:0]
	var start, end int64 // the run of adjacent blocks in rd
	read := func() error {
		if len(rd) == 0 {
			return nil
		}
		if err := s.c.t.st.ReadvAt(rd, start); err != nil {
			return fmt.Errorf("read blocks at %d: %w", start, err)
		}
		rd = rd[:0]
		return nil
	}
	h := 0 // next header in s.hdrs
	for _, b := range blocks {
		if b.shared != nil {
			v = append(v, b.shared)
			continue
		}
		box := blockPool.Get().(*[]byte)
		s.bufs = append(s.bufs, box)
		buf := (*box)[:b.spec.Length]
		v = append(v, s.hdrs[h*pieceHeaderLen:(h+1)*pieceHeaderLen], buf)
		h++
		off := s.c.t.blockOffset(b.spec)
		if len(rd) > 0 && off != end {
			if err := read(); err != nil {
				return err
			}
		}
		if len(rd) == 0 {
			start = off
		}
		rd = append(rd, buf)
		end = off + int64(b.spec.Length)
	}
	if err := read(); err != nil {
		return err
	}
	s.rd = rd
	s.back = v
	if s.out != nil {
		return s.out.writev(v)
	}
	s.vec = v
	_, err := s.vec.WriteTo(s.c.nc)
	return err
}

// write writes msgs to the connection.
func (s *sender) write(msgs []byte) error {
	if s.out != nil {
		s.back = append(s.back[:0], msgs)
		return s.out.writev(s.back)
	}
	_, err := s.c.nc.Write(msgs)
	return err
}

// blockOffset is where a block starts in the torrent's byte stream.
func (t *Torrent) blockOffset(b swarm.BlockSpec) int64 {
	return int64(b.Piece)*t.mi.Info.PieceLength + int64(b.Begin)
}

// putBufs returns the batch's block buffers to the pool.
func (s *sender) putBufs() {
	for i, b := range s.bufs {
		blockPool.Put(b)
		s.bufs[i] = nil
	}
	s.bufs = s.bufs[:0]
}

// release drops the sender's references to buffers.
func (s *sender) release() {
	s.putBufs()
	clear(s.back)
	clear(s.rd)
}
