package client

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/dht"
	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/wire"
	"github.com/shoal-p2p/shoal/zone"
	"golang.org/x/time/rate"
)

// Config configures a Client. The zero value listens on a random port of
// every interface with no rate limits.
type Config struct {
	// ListenAddr is the TCP address to accept peers on, e.g. ":6881".
	ListenAddr string
	// PeerID is our BitTorrent peer id; a random "-SH0001-" id if zero.
	PeerID [20]byte
	// UploadLimit and DownloadLimit are global payload limits in bytes
	// per second; 0 means unlimited.
	UploadLimit, DownloadLimit float64
	// MaxPeersPerTorrent bounds the connections of one torrent (default 80).
	MaxPeersPerTorrent int
	// MaxHalfOpen bounds the dials in flight per torrent (default 16).
	MaxHalfOpen int
	// HTTPClient is used for tracker announces (default: 15 s timeout).
	HTTPClient *http.Client
	// Logger receives structured logs (default: discard).
	Logger *slog.Logger
	// Zone is this host's location label (package zone, e.g.
	// "dc1/row4/rack12"), sent with every announce so the tracker can
	// hand out near peers first, and in our BEP 10 handshakes so peers
	// prefer their rack neighbours (swarm locality); empty sends none.
	// New refuses an invalid one.
	Zone string

	// DHT runs one Kademlia node (BEP 5) shared by every torrent: each
	// non-private torrent is announced on it and looks up peers there.
	DHT bool
	// DHTListenAddr is the UDP address of the DHT node; default: the
	// TCP listener's address (same port), or a random port if taken.
	DHTListenAddr string
	// DHTBootstrap are "host:port" nodes to join the DHT through.
	DHTBootstrap []string
	// DHTStateFile, if set, keeps the DHT routing table across runs.
	DHTStateFile string

	// HandshakeStartTimeout is how long an incoming connection may stay
	// silent before the first 48 bytes of its handshake arrive (default
	// 5 s; real clients send them at once).
	HandshakeStartTimeout time.Duration
}

// ErrClosed is returned by operations on a closed Client.
var ErrClosed = errors.New("client: closed")

// Client is one Shoal peer: a listener, global limits and its torrents.
type Client struct {
	cfg      Config
	log      *slog.Logger
	ln       net.Listener
	upLimit  *rate.Limiter
	dnLimit  *rate.Limiter
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	torrents map[metainfo.InfoHash]*Torrent
	banned   banList
	dht      *dht.Node // nil unless Config.DHT
	// pexEvery is the minimum time between two PEX messages to one peer
	// (BEP 11: a minute); tests shorten it before adding torrents.
	pexEvery time.Duration
	// gate bounds the incoming handshakes in progress (see handshakeGate).
	gate *handshakeGate
	// hsStartTimeout is Config.HandshakeStartTimeout with its default;
	// set before the accept loop starts and only read after.
	hsStartTimeout time.Duration
	// recheckEvery is how often a complete torrent's files are polled for
	// changes (recheck.go), and soleSourceRetry how long the sole source
	// of a corrupt piece is banned (0: the core's default); tests shorten
	// both before adding torrents.
	recheckEvery, soleSourceRetry time.Duration
	// key is the tracker "key" of every announce this Client makes: 64
	// random bits drawn at New, so that nobody who learnt our peer ID (a
	// tracker's dictionary replies and every handshake carry it) can
	// refresh, move or stop our entry from another address.
	key string
}

// New starts a Client listening on cfg.ListenAddr. The first call in a
// process raises the collector's target to GOGC=400 unless GOGC is set
// (see gcPercent).
func New(cfg Config) (*Client, error) {
	if err := zone.Check(cfg.Zone); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if cfg.PeerID == ([20]byte{}) {
		cfg.PeerID = NewPeerID()
	}
	if cfg.MaxPeersPerTorrent <= 0 {
		cfg.MaxPeersPerTorrent = 80
	}
	if cfg.MaxHalfOpen <= 0 {
		cfg.MaxHalfOpen = 16
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", cfg.ListenAddr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:      cfg,
		log:      cfg.Logger,
		ln:       ln,
		upLimit:  newLimiter(cfg.UploadLimit),
		dnLimit:  newLimiter(cfg.DownloadLimit),
		ctx:      ctx,
		cancel:   cancel,
		key:      newAnnounceKey(),
		torrents: make(map[metainfo.InfoHash]*Torrent),
		banned:   newBanList(maxBans),
		pexEvery: peers.DefaultPEXInterval,
		gate:     newHandshakeGate(maxPendingHandshakes, defaultPerIP),

		hsStartTimeout: cmp.Or(cfg.HandshakeStartTimeout, handshakeStartTimeout),
		recheckEvery:   recheckEvery,
	}
	if cfg.DHT {
		if err := c.startDHT(); err != nil {
			cancel()
			ln.Close()
			return nil, err
		}
	}
	c.wg.Add(1)
	go c.acceptLoop()
	return c, nil
}

// NewPeerID returns a random peer id in the Azureus style, "-SH0001-"
// followed by 12 random bytes.
func NewPeerID() [20]byte {
	var id [20]byte
	copy(id[:], "-SH0001-")
	rand.Read(id[8:])
	return id
}

// Addr is the address the Client accepts peers on.
func (c *Client) Addr() net.Addr { return c.ln.Addr() }

// listenPort is the TCP port we accept peers on, for announces and
// handshakes.
func (c *Client) listenPort() int {
	if ta, ok := c.ln.Addr().(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

// PeerID is the Client's BitTorrent peer id.
func (c *Client) PeerID() [20]byte { return c.cfg.PeerID }

// Close stops every torrent and the listener and waits for them.
func (c *Client) Close() error {
	c.mu.Lock()
	ts := make([]*Torrent, 0, len(c.torrents))
	for _, t := range c.torrents {
		ts = append(ts, t)
	}
	c.mu.Unlock()
	for _, t := range ts {
		t.Close()
	}
	c.cancel()
	err := c.ln.Close()
	c.wg.Wait()
	if c.dht != nil {
		if derr := c.dht.Close(); derr != nil && err == nil {
			err = fmt.Errorf("close dht: %w", derr)
		}
	}
	return err
}

// DHT returns the Client's DHT node, nil unless Config.DHT is set.
func (c *Client) DHT() *dht.Node { return c.dht }

// isBanned reports whether any of keys is banned now.
func (c *Client) isBanned(keys ...string) bool {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if c.banned.banned(k, now) {
			return true
		}
	}
	return false
}

// addrBanKeys returns the ban keys that stop a dial of addr (the rule is
// the peer manager's, peers.AddrKeys).
func addrBanKeys(addr string) []string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return []string{"addr:" + addr}
	}
	return peers.AddrKeys(ap)
}

// acceptLoop accepts incoming peers and hands each to a goroutine doing
// its handshake. The handshakes in progress are bounded by the gate: when
// it is full a newcomer displaces the oldest pending connection (of its own
// address if that address is at its bound), so connections that never send
// a handshake cannot lock real peers out.
func (c *Client) acceptLoop() {
	defer c.wg.Done()
	for {
		nc, err := c.ln.Accept()
		if err != nil {
			if c.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Warn("accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var ip netip.Addr
		if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
			ip = ap.Addr().Unmap()
		}
		ticket, displaced := c.gate.admit(ip, nc)
		if displaced != nil {
			displaced.Close()
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.handleIncoming(nc, func() { c.gate.done(ticket) })
		}()
	}
}

// handleIncoming runs the receiving side of the BEP 3 handshake: read the
// protocol string, reserved bits and info hash (within hsStartTimeout),
// answer with ours if we serve that torrent, then read the peer id. It calls
// leave once the handshake is over, before the connection is handed on.
func (c *Client) handleIncoming(nc net.Conn, leave func()) {
	defer leave()
	start := time.Now()
	nc.SetDeadline(start.Add(c.hsStartTimeout))
	stop := context.AfterFunc(c.ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	// Check the protocol string before answering, so a stray client (an
	// HTTP request, a scanner) learns nothing about us.
	reserved, ih, err := wire.ReadHandshakeStart(nc)
	if err != nil {
		nc.Close()
		return
	}
	nc.SetDeadline(start.Add(handshakeTimeout))
	c.mu.Lock()
	t := c.torrents[metainfo.InfoHash(ih)]
	c.mu.Unlock()
	if t == nil {
		nc.Close()
		return
	}
	if _, err := nc.Write(c.handshake(metainfo.InfoHash(ih))); err != nil {
		nc.Close()
		return
	}
	id, err := wire.ReadPeerID(nc)
	if err != nil {
		nc.Close()
		return
	}
	nc.SetDeadline(time.Time{})
	leave()
	t.adopt(nc, wire.Handshake{Reserved: reserved, InfoHash: ih, PeerID: id}, "")
}

// dial connects to addr and runs the initiating side of the handshake.
func (c *Client) dial(ctx context.Context, addr string, ih metainfo.InfoHash) (net.Conn, wire.Handshake, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, wire.Handshake{}, err
	}
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	if _, err := nc.Write(c.handshake(ih)); err != nil {
		nc.Close()
		return nil, wire.Handshake{}, fmt.Errorf("send handshake: %w", err)
	}
	var buf [68]byte
	if _, err := io.ReadFull(nc, buf[:]); err != nil {
		nc.Close()
		return nil, wire.Handshake{}, fmt.Errorf("read handshake: %w", err)
	}
	hs, err := wire.ParseHandshake(buf[:])
	if err != nil {
		nc.Close()
		return nil, wire.Handshake{}, err
	}
	if hs.InfoHash != ih {
		nc.Close()
		return nil, wire.Handshake{}, errors.New("peer answered for another torrent")
	}
	nc.SetDeadline(time.Time{})
	return nc, hs, nil
}

// handshake encodes our 68-byte handshake for a torrent.
func (c *Client) handshake(ih metainfo.InfoHash) []byte {
	hs := wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: ih, PeerID: c.cfg.PeerID}
	if c.dht != nil {
		hs.Reserved[7] |= reservedDHT
	}
	return hs.AppendBinary(nil)
}
