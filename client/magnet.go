package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/trackerclient"
	"github.com/shoal-p2p/shoal/wire"
)

// Bounds of a metadata fetch.
const (
	metadataDials     = 8                // peers asked at once
	metadataPeerLimit = 30 * time.Second // for one peer to send it all
	metadataRetry     = 3 * time.Second  // before a failed peer is asked again
	metadataAttempts  = 5                // tries per address
	metadataAnnounce  = 10 * time.Second // tracker announces while fetching
)

// errSelf reports that an address was our own.
var errSelf = errors.New("connected to ourselves")

// AddMagnet fetches a magnet link's info dictionary from peers (BEP 9),
// checks that it hashes to the link's info hash, and adds the torrent as
// AddTorrent would. Peers come from opts.Peers and the link's x.pe, from
// its trackers (or opts.Trackers), from the DHT when the Client runs one,
// and from the PEX messages of the peers asked. The torrent starts with
// every peer found so far as a candidate. AddMagnet blocks until the
// metadata arrived or ctx ends.
func (c *Client) AddMagnet(ctx context.Context, m metainfo.Magnet, opts TorrentOptions) (*Torrent, error) {
	start := time.Now()
	if opts.Trackers == nil {
		opts.Trackers = append([]string{}, m.Trackers...)
	}
	f := &metadataFetch{c: c, ih: m.InfoHash, tried: map[string]*fetchTry{}, wake: make(chan struct{}, 1),
		start: start}
	res, err := f.run(ctx, append(append([]string{}, opts.Peers...), m.Peers...), opts.Trackers, !opts.NoDHT)
	if err != nil {
		return nil, fmt.Errorf("magnet %s: %w", m.InfoHash, err)
	}
	if res.mi.Info.Private {
		// BEP 27: the peers of a private torrent come from its trackers
		// alone; keep only those we were given.
		opts.Peers = append(opts.Peers, m.Peers...)
	} else {
		opts.Peers = append(opts.Peers, res.peers...)
	}
	if len(m.Trackers) > 0 {
		res.mi.Announce = m.Trackers[0]
	}
	t, err := c.addTorrent(res.mi, opts, start)
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

// metadataFetch asks peers for one info dictionary until one sends a copy
// that verifies. Addresses flow in from the sources; up to metadataDials
// are asked at once, each independently for the whole dictionary (it is
// small, and one honest peer suffices).
type metadataFetch struct {
	c     *Client
	ih    metainfo.InfoHash
	start time.Time
	wake  chan struct{}

	mu        sync.Mutex
	tried     map[string]*fetchTry
	order     []string // addresses in the order they arrived
	firstPeer time.Duration
	lastErr   error
}

// fetchTry is the history of one address.
type fetchTry struct {
	attempts int
	busy     bool
	next     time.Time
	self     bool
}

// fetchResult is what a successful fetch hands AddMagnet.
type fetchResult struct {
	mi        *metainfo.MetaInfo
	peers     []string
	firstPeer time.Duration
	took      time.Duration
}

// offer adds addresses to try.
func (f *metadataFetch) offer(addrs []string) {
	f.mu.Lock()
	for _, a := range addrs {
		if _, ok := f.tried[a]; !ok && len(f.tried) < maxCandidates {
			f.tried[a] = &fetchTry{}
			f.order = append(f.order, a)
		}
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// run drives the fetch until a peer's copy verifies or ctx ends.
func (f *metadataFetch) run(ctx context.Context, peers, trackers []string, useDHT bool) (fetchResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	if ctx.Err() == nil && f.c.ctx.Err() != nil {
		return fetchResult{}, ErrClosed
	}
	stop := context.AfterFunc(f.c.ctx, cancel)
	defer stop()
	f.offer(peers)
	for _, u := range trackers {
		wg.Add(1)
		go func() { defer wg.Done(); f.announceLoop(ctx, u) }()
	}
	if useDHT && f.c.dht != nil {
		wg.Add(1)
		go func() { defer wg.Done(); dhtPeers(ctx, f.c.dht, f.ih, f.offer) }()
	}
	got := make(chan *metainfo.MetaInfo, 1)
	sem := make(chan struct{}, metadataDials)
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		for _, addr := range f.due(time.Now(), metadataDials-len(sem)) {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				mi, err := f.fetchFrom(ctx, addr)
				f.finished(addr, err)
				if err == nil {
					select {
					case got <- mi:
					default:
					}
				}
			}()
		}
		select {
		case mi := <-got:
			return fetchResult{mi: mi, peers: f.peers(), firstPeer: f.first(), took: time.Since(f.start)}, nil
		case <-ctx.Done():
			if f.c.ctx.Err() != nil {
				return fetchResult{}, ErrClosed
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.lastErr != nil {
				return fetchResult{}, fmt.Errorf("%w (last peer error: %v): %w", ErrNoMetadata, f.lastErr, ctx.Err())
			}
			return fetchResult{}, fmt.Errorf("%w: no peer found: %w", ErrNoMetadata, ctx.Err())
		case <-f.wake:
		case <-retry.C:
		}
	}
}

// due returns up to n addresses to try now and marks them busy.
func (f *metadataFetch) due(now time.Time, n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.order {
		if len(out) >= n {
			break
		}
		tr := f.tried[a]
		if tr.busy || tr.self || tr.attempts >= metadataAttempts || now.Before(tr.next) {
			continue
		}
		tr.busy = true
		tr.attempts++
		out = append(out, a)
	}
	return out
}

// finished records the outcome of asking addr.
func (f *metadataFetch) finished(addr string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tr := f.tried[addr]
	tr.busy = false
	tr.next = time.Now().Add(metadataRetry)
	if errors.Is(err, errSelf) {
		tr.self = true
	} else if err != nil && !errors.Is(err, context.Canceled) {
		f.lastErr = fmt.Errorf("%s: %w", addr, err)
	}
}

// connected records the first peer handshake.
func (f *metadataFetch) connected() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.firstPeer == 0 {
		f.firstPeer = max(time.Since(f.start), time.Nanosecond)
	}
}

func (f *metadataFetch) first() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.firstPeer
}

// peers returns every address learnt, except our own.
func (f *metadataFetch) peers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.order))
	for _, a := range f.order {
		if !f.tried[a].self {
			out = append(out, a)
		}
	}
	return out
}

// fetchFrom connects to addr and asks it for the whole info dictionary:
// handshake, extended handshake with ut_metadata (BEP 10), one request per
// metadata piece, then a check against the info hash. PEX messages it
// sends on the way are offered as more addresses.
func (f *metadataFetch) fetchFrom(ctx context.Context, addr string) (*metainfo.MetaInfo, error) {
	nc, hs, err := f.c.dial(ctx, addr, f.ih)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	if hs.PeerID == f.c.cfg.PeerID {
		return nil, errSelf
	}
	f.connected()
	if !hs.SupportsExtended() {
		return nil, errors.New("peer does not speak the extension protocol (BEP 10)")
	}
	nc.SetDeadline(time.Now().Add(metadataPeerLimit))
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	var out []byte
	if hs.SupportsFast() {
		// BEP 6: the first message after the handshake says what we have.
		out, _ = wire.Message{Type: wire.HaveNone}.AppendBinary(out)
	}
	eh := wire.ExtendedHandshake{M: map[string]int{extMetadata: extMetadataID, extPEX: extPEXID}, V: clientVersion}
	eh.Port = f.c.listenPort()
	if out, err = appendExt(out, wire.ExtendedHandshakeID, eh.Marshal); err != nil {
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
			if id == 0 {
				return nil, errors.New("peer does not serve metadata (no ut_metadata)")
			}
			if buf, err = newMetadataBuffer(peh.MetadataSize); err != nil {
				return nil, err
			}
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
				f.offer(pexAdded(pm))
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

// announceLoop asks a tracker for peers while the fetch runs.
func (f *metadataFetch) announceLoop(ctx context.Context, url string) {
	port := f.c.listenPort()
	for {
		req := trackerclient.AnnounceRequest{InfoHash: f.ih, PeerID: f.c.cfg.PeerID, Port: uint16(port),
			Left: 1, Event: "started", NumWant: 50}
		if resp, err := trackerclient.Announce(ctx, f.c.cfg.HTTPClient, url, req); err == nil {
			f.offer(addrStrings(resp.Peers))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(metadataAnnounce):
		}
	}
}
