package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/trackerclient"
	"github.com/shoal-p2p/shoal/wire"
)

// metadataPeerLimit bounds the time one peer has to send the whole info
// dictionary once asked.
const metadataPeerLimit = 30 * time.Second

// AddMagnet fetches a magnet link's info dictionary from peers (BEP 9),
// checks that it hashes to the link's info hash, and adds the torrent as
// AddTorrent would. Peers come from opts.Peers and the link's x.pe, from
// its trackers (or opts.Trackers), from the DHT when the Client runs one,
// and from the PEX messages of the peers asked. The torrent's peer manager
// is the one the metadata phase ran with: it keeps every address learnt,
// its failures and bans, and redials the peers of the phase at once.
// AddMagnet blocks until the metadata arrived or ctx ends.
func (c *Client) AddMagnet(ctx context.Context, m metainfo.Magnet, opts TorrentOptions) (*Torrent, error) {
	start := time.Now()
	if opts.Trackers == nil {
		opts.Trackers = append([]string{}, m.Trackers...)
	}
	mgr, err := c.newManager(start, peers.Config{Trackers: len(opts.Trackers), DHT: !opts.NoDHT && c.dht != nil,
		PEX: !opts.NoPEX, Metadata: true})
	if err != nil {
		return nil, err
	}
	f := &metadataFetch{c: c, ih: m.InfoHash, start: start, mgr: mgr, trackers: opts.Trackers,
		events: make(chan fetchEvent, 256), conns: map[swarm.ConnID]*fetchConn{}, pending: map[swarm.ConnID]handshaken{}}
	res, err := f.run(ctx, append(append([]string{}, opts.Peers...), m.Peers...))
	if err != nil {
		return nil, fmt.Errorf("magnet %s: %w", m.InfoHash, err)
	}
	if len(m.Trackers) > 0 {
		res.mi.Announce = m.Trackers[0]
	}
	opts.Peers = nil // the peer manager has them
	t, err := c.addTorrent(res.mi, opts, start, mgr)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.stats.MetadataAfter = res.took
	if t.stats.FirstPeerAfter == 0 || res.firstPeer < t.stats.FirstPeerAfter {
		t.stats.FirstPeerAfter = res.firstPeer
	}
	t.mu.Unlock()
	return t, nil
}

// metadataFetch is the runtime of a magnet's metadata phase: the peer
// manager decides whom to dial and ask; one goroutine per admitted peer
// runs the ut_metadata exchange (each peer is asked for the whole
// dictionary: it is small, and one honest peer suffices). Its loop is the
// only code touching the manager until the torrent takes it over.
type metadataFetch struct {
	c        *Client
	ih       metainfo.InfoHash
	start    time.Time
	mgr      *peers.Manager
	trackers []string
	events   chan fetchEvent
	ctx      context.Context
	wg       sync.WaitGroup

	// Owned by the loop.
	conns     map[swarm.ConnID]*fetchConn
	pending   map[swarm.ConnID]handshaken
	nextID    swarm.ConnID
	firstPeer time.Duration
	lastErr   error
	got       *metainfo.MetaInfo
}

// fetchResult is what a successful fetch hands AddMagnet.
type fetchResult struct {
	mi        *metainfo.MetaInfo
	firstPeer time.Duration
	took      time.Duration
}

// fetchEvent is one thing that happened during the metadata phase.
type fetchEvent interface {
	apply(f *metadataFetch, now time.Time)
	release()
}

// run drives the fetch until a peer's copy verifies or ctx ends.
func (f *metadataFetch) run(ctx context.Context, userPeers []string) (fetchResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	f.ctx = ctx
	defer func() {
		cancel()
		for _, fc := range f.conns {
			fc.nc.Close()
		}
		for _, h := range f.pending {
			h.nc.Close()
		}
		f.wg.Wait()
		for {
			select {
			case ev := <-f.events:
				ev.release()
			default:
				return
			}
		}
	}()
	if ctx.Err() == nil && f.c.ctx.Err() != nil {
		return fetchResult{}, ErrClosed
	}
	stop := context.AfterFunc(f.c.ctx, cancel)
	defer stop()
	resolvePeers(ctx, &f.wg, f.c.log, userPeers, func(as []netip.AddrPort) {
		f.post(fetchCandidates{src: peers.FromUser, addrs: as})
	})
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	f.settle(time.Now())
	for f.got == nil {
		if w := f.mgr.Wake(); !w.IsZero() {
			wake.Reset(max(time.Until(w), time.Millisecond))
		}
		select {
		case <-ctx.Done():
			if f.c.ctx.Err() != nil {
				return fetchResult{}, ErrClosed
			}
			if f.lastErr != nil {
				return fetchResult{}, fmt.Errorf("%w (last peer error: %v): %w", ErrNoMetadata, f.lastErr, ctx.Err())
			}
			return fetchResult{}, fmt.Errorf("%w: no peer found: %w", ErrNoMetadata, ctx.Err())
		case now := <-tick.C:
			f.mgr.Tick(now)
		case now := <-wake.C:
			f.mgr.Tick(now)
		case ev := <-f.events:
			ev.apply(f, time.Now())
		}
		f.settle(time.Now())
	}
	return fetchResult{mi: f.got, firstPeer: f.firstPeer, took: time.Since(f.start)}, nil
}

// post hands an event to the loop; false once the fetch ended.
func (f *metadataFetch) post(ev fetchEvent) bool {
	select {
	case f.events <- ev:
		return true
	case <-f.ctx.Done():
		ev.release()
		return false
	}
}

// settle performs the manager's batches until it has none.
func (f *metadataFetch) settle(now time.Time) {
	for acts := f.mgr.Ready(); acts != nil; acts = f.mgr.Ready() {
		for _, a := range acts {
			f.do(now, a)
		}
		f.mgr.Advance()
	}
}

// do performs one action of the peer manager.
func (f *metadataFetch) do(now time.Time, a peers.Action) {
	switch a.Kind {
	case peers.Dial:
		addr := a.Addr
		f.c.startDial(f.ctx, &f.wg, f.ih, addr,
			func(nc net.Conn, hs wire.Handshake) { f.post(fetchConnected{nc: nc, hs: hs, dialed: addr}) },
			func(err error) { f.post(fetchDialFailed{addr: addr, err: err}) })
	case peers.Accept:
		h, ok := f.pending[a.Conn]
		if !ok {
			return
		}
		delete(f.pending, a.Conn)
		fc := &fetchConn{f: f, id: a.Conn, nc: h.nc, hs: h.hs, ask: make(chan struct{}, 1), closed: make(chan struct{})}
		f.conns[a.Conn] = fc
		if f.firstPeer == 0 {
			f.firstPeer = max(now.Sub(f.start), time.Nanosecond)
		}
		f.wg.Add(1)
		go func() { defer f.wg.Done(); fc.run(f.ctx) }()
	case peers.Close:
		if h, ok := f.pending[a.Conn]; ok {
			delete(f.pending, a.Conn)
			h.nc.Close()
		} else if fc := f.conns[a.Conn]; fc != nil {
			delete(f.conns, a.Conn)
			close(fc.closed)
			fc.nc.Close()
		}
	case peers.AskMetadata:
		if fc := f.conns[a.Conn]; fc != nil {
			fc.ask <- struct{}{}
		}
	case peers.Announce:
		if a.Event == peers.EventStopped || a.Tracker < 0 || a.Tracker >= len(f.trackers) {
			return
		}
		url, tr := f.trackers[a.Tracker], a.Tracker
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			req := trackerclient.AnnounceRequest{InfoHash: f.ih, PeerID: f.c.cfg.PeerID, Port: uint16(f.c.listenPort()),
				Left: 1, Event: trackerclient.Event(a.Event), NumWant: a.NumWant, Key: f.c.announceKey(), Zone: f.c.cfg.Zone}
			resp, err := trackerclient.Announce(f.ctx, f.c.cfg.HTTPClient, url, req)
			if f.ctx.Err() == nil {
				f.post(fetchAnnounced{tracker: tr, resp: resp, err: err})
			}
		}()
	case peers.Lookup:
		if f.c.dht == nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			res := lookupPeers(f.ctx, f.c.dht, f.ih, func(as []netip.AddrPort) {
				f.post(fetchCandidates{src: peers.FromDHT, addrs: as})
			})
			if f.ctx.Err() == nil {
				f.post(fetchLookupDone{res: res})
			}
		}()
	}
}

// fetchConn is one admitted peer of the metadata phase; its goroutine runs
// the exchange and reports what it learns.
type fetchConn struct {
	f      *metadataFetch
	id     swarm.ConnID
	nc     net.Conn
	hs     wire.Handshake
	ask    chan struct{} // the peer manager asked this peer for the metadata
	closed chan struct{} // the peer manager closed it
}

// run sends our extended handshake (with HaveNone first under BEP 6),
// reports the peer's, waits to be asked, asks for every metadata piece
// (BEP 9) and reports the verified dictionary or why there is none. PEX
// messages it sends on the way are reported too.
func (fc *fetchConn) run(ctx context.Context) {
	mi, err := fc.exchange(ctx)
	if err != nil {
		fc.f.post(fetchFailed{id: fc.id, err: err})
		return
	}
	fc.f.post(fetchGot{id: fc.id, mi: mi})
}

func (fc *fetchConn) exchange(ctx context.Context) (*metainfo.MetaInfo, error) {
	nc, f := fc.nc, fc.f
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	nc.SetDeadline(time.Now().Add(metadataPeerLimit))
	var out []byte
	if fc.hs.SupportsFast() {
		out, _ = wire.Message{Type: wire.HaveNone}.AppendBinary(out)
	}
	eh := wire.ExtendedHandshake{M: map[string]int{extMetadata: extMetadataID, extPEX: extPEXID}, V: clientVersion}
	eh.Port = f.c.listenPort()
	out, err := appendExt(out, wire.ExtendedHandshakeID, eh.Marshal)
	if err != nil {
		return nil, err
	}
	if _, err := nc.Write(out); err != nil {
		return nil, fmt.Errorf("send extended handshake: %w", err)
	}
	r := wire.NewReader(nc, maxMessageLength)
	var buf *metadataBuffer
	for {
		m, err := r.ReadMessage()
		if errors.Is(err, wire.ErrUnknownMessage) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m.KeepAlive || m.Type != wire.Extended {
			continue
		}
		switch m.ExtendedID {
		case wire.ExtendedHandshakeID:
			if buf != nil {
				continue
			}
			peh, err := wire.ParseExtendedHandshake(m.ExtendedPayload)
			if err != nil {
				return nil, err
			}
			id := peh.M[extMetadata]
			f.post(fetchExtended{id: fc.id, info: peers.ExtendedInfo{ListenPort: peh.Port, PEX: peh.M[extPEX] != 0, Metadata: id != 0}})
			if id == 0 {
				return nil, errors.New("peer does not serve metadata (no ut_metadata)")
			}
			if buf, err = newMetadataBuffer(peh.MetadataSize); err != nil {
				return nil, err
			}
			select {
			case <-fc.ask:
			case <-fc.closed:
				return nil, net.ErrClosed
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			nc.SetDeadline(time.Now().Add(metadataPeerLimit))
			var reqs []byte
			for p, ok := buf.nextRequest(); ok; p, ok = buf.nextRequest() {
				req := wire.MetadataMessage{Type: wire.MetadataRequest, Piece: p}
				if reqs, err = appendExt(reqs, id, req.Marshal); err != nil {
					return nil, err
				}
			}
			if _, err := nc.Write(reqs); err != nil {
				return nil, fmt.Errorf("send metadata requests: %w", err)
			}
		case extMetadataID:
			mm, err := wire.ParseMetadataMessage(m.ExtendedPayload)
			if err != nil || buf == nil {
				continue
			}
			switch mm.Type {
			case wire.MetadataReject:
				return nil, fmt.Errorf("peer rejected metadata piece %d", mm.Piece)
			case wire.MetadataData:
				if err := buf.put(mm); err != nil {
					return nil, err
				}
				if buf.complete() {
					return buf.verify(f.ih)
				}
			}
		case extPEXID:
			if pm, err := wire.ParsePEXMessage(m.ExtendedPayload); err == nil {
				f.post(fetchPEX{id: fc.id, msg: pm})
			}
		}
	}
}

// appendExt appends one framed extended message.
func appendExt(b []byte, id int, marshal func() ([]byte, error)) ([]byte, error) {
	payload, err := marshal()
	if err != nil {
		return b, err
	}
	return wire.Message{Type: wire.Extended, ExtendedID: uint8(id), ExtendedPayload: payload}.AppendBinary(b)
}

// The metadata phase's events, one type each.

// fetchConnected: a dial's handshake completed.
type fetchConnected struct {
	nc     net.Conn
	hs     wire.Handshake
	dialed netip.AddrPort
}

func (e fetchConnected) apply(f *metadataFetch, now time.Time) {
	f.nextID++
	f.pending[f.nextID] = handshaken{nc: e.nc, hs: e.hs, dialed: e.dialed}
	f.mgr.Connected(now, peers.Handshake{Conn: f.nextID, Dialed: e.dialed, Remote: remoteAddr(e.nc), Wire: e.hs})
}
func (e fetchConnected) release() { e.nc.Close() }

// fetchDialFailed: a dial ended without a handshake.
type fetchDialFailed struct {
	addr netip.AddrPort
	err  error
}

func (e fetchDialFailed) apply(f *metadataFetch, now time.Time) {
	if !errors.Is(e.err, context.Canceled) {
		f.lastErr = fmt.Errorf("%s: %w", e.addr, e.err)
	}
	f.mgr.DialFailed(now, e.addr)
}
func (fetchDialFailed) release() {}

// fetchExtended: a peer's extended handshake arrived.
type fetchExtended struct {
	id   swarm.ConnID
	info peers.ExtendedInfo
}

func (e fetchExtended) apply(f *metadataFetch, now time.Time) { f.mgr.Extended(now, e.id, e.info) }
func (fetchExtended) release()                                {}

// fetchPEX: a peer sent ut_pex.
type fetchPEX struct {
	id  swarm.ConnID
	msg wire.PEXMessage
}

func (e fetchPEX) apply(f *metadataFetch, now time.Time) { f.mgr.PEXReceived(now, e.id, e.msg) }
func (fetchPEX) release()                                {}

// fetchGot: a peer's copy of the info dictionary verified.
type fetchGot struct {
	id swarm.ConnID
	mi *metainfo.MetaInfo
}

func (e fetchGot) apply(f *metadataFetch, now time.Time) { f.got = e.mi }
func (fetchGot) release()                                {}

// fetchFailed: a peer's exchange ended without a copy that verifies.
type fetchFailed struct {
	id  swarm.ConnID
	err error
}

func (e fetchFailed) apply(f *metadataFetch, now time.Time) {
	if _, ok := f.conns[e.id]; !ok {
		return // the peer manager closed it already
	}
	if !errors.Is(e.err, context.Canceled) {
		f.lastErr = e.err
	}
	f.mgr.MetadataFailed(now, e.id, e.err.Error()) // answers with Close
}
func (fetchFailed) release() {}

// fetchCandidates: addresses from the user or a DHT lookup.
type fetchCandidates struct {
	src   peers.Source
	addrs []netip.AddrPort
}

func (e fetchCandidates) apply(f *metadataFetch, now time.Time) {
	f.mgr.AddCandidates(now, e.src, e.addrs)
}
func (fetchCandidates) release() {}

// fetchAnnounced: an announce ended.
type fetchAnnounced struct {
	tracker int
	resp    *trackerclient.AnnounceResponse
	err     error
}

func (e fetchAnnounced) apply(f *metadataFetch, now time.Time) {
	res := peers.AnnounceResult{Err: e.err}
	if e.err == nil {
		res.Interval, res.MinInterval, res.Peers = e.resp.Interval, e.resp.MinInterval, e.resp.Peers
	}
	f.mgr.AnnounceDone(now, e.tracker, res)
}
func (fetchAnnounced) release() {}

// fetchLookupDone: a DHT lookup ended.
type fetchLookupDone struct{ res peers.LookupResult }

func (e fetchLookupDone) apply(f *metadataFetch, now time.Time) { f.mgr.LookupDone(now, e.res) }
func (fetchLookupDone) release()                                {}
