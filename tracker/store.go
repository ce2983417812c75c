package tracker

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
)

// Errors a [Store] returns when a memory bound would be exceeded.
var (
	// ErrTooManyTorrents means the store already tracks its maximum number
	// of swarms and will not start another.
	ErrTooManyTorrents = errors.New("too many torrents")
	// ErrSwarmFull means the swarm already holds its maximum number of
	// peers and none may be dropped for this one.
	ErrSwarmFull = errors.New("swarm full")
	// ErrAddressFull means the peer's address already holds its maximum
	// number of peers in the swarm ([AddrLimit]).
	ErrAddressFull = errors.New("too many peers from this address in the swarm")
	// ErrPeerIDTaken means the peer ID is listed from another IP address
	// and the announce does not carry the key it was listed with.
	ErrPeerIDTaken = errors.New("peer ID listed from another address")
)

// Peer is one peer of a swarm as the tracker knows it.
type Peer struct {
	ID   [20]byte
	Addr netip.AddrPort
	// Left is the bytes the peer still needs; zero makes it a seeder.
	Left int64
	// Downloaded is the bytes the peer reports having downloaded.
	Downloaded int64
	// Key is the announce's key (BEP 3 "key", the BEP 15 key field), if
	// any: a peer listed with a key may announce or stop from another IP
	// only with the same key.
	Key string
	// Zone is the peer's location label as it announced it (package zone;
	// empty: none), checked before it is stored. It orders handouts
	// ([DefaultPolicy]) and is never handed out or trusted.
	Zone string
}

// Seeder reports whether p has the whole torrent.
func (p Peer) Seeder() bool { return p.Left == 0 }

// Store keeps the peers of each swarm, keyed by info hash and peer ID, and
// forgets peers that have not announced within its time to live. The time
// is passed in by the caller, so a store has no clock of its own.
// Implementations must be safe for concurrent use.
type Store interface {
	// Put inserts or refreshes p in the swarm of infoHash as seen at now.
	// A peer at the same address under another ID replaces that entry (a
	// restarted client). An entry listed from another IP is refreshed only
	// by an announce with its key, else ErrPeerIDTaken. A newcomer to a
	// full swarm takes the place of a peer of the address holding the most
	// peers if that address holds at least two more than the newcomer's
	// (see [AddrLimit]). It fails with ErrTooManyTorrents, ErrAddressFull
	// or ErrSwarmFull when a bound would be exceeded.
	Put(ctx context.Context, infoHash [20]byte, p Peer, now time.Time) error
	// Remove forgets the peer p.ID in the swarm of infoHash, if p may act
	// for it (as for Put: the same IP, or the key it was listed with);
	// removing an unknown peer is not an error.
	Remove(ctx context.Context, infoHash [20]byte, p Peer, now time.Time) error
	// Sample draws random live peers of the swarm of infoHash at now as d
	// says, appending them to dst, and counts the swarm's live seeders and
	// leechers (the Downloaded count is left zero). Its cost grows with
	// the number drawn, not with the swarm: this is what an announce uses.
	// The draw is fair to addresses (see [Draw]).
	Sample(ctx context.Context, infoHash [20]byte, d Draw, now time.Time, dst []Peer) ([]Peer, SwarmStats, error)
	// Peers returns every live peer of the swarm of infoHash at now, in no
	// particular order. The slice is the caller's. It costs a read of the
	// whole swarm; announces use Sample unless the policy needs them all.
	Peers(ctx context.Context, infoHash [20]byte, now time.Time) ([]Peer, error)
	// Completed counts one finished download in the swarm of infoHash
	// (the "downloaded" figure of a scrape).
	Completed(ctx context.Context, infoHash [20]byte) error
	// Scrape returns the swarm's counts at now (BEP 48).
	Scrape(ctx context.Context, infoHash [20]byte, now time.Time) (SwarmStats, error)
	// Stats returns totals over every swarm, for metrics.
	Stats(ctx context.Context, now time.Time) (StoreStats, error)
}

// Draw says which random peers [Store.Sample] draws from a swarm. Peers
// are drawn without replacement, so no peer is drawn twice, and fewer are
// drawn when the swarm has fewer. Draws are fair to addresses (as the
// store's [AddrLimit] groups them): each part takes one peer from each of
// as many addresses as it can, at random, before a second from any.
type Draw struct {
	// Seeders and Leechers are how many seeders and leechers to draw.
	Seeders, Leechers int
	// Any is how many more to draw uniformly from the rest of the swarm,
	// seeders and leechers alike.
	Any int
	// Family, if not AnyFamily, restricts the whole draw to one IP family
	// (a BEP 15 reply carries only the asker's).
	Family Family
	// Zone, if set, draws Near more: peers whose location label is
	// exactly Zone (the announcing peer's rack), so many of each kind.
	// They are drawn first, and no peer is drawn twice across the parts.
	// A store that does not index labels may ignore Zone and Near.
	Zone string
	Near NearDraw
}

// A ZoneIndexer is a [Store] that keeps peers' location labels and draws
// a Draw's Near part from them. The server hands out by location only
// with such a store; with any other, labels are ignored (every peer gets
// the plain handout), since a policy handed only a uniform sample could not
// find a peer's rack in it.
type ZoneIndexer interface {
	Store
	// IndexesZones reports whether the store indexes labels.
	IndexesZones() bool
}

// NearDraw is the part of a [Draw] taken from one zone: so many seeders,
// leechers, and more of either.
type NearDraw struct {
	Seeders, Leechers, Any int
}

// Family is an IP address family, for [Draw].
type Family uint8

// The families a [Draw] may be restricted to.
const (
	AnyFamily Family = iota
	IPv4Only
	IPv6Only
)

// AddrLimit bounds how many peers one address may hold in one swarm, so
// a few hosts cannot fill a swarm with fake peers, and says which
// addresses are spared. An address is an IPv4 address or an IPv6 /64 (one
// host's usual allocation). Stores also use addresses to be fair: a
// newcomer to a full swarm displaces a peer of the heaviest address, and
// samples draw one peer per address before a second from any.
type AddrLimit struct {
	// Max is the most peers one address holds in one swarm; zero or
	// negative for no bound.
	Max int
	// Exempt lists prefixes whose peers are neither bounded nor displaced,
	// and count as an address each (peer by peer).
	Exempt []netip.Prefix
}

// DefaultAddrLimit is the bound the server applies by default: 16 peers
// per address per swarm, and the tracker's own loopback addresses exempt,
// since every test, the demo and the bench run all their peers on
// 127.0.0.1 (a fleet behind one NAT address needs a higher Max or its
// prefix in Exempt).
var DefaultAddrLimit = AddrLimit{Max: 16, Exempt: []netip.Prefix{
	netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}}

// addrKey is what a store counts and groups peers by: an IPv4 address, an
// IPv6 /64, or for an exempt peer its whole address and port.
type addrKey struct {
	ip   netip.Addr
	port uint16
}

// key returns a's addrKey and whether the limit applies to it.
func (l AddrLimit) key(a netip.AddrPort) (addrKey, bool) {
	ip := a.Addr().Unmap().WithZone("")
	for _, p := range l.Exempt {
		if p.Contains(ip) {
			return addrKey{ip, a.Port()}, false
		}
	}
	if ip.Is6() {
		ip = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	return addrKey{ip: ip}, true
}

// SwarmStats are one swarm's counts as a scrape reports them; the server
// and the client share the type.
type SwarmStats = trackerclient.SwarmStats

// StoreStats are totals over a whole store.
type StoreStats struct {
	Torrents, Peers, Seeders int
}

// countPeers tallies seeders and leechers of ps.
func countPeers(ps []Peer) (s SwarmStats) {
	for _, p := range ps {
		if p.Seeder() {
			s.Complete++
		} else {
			s.Incomplete++
		}
	}
	return s
}

// A swarm's peers fall in four pools by kind and IP family, so a draw of
// seeders, leechers or one family never looks at the others.
const (
	poolSeed4 = iota
	poolSeed6
	poolLeech4
	poolLeech6
	numPools
)

// poolOf is the pool p belongs in.
func poolOf(p Peer) int {
	i := poolSeed4
	if !p.Seeder() {
		i = poolLeech4
	}
	if !p.Addr.Addr().Unmap().Is4() {
		i++
	}
	return i
}

// poolSet is a set of pools, as a list.
type poolSet struct {
	n     int
	pools [numPools]int
}

// drawPools returns the pools of seeders, of leechers and of both that a
// draw restricted to f reads.
func drawPools(f Family) (seeders, leechers, all poolSet) {
	add := func(s *poolSet, pools ...int) {
		for _, p := range pools {
			v6 := p == poolSeed6 || p == poolLeech6
			if f == AnyFamily || (f == IPv6Only) == v6 {
				s.pools[s.n] = p
				s.n++
			}
		}
	}
	add(&seeders, poolSeed4, poolSeed6)
	add(&leechers, poolLeech4, poolLeech6)
	add(&all, poolSeed4, poolSeed6, poolLeech4, poolLeech6)
	return
}

// pickPool picks one of ps at random, each with probability proportional
// to its entry in remaining, and takes one from that entry. It returns
// false when every pool of ps is empty.
func pickPool(intN func(int) int, remaining *[numPools]int, ps poolSet) (int, bool) {
	total := 0
	for _, p := range ps.pools[:ps.n] {
		total += remaining[p]
	}
	if total == 0 {
		return 0, false
	}
	r := intN(total)
	for _, p := range ps.pools[:ps.n] {
		if r < remaining[p] {
			remaining[p]--
			return p, true
		}
		r -= remaining[p]
	}
	panic("unreachable")
}
