package client

import (
	"context"
	"errors"
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
	// wakeHeld: the writer's wake-up is in the loop's held list (see
	// Torrent.holdWakes); urgent: something other than protocol messages
	// was queued since (a block send, a shared payload); eager: a message
	// other than a Have was; lazyHeld: the connection is in the loop's
	// deferred list (Torrent.deferWake), once at most; lazyWake: its
	// writer is to be woken when that list is flushed; haveHeld, haveWake:
	// the same for the list of writers given only Haves
	// (Torrent.deferHave). All owned by the torrent loop.
	wakeHeld, urgent, eager, lazyHeld, lazyWake, haveHeld, haveWake bool
	// asked counts our Requests to the peer not yet answered (a block or a
	// Reject; a Choke clears it), those still in our queue included;
	// lazyReqs counts the Requests queued since the writer was last woken.
	// wokenAt is when the loop last woke the writer. All owned by the
	// torrent loop; see refillNow.
	asked, lazyReqs int
	wokenAt         time.Time
	// readFree and sentFree hold the reader's and the writer's batches
	// (batch.go).
	readFree, sentFree batchFree

	mu     sync.Mutex
	q      sendQueue // guarded by mu
	wake   chan struct{}
	closed chan struct{}
	once   sync.Once
	reason string
}

func newPeerConn(t *Torrent, nc net.Conn, hs wire.Handshake, dialAddr string) *peerConn {
	remote, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	c := &peerConn{
		t:        t,
		nc:       nc,
		remote:   netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()),
		dialAddr: dialAddr,
		peerID:   hs.PeerID,
		hs:       hs,
		wake:     make(chan struct{}, 1),
		closed:   make(chan struct{}),
	}
	c.readFree, c.sentFree = newBatchFree(c, readBatches), newBatchFree(c, sentBatches)
	return c
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
// disconnected, and nothing is queued once the connection closed. It runs
// on the torrent's loop, which may hold the writer's wake-up back until the
// end of a batch of events (see connBatch).
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
	urgent := it.isBlock || it.shared != nil
	eager := urgent || it.msg.Type != wire.Have
	if !it.isBlock && it.shared == nil && it.msg.Type == wire.Request {
		c.asked++
		c.lazyReqs++
		urgent = c.refillNow()
	}
	if w := &c.t.wakes; w.hold {
		if !c.wakeHeld {
			c.wakeHeld = true
			w.conns = append(w.conns, c)
		}
		c.urgent = c.urgent || urgent
		c.eager = c.eager || eager
		return
	}
	switch {
	case urgent:
		c.t.wakeNow(c)
	case eager:
		c.t.deferWake(c)
	default:
		c.t.deferHave(c)
	}
}

// refillNow reports whether the Requests waiting in our queue are to go
// out at once rather than within messageDelay: when the peer holds fewer of
// our requests than wait here and it answered them within messageDelay of
// our last write, so it is about to run dry and would sit idle for the rest
// of the delay. A seeder on loopback answers the core's 16-request pipeline
// (its depth until it knows the peer's rate, for 250 ms) in a small part
// of 2 ms; an origin serving 30 receivers in turn takes longer to come
// back to each, and its receivers keep batching their refills, as they do
// with a deep pipeline the peer is far from draining. The loop only.
func (c *peerConn) refillNow() bool {
	return c.asked-c.lazyReqs < c.lazyReqs && time.Since(c.wokenAt) < messageDelay
}

// answered notes that the peer answered one of our requests (a block or a
// Reject). The loop only.
func (c *peerConn) answered() {
	if c.asked > 0 {
		c.asked--
	}
}

// wakeWriter tells the writer there is something new in its queue.
func (c *peerConn) wakeWriter() {
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

// readLoop turns incoming messages into torrent events until the
// connection fails, then reports it closed. Messages that arrived together
// (already wholly buffered) go to the loop as one connBatch.
func (c *peerConn) readLoop(ctx context.Context) {
	r := wire.NewReader(newSockReader(c.nc), maxMessageLength)
	var err error
	// spare is the pooled buffer the next Piece block is read into; the
	// batch hands it to the loop, whose assembler keeps it.
	spare := blockPool.Get().(*[]byte)
	defer func() { blockPool.Put(spare) }()
	owed := 0 // bytes read and not yet paid to the download limits
	var deadlineSet time.Time
	room := make(chan struct{}, 1) // this reader's wake-up from the assembler
	for err == nil {
		if !c.t.asm.waitRoom(room, c.closed) {
			err = errors.New("closed")
			break
		}
		// The idle deadline moves at most once a second, not per read.
		if now := time.Now(); now.Sub(deadlineSet) >= time.Second {
			deadlineSet = now
			c.nc.SetReadDeadline(now.Add(idleTimeout))
		}
		b := c.readFree.take(c.closed)
		if b == nil {
			err = errors.New("closed")
			break
		}
		for len(b.items) < maxBatchItems {
			var m wire.Message
			m, err = r.ReadMessageInto(*spare)
			if err != nil {
				if errors.Is(err, wire.ErrUnknownMessage) {
					err = nil // BEP 3: ignore messages we don't know
					if r.Buffered() {
						continue
					}
				}
				break
			}
			if !m.KeepAlive {
				owed += len(m.Block) + len(m.Bitfield) + len(m.ExtendedPayload) + 13
				it := batchItem{msg: m}
				switch m.Type {
				case wire.Piece: // wire.ParseMessage bounds the block to BlockSize
					if len(m.Block) > 0 && &m.Block[0] != &(*spare)[0] {
						copy(*spare, m.Block) // cannot happen: every block fits in spare
					}
					it.msg.Length, it.msg.Block = uint32(len(m.Block)), nil
					it.buf = spare
					spare = blockPool.Get().(*[]byte)
					c.t.downloaded.Add(int64(len(m.Block)))
				case wire.Bitfield:
					it.msg.Bitfield = append([]byte(nil), m.Bitfield...)
				case wire.Extended:
					it.msg.ExtendedPayload = append([]byte(nil), m.ExtendedPayload...)
				}
				b.items = append(b.items, it)
			}
			if !r.Buffered() {
				break
			}
		}
		if len(b.items) == 0 {
			b.recycle()
		} else if !c.t.post(b) {
			err = context.Canceled
			break
		}
		// The download limits are paid in batches of limitBatch bytes: a
		// limiter call (and the timer it may start) per 64 KiB, not per
		// message, and after the messages went to the loop.
		if err == nil && owed >= limitBatch {
			err = c.t.downLimits.wait(ctx, owed)
			owed = 0
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
