package client

import (
	"net"
	"net/netip"
	"time"

	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/trackerclient"
	"github.com/shoal-p2p/shoal/wire"
)

// event is one thing that happened, told to a torrent's loop: by the
// connection goroutines, the dialers, announcers, lookups and hashers, or
// by the loop itself as the result of an action it performed. Each kind is
// its own small type; the loop is the only code that applies them, so
// apply may touch the loop's state and step the machines.
type event interface {
	// apply steps the machine(s) the event concerns. It runs on the loop.
	apply(t *Torrent, now time.Time)
	// release frees what the event holds (a pooled buffer, a socket) when
	// the loop stopped before it could apply it.
	release()
}

// messageEvent: a wire message other than Piece arrived on conn.
type messageEvent struct {
	conn *peerConn
	msg  wire.Message
}

func (e messageEvent) apply(t *Torrent, now time.Time) { t.onMessage(now, e.conn, e.msg) }
func (messageEvent) release()                          {}

// blockEvent: a Piece message arrived on conn; its payload was copied into
// buf, a pooled block buffer the loop hands to the core's WriteBlock.
type blockEvent struct {
	conn *peerConn
	spec swarm.BlockSpec
	buf  *[]byte
}

func (e blockEvent) apply(t *Torrent, now time.Time) { t.onBlock(now, e) }
func (e blockEvent) release()                        { blockPool.Put(e.buf) }

// blockSentEvent: the writer of conn sent the block spec.
type blockSentEvent struct {
	conn *peerConn
	spec swarm.BlockSpec
}

func (e blockSentEvent) apply(t *Torrent, now time.Time) {
	if t.conns[e.conn.id] == e.conn {
		if !t.sentAny {
			t.sentAny = true
			t.mu.Lock()
			t.stats.FirstUploadAfter = max(now.Sub(t.added), time.Nanosecond)
			t.mu.Unlock()
		}
		t.core.BlockSent(now, e.conn.id, e.spec)
		t.noteSent(now, e.conn.id, e.spec.Piece)
	}
}
func (blockSentEvent) release() {}

// closedEvent: conn's reader stopped; the connection is closed.
type closedEvent struct{ conn *peerConn }

func (e closedEvent) apply(t *Torrent, now time.Time) { t.onClosed(now, e.conn) }
func (closedEvent) release()                          {}

// verifiedEvent: the hash of piece was checked (and, if it matched and
// was assembled in memory, the piece written). Posted as a pointer from
// verifiedEvents (newVerifiedEvent), so that telling the loop costs no
// allocation per piece: a struct value in the event interface is boxed.
type verifiedEvent struct {
	piece int
	ok    bool
	// digests are the piece's block digests, when they were computed (see
	// swarm.PieceVerifiedBlocks); nil otherwise.
	digests []swarm.BlockDigest
}

// verifiedEvents recycles verifiedEvents between the hashing workers,
// which take them, and the loop, which gives them back once applied. A
// channel, not a sync.Pool: the pool dropped them at every garbage
// collection, and as they went from the workers' Ps to the loop's its
// per-P chains grew: 42 of the 112 allocations of a Transfer benchmark
// run after its first quarter (session 15).
var verifiedEvents = make(chan *verifiedEvent, keptVerifiedEvents)

// keptVerifiedEvents bounds the verifiedEvents kept: a piece in flight
// between a hashing worker and the loop holds one.
const keptVerifiedEvents = 64

// newVerifiedEvent returns a recycled verifiedEvent, filled in.
func newVerifiedEvent(piece int, ok bool, digests []swarm.BlockDigest) *verifiedEvent {
	var e *verifiedEvent
	select {
	case e = <-verifiedEvents:
	default:
		e = new(verifiedEvent)
	}
	e.piece, e.ok, e.digests = piece, ok, digests
	return e
}

func (e *verifiedEvent) apply(t *Torrent, now time.Time) {
	piece, ok, digests := e.piece, e.ok, e.digests
	e.release()
	t.onVerified(now, piece, ok, digests)
}

func (e *verifiedEvent) release() {
	*e = verifiedEvent{}
	select {
	case verifiedEvents <- e:
	default:
	}
}

// blockWrittenEvent: the loop wrote a block the core asked for (a
// WriteBlock action); err is the write's error.
type blockWrittenEvent struct {
	spec swarm.BlockSpec
	err  error
}

func (e blockWrittenEvent) apply(t *Torrent, now time.Time) { t.core.BlockWritten(now, e.spec, e.err) }
func (blockWrittenEvent) release()                          {}

// connectedEvent: a BitTorrent handshake completed on nc, which we dialled
// at dialed, or which dialled us (dialed is zero).
type connectedEvent struct {
	nc     net.Conn
	hs     wire.Handshake
	dialed netip.AddrPort
}

func (e connectedEvent) apply(t *Torrent, now time.Time) { t.onConnected(now, e) }
func (e connectedEvent) release()                        { e.nc.Close() }

// dialFailedEvent: a dial of addr ended without a handshake.
type dialFailedEvent struct{ addr netip.AddrPort }

func (e dialFailedEvent) apply(t *Torrent, now time.Time) { t.mgr.DialFailed(now, e.addr) }
func (dialFailedEvent) release()                          {}

// acceptedEvent: the loop admitted conn (the peer manager's Accept); the
// core learns of it.
type acceptedEvent struct{ conn *peerConn }

func (e acceptedEvent) apply(t *Torrent, now time.Time) { t.onAccepted(now, e.conn) }
func (acceptedEvent) release()                          {}

// candidatesEvent: addresses learnt from src (the user, or a DHT lookup as
// its replies come).
type candidatesEvent struct {
	src   peers.Source
	addrs []netip.AddrPort
}

func (e candidatesEvent) apply(t *Torrent, now time.Time) { t.mgr.AddCandidates(now, e.src, e.addrs) }
func (candidatesEvent) release()                          {}

// announcedEvent: an announce to tracker number i ended with resp or err.
type announcedEvent struct {
	tracker int
	resp    *trackerclient.AnnounceResponse
	err     error
}

func (e announcedEvent) apply(t *Torrent, now time.Time) { t.onAnnounced(now, e) }
func (announcedEvent) release()                          {}

// lookupDoneEvent: a DHT get_peers lookup ended.
type lookupDoneEvent struct{ res peers.LookupResult }

func (e lookupDoneEvent) apply(t *Torrent, now time.Time) { t.mgr.LookupDone(now, e.res) }
func (lookupDoneEvent) release()                          {}

// dhtAnnouncedEvent: a DHT announce ended.
type dhtAnnouncedEvent struct{ res peers.LookupResult }

func (e dhtAnnouncedEvent) apply(t *Torrent, now time.Time) { t.mgr.DHTAnnounced(now, e.res) }
func (dhtAnnouncedEvent) release()                          {}

// coreBanEvent: the core banned conn (its Ban action) until until (zero:
// for good); the peer manager records the ban and closes the connection.
type coreBanEvent struct {
	conn   swarm.ConnID
	reason string
	until  time.Time
}

func (e coreBanEvent) apply(t *Torrent, now time.Time) { t.mgr.Ban(now, e.conn, e.reason, e.until) }
func (coreBanEvent) release()                          {}

// completedEvent: every piece is verified and synced (the core's
// Completed action was performed); trackers hear "completed".
type completedEvent struct{}

func (completedEvent) apply(t *Torrent, now time.Time) { t.mgr.Completed(now) }
func (completedEvent) release()                        {}

// bannedEvent: another torrent of this Client banned keys.
type bannedEvent struct {
	keys   []string
	until  time.Time
	reason string
}

func (e bannedEvent) apply(t *Torrent, now time.Time) { t.mgr.BanKeys(now, e.keys, e.until, e.reason) }
func (bannedEvent) release()                          {}

// recheckedEvent: a piece we had was hashed again (recheck.go): ok says it
// still matches; piece -1 ends a batch.
type recheckedEvent struct {
	piece int
	ok    bool
	err   error
}

func (e recheckedEvent) apply(t *Torrent, now time.Time) { t.onRechecked(now, e) }
func (recheckedEvent) release()                          {}
