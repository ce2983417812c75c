package client

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

const (
	// idleTimeout closes a connection that sent nothing at all for this
	// long. Real clients send keep-alives every 60 to 120 s, so it must be
	// longer than that.
	idleTimeout = 180 * time.Second
	// keepAliveEvery is how often an idle writer sends a keep-alive.
	keepAliveEvery = 90 * time.Second
	// writeTimeout bounds one socket write: a peer that stops reading is
	// dropped after this long.
	writeTimeout = 60 * time.Second
	// handshakeTimeout bounds the BitTorrent handshake of a new connection.
	handshakeTimeout = 15 * time.Second
	// maxMessageLength bounds one peer message: a block plus its header,
	// or a bitfield / extension message of up to 1 MiB (libtorrent's own
	// limit).
	maxMessageLength = 1 << 20
)

// blockPool recycles block-sized buffers for the data path.
var blockPool = sync.Pool{New: func() any { b := make([]byte, wire.BlockSize); return &b }}

// outItem is one thing queued for the writer: a protocol message or a
// block to read from storage and send as a Piece message.
type outItem struct {
	msg     wire.Message
	block   swarm.BlockSpec
	isBlock bool
	// shared, for an extended message, is its payload when that is shared
	// by several queues and must be written as it is (a ut_metadata reply);
	// sent, if set, is decremented once it was written (extension.go's
	// count of replies a peer has waiting).
	shared []byte
	sent   *atomic.Int32
}

// peerConn is one established peer connection. Its reader goroutine turns
// wire messages into torrent events; its writer goroutine drains the queue
// the torrent loop fills.
type peerConn struct {
	id       swarm.ConnID
	t        *Torrent
	nc       net.Conn
	remote   netip.AddrPort
	dialAddr string // address we dialed, "" for incoming connections
	peerID   [20]byte
	hs       wire.Handshake
	// listenPort is the port the peer says it accepts connections on
	// (BEP 10 "p"), 0 until known.
	listenPort atomic.Int32
	// ext is what the peer said in its extended handshake and what we
	// told it by PEX; owned by the torrent loop.
	ext peerExt

	mu     sync.Mutex
	q      sendQueue // guarded by mu
	wake   chan struct{}
	closed chan struct{}
	once   sync.Once
	reason string
}

func newPeerConn(t *Torrent, nc net.Conn, hs wire.Handshake, dialAddr string) *peerConn {
	remote, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	return &peerConn{
		t:        t,
		nc:       nc,
		remote:   netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()),
		dialAddr: dialAddr,
		peerID:   hs.PeerID,
		hs:       hs,
		wake:     make(chan struct{}, 1),
		closed:   make(chan struct{}),
	}
}

// listenAddr is the address the peer accepts connections on: the one we
// dialed, or its IP with the port of its extended handshake.
func (c *peerConn) listenAddr() (netip.AddrPort, bool) {
	if c.dialAddr != "" {
		ap, err := netip.ParseAddrPort(c.dialAddr)
		if err != nil {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	if port := c.listenPort.Load(); port > 0 {
		return netip.AddrPortFrom(c.remote.Addr(), uint16(port)), true
	}
	return netip.AddrPort{}, false
}

// String names the peer in logs.
func (c *peerConn) String() string { return c.remote.String() }

// enqueue queues a message or block send for the writer. It never
// blocks: a peer whose queue passes its bound (see sendQueue) is
// disconnected, and nothing is queued once the connection closed.
func (c *peerConn) enqueue(it outItem) {
	c.mu.Lock()
	if c.reason != "" {
		c.mu.Unlock()
		return
	}
	var err error
	switch {
	case it.isBlock:
		err = c.q.pushBlock(it.block)
	case it.shared != nil:
		err = c.q.pushShared(it.msg.ExtendedID, it.shared, it.sent)
	default:
		err = c.q.pushMessage(it.msg)
	}
	c.mu.Unlock()
	if errors.Is(err, errSendQueueFull) {
		c.t.log.Warn("peer not reading its messages; disconnecting", "peer", c, "err", err)
		c.close(err.Error())
		return
	}
	if err != nil {
		c.t.log.Warn("message not sent", "peer", c, "err", err)
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// drop removes a queued block if the writer has not taken it yet.
func (c *peerConn) drop(spec swarm.BlockSpec) {
	c.mu.Lock()
	c.q.drop(spec)
	c.mu.Unlock()
}

// close shuts the connection once, remembering why.
func (c *peerConn) close(reason string) {
	c.once.Do(func() {
		c.mu.Lock()
		if reason == "" {
			reason = "closed"
		}
		c.reason = reason
		c.q.release()
		c.mu.Unlock()
		close(c.closed)
		c.nc.Close()
	})
}

// closeReason returns why the connection was closed, if it was.
func (c *peerConn) closeReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// next waits for the next stretch of the queue (see sendQueue.take),
// appending its block sends to blocks. It returns ok=false when the
// connection closed, and keepAlive when nothing was sent for a while.
// Buffered bytes are flushed before it waits. msgs stays valid until the
// next call.
func (c *peerConn) next(w *bufio.Writer, idle *time.Timer, blocks []queuedBlock) (msgs []byte, _ []queuedBlock, keepAlive, ok bool) {
	for {
		c.mu.Lock()
		if c.reason != "" {
			c.mu.Unlock()
			return nil, blocks, false, false
		}
		if !c.q.empty() {
			msgs, blocks = c.q.take(1, blocks)
			c.mu.Unlock()
			return msgs, blocks, false, true
		}
		c.q.compact()
		c.mu.Unlock()
		if w.Buffered() > 0 {
			if err := w.Flush(); err != nil { // deadlineWriter sets the deadline
				c.close(fmt.Sprintf("write: %v", err))
				return nil, blocks, false, false
			}
		}
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

// writeLoop sends queued messages and blocks until the connection closes.
func (c *peerConn) writeLoop(ctx context.Context) {
	w := bufio.NewWriterSize(deadlineWriter{c.nc}, 64*1024)
	idle := time.NewTimer(keepAliveEvery)
	defer idle.Stop()
	var (
		msgs          []byte
		blocks        []queuedBlock
		keepAlive, ok bool
	)
	for {
		msgs, blocks, keepAlive, ok = c.next(w, idle, blocks[:0])
		if !ok {
			return
		}
		if keepAlive {
			msgs = []byte{0, 0, 0, 0}
		}
		if _, err := w.Write(msgs); err != nil {
			c.close(fmt.Sprintf("write: %v", err))
			return
		}
		for i, b := range blocks {
			if b.shared != nil {
				_, err := w.Write(b.shared)
				b.done()
				if err != nil {
					for _, rest := range blocks[i+1:] {
						rest.done()
					}
					c.close(fmt.Sprintf("write: %v", err))
					return
				}
				continue
			}
			if err := c.sendBlock(ctx, w, b.spec); err != nil {
				for _, rest := range blocks[i+1:] {
					rest.done()
				}
				c.close(fmt.Sprintf("send block: %v", err))
				return
			}
		}
	}
}

// deadlineWriter gives every socket write a deadline, so a peer that stops
// reading can't hold our writer (and its upload slot) forever.
type deadlineWriter struct{ nc net.Conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return d.nc.Write(p)
}

// sendBlock reads one block from storage and writes it as a Piece message,
// paced by the upload limits.
func (c *peerConn) sendBlock(ctx context.Context, w *bufio.Writer, spec swarm.BlockSpec) error {
	if spec.Length > wire.BlockSize {
		return fmt.Errorf("block %d:%d+%d larger than %d", spec.Piece, spec.Begin, spec.Length, wire.BlockSize)
	}
	bp := blockPool.Get().(*[]byte)
	defer blockPool.Put(bp)
	buf := (*bp)[:spec.Length]
	if err := c.t.st.ReadBlock(int(spec.Piece), int64(spec.Begin), buf); err != nil {
		return fmt.Errorf("read piece %d: %w", spec.Piece, err)
	}
	if err := c.t.upLimits.wait(ctx, len(buf)+13); err != nil {
		return err
	}
	var hdr [13]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(9+len(buf)))
	hdr[4] = byte(wire.Piece)
	binary.BigEndian.PutUint32(hdr[5:], spec.Piece)
	binary.BigEndian.PutUint32(hdr[9:], spec.Begin)
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	if _, err := w.Write(buf); err != nil {
		return err
	}
	c.t.uploaded.Add(int64(len(buf)))
	c.t.post(blockSentEvent{conn: c, spec: spec})
	return nil
}

// readLoop turns incoming messages into torrent events until the
// connection fails, then reports it closed.
func (c *peerConn) readLoop(ctx context.Context) {
	r := wire.NewReader(c.nc, maxMessageLength)
	var err error
	for {
		c.nc.SetReadDeadline(time.Now().Add(idleTimeout))
		var m wire.Message
		m, err = r.ReadMessage()
		if err != nil {
			if errors.Is(err, wire.ErrUnknownMessage) {
				continue // BEP 3: ignore messages we don't know
			}
			break
		}
		if m.KeepAlive {
			continue
		}
		n := len(m.Block) + len(m.Bitfield) + len(m.ExtendedPayload) + 13
		if err = c.t.downLimits.wait(ctx, n); err != nil {
			break
		}
		var ev event
		switch m.Type {
		case wire.Piece: // wire.ParseMessage bounds the block to BlockSize
			bp := blockPool.Get().(*[]byte)
			n := copy((*bp)[:len(m.Block)], m.Block)
			ev = blockEvent{conn: c, spec: swarm.BlockSpec{Piece: m.Index, Begin: m.Begin, Length: uint32(n)}, buf: bp}
			c.t.downloaded.Add(int64(n))
		case wire.Bitfield:
			m.Bitfield = append([]byte(nil), m.Bitfield...)
		case wire.Extended:
			m.ExtendedPayload = append([]byte(nil), m.ExtendedPayload...)
		}
		if ev == nil {
			ev = messageEvent{conn: c, msg: m}
		}
		if !c.t.post(ev) {
			err = context.Canceled
			break
		}
	}
	reason := c.closeReason()
	if reason == "" {
		if errors.Is(err, io.EOF) {
			reason = "peer closed the connection"
		} else {
			reason = err.Error()
		}
	}
	c.close(reason)
	c.t.post(closedEvent{conn: c})
}
