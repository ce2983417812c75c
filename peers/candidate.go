package peers

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// Source says where a candidate address came from.
type Source uint8

// The candidate sources. Their order is no priority; see candidate.class.
const (
	// FromUser: the command line, Torrent.AddPeers or a magnet's x.pe.
	FromUser Source = iota
	// FromTracker: a tracker's announce reply.
	FromTracker
	// FromDHT: a DHT get_peers lookup.
	FromDHT
	// FromPEX: a peer's ut_pex message (PEXReceived adds these).
	FromPEX
)

// Redial and PEX rules.
const (
	redialFirst     = time.Second     // after the first failure or a close
	redialMax       = time.Minute     // failures back off to this
	shortLived      = 5 * time.Second // a connection closed sooner counts as a failure
	refusedRetry    = 5 * time.Second // we were full when our own dial completed
	evictedRetry    = time.Minute     // before redialling a peer we evicted
	maxPEXPerSource = 100             // PEX-only candidates one source may add
	pexDialBurst    = 10              // dials to one PEX source's addresses at once
	pexDialEvery    = time.Second     // and then one per this
	pexMaxAdded     = 50              // BEP 11: added peers per message
	pexMaxDropped   = 50              // BEP 11: dropped peers per message
	candidateNever  = 100 * 365 * 24 * time.Hour
)

// candState is where a candidate is in its life cycle.
type candState uint8

const (
	idle      candState = iota // may be dialled when due
	dialing                    // a Dial is out
	connected                  // a connection stands for it
)

// candidate is an address we may dial, with its history.
type candidate struct {
	addr     netip.AddrPort
	idx      int // in Manager.candList
	sources  uint8
	pexFrom  netip.AddrPort // the first PEX source, if learnt by PEX
	seq      uint64         // order learnt: the tie-break among equals
	rank     uint64         // random: the tie-break among PEX-only ones
	state    candState
	conn     ConnID // while connected
	failures int    // consecutive failures
	nextTry  time.Time
	self     bool // a handshake showed it is us
	good     bool // a connection to it once moved payload
	dialPEX  bool // the dial in flight counts against the PEX share
	metaFail int  // metadata attempts that failed (metadata phase)
	far      bool // its last connection named another zone (far.go)
}

func (cd *candidate) has(s Source) bool { return cd.sources&(1<<s) != 0 }

// pexOnly reports whether only PEX told us of the address.
func (cd *candidate) pexOnly() bool { return cd.sources == 1<<FromPEX }

// class orders candidates for dialling: named by the user or known to
// work first, then tracker and DHT peers, then PEX-only ones.
func (cd *candidate) class() int {
	switch {
	case cd.good || cd.has(FromUser):
		return 0
	case !cd.pexOnly():
		return 1
	}
	return 2
}

// redialDelay is the wait after the n-th consecutive failure: 1 s,
// doubling up to a minute, so a briefly busy peer is back at once and a
// dead one costs little.
func redialDelay(n int) time.Duration {
	return min(redialFirst<<min(max(n, 1)-1, 6), redialMax)
}

// AddCandidates remembers addresses learnt from src (not FromPEX: use
// PEXReceived) and dials what is due. Addresses beyond MaxCandidates are
// dropped, except that room is made by forgetting PEX-only candidates.
func (m *Manager) AddCandidates(now time.Time, src Source, addrs []netip.AddrPort) {
	m.step()
	if m.stopped {
		return
	}
	if src == FromDHT && len(addrs) > 0 {
		m.dhtFound = true
	}
	for _, a := range addrs {
		m.addCandidate(now, src, netip.AddrPort{}, a)
	}
	m.dialMore(now)
}

// addCandidate records one address; from is the PEX source for FromPEX.
func (m *Manager) addCandidate(now time.Time, src Source, from, a netip.AddrPort) {
	a = normal(a)
	if !a.IsValid() || a.Port() == 0 || a.Addr().IsUnspecified() {
		return
	}
	if cd := m.cands[a]; cd != nil {
		if src != FromPEX && cd.pexOnly() {
			m.unPEX(cd)
		}
		cd.sources |= 1 << src
		return
	}
	if src == FromPEX {
		if m.pexCands >= m.cfg.MaxCandidates/4 || m.pexBySrc[from] >= maxPEXPerSource {
			return
		}
	}
	if len(m.cands) >= m.cfg.MaxCandidates && !m.makeRoom(src) {
		return
	}
	m.seq++
	cd := &candidate{addr: a, idx: len(m.candList), sources: 1 << src, seq: m.seq, rank: m.rng.Uint64()}
	if src == FromPEX {
		cd.pexFrom = from
		m.pexCands++
		m.pexBySrc[from]++
	}
	if c := m.byListen[a]; c != nil {
		cd.state, cd.conn = connected, c.id
		c.cand = cd
	}
	m.cands[a] = cd
	m.candList = append(m.candList, cd)
}

// unPEX takes cd out of the PEX-only accounting (another source named it).
func (m *Manager) unPEX(cd *candidate) {
	m.pexCands--
	if m.pexBySrc[cd.pexFrom]--; m.pexBySrc[cd.pexFrom] <= 0 {
		delete(m.pexBySrc, cd.pexFrom)
	}
}

// makeRoom forgets one idle candidate for a newcomer from src: a PEX-only
// one that never worked, the one with most failures first. Others only
// make room for each other when they have failed.
func (m *Manager) makeRoom(src Source) bool {
	var victim *candidate
	for _, cd := range m.candList {
		if cd.state != idle || cd.good || cd.has(FromUser) {
			continue
		}
		if src == FromPEX && !cd.pexOnly() {
			continue
		}
		if !cd.pexOnly() && cd.failures == 0 {
			continue
		}
		if victim == nil || better(cd, victim) {
			victim = cd
		}
	}
	if victim == nil {
		return false
	}
	m.forget(victim)
	return true
}

// better reports whether a is a better eviction victim than b: PEX-only
// first, then most failures, then the oldest.
func better(a, b *candidate) bool {
	if a.pexOnly() != b.pexOnly() {
		return a.pexOnly()
	}
	if a.failures != b.failures {
		return a.failures > b.failures
	}
	return a.idx < b.idx
}

// forget removes a candidate from the table.
func (m *Manager) forget(cd *candidate) {
	if cd.pexOnly() {
		m.unPEX(cd)
	}
	delete(m.cands, cd.addr)
	last := m.candList[len(m.candList)-1]
	m.candList[cd.idx] = last
	last.idx = cd.idx
	m.candList = m.candList[:len(m.candList)-1]
}

// dialable reports whether cd may be dialled now.
func (m *Manager) dialable(now time.Time, cd *candidate) bool {
	switch {
	case cd.state != idle || cd.self || now.Before(cd.nextTry):
		return false
	case m.cfg.Complete && cd.failures > 0:
		return false // a seed leaves dead addresses alone
	case m.cfg.Metadata && cd.metaFail >= metadataAttempts:
		return false
	case m.byListen[cd.addr] != nil:
		return false // connected already, by its own dial
	}
	return len(m.bans) == 0 || !m.isBanned(now, addrKeys(cd.addr)...)
}

// dialMore dials due candidates, best first, while below the bounds on
// connections and dials in flight.
func (m *Manager) dialMore(now time.Time) {
	if m.stopped {
		return
	}
	free := min(m.cfg.MaxPeers-len(m.conns)-m.halfOpen, m.cfg.MaxHalfOpen-m.halfOpen)
	if free <= 0 {
		return
	}
	due := m.scratch[:0]
	farFull := m.farFull()
	for _, cd := range m.candList {
		if cd.far && farFull {
			continue // far, and the far slots are full (far.go)
		}
		if m.dialable(now, cd) {
			due = append(due, cd)
		}
	}
	slices.SortFunc(due, func(a, b *candidate) int {
		if d := a.class() - b.class(); d != 0 {
			return d
		}
		if d := a.failures - b.failures; d != 0 {
			return d
		}
		if a.class() == 2 {
			// PEX lists come sorted by address: every peer told by one
			// source would dial them in the same order.
			return cmp.Compare(a.rank, b.rank)
		}
		// The order learnt: a tracker hands a newcomer seeders first.
		return cmp.Compare(a.seq, b.seq)
	})
	for _, cd := range due {
		if free == 0 {
			break
		}
		if cd.pexOnly() {
			if m.halfPEX >= max(1, m.cfg.MaxHalfOpen/2) || !m.bucket(cd.pexFrom).take(now) {
				continue
			}
			cd.dialPEX = true
			m.halfPEX++
		}
		cd.state = dialing
		m.halfOpen++
		free--
		m.emit(Action{Kind: Dial, Addr: cd.addr})
	}
	clear(due)
	m.scratch = due[:0]
}

// DialFailed reports that a Dial of addr did not end in a handshake.
func (m *Manager) DialFailed(now time.Time, addr netip.AddrPort) {
	m.step()
	cd := m.cands[normal(addr)]
	if cd == nil || cd.state != dialing {
		return
	}
	m.dialEnded(cd)
	cd.state = idle
	cd.failures++
	cd.nextTry = now.Add(redialDelay(cd.failures))
	m.dialMore(now)
}

// dialEnded releases the half-open slot of cd's dial.
func (m *Manager) dialEnded(cd *candidate) {
	m.halfOpen--
	if cd.dialPEX {
		cd.dialPEX = false
		m.halfPEX--
	}
}

// bucket is a token bucket limiting dials to one PEX source's addresses.
type bucket struct {
	tokens float64
	at     time.Time
}

// bucket returns the bucket of a PEX source, full when new.
func (m *Manager) bucket(src netip.AddrPort) *bucket {
	b := m.buckets[src]
	if b == nil {
		if len(m.buckets) >= 4*m.cfg.MaxPeers {
			m.pruneBuckets()
		}
		b = &bucket{tokens: pexDialBurst}
		m.buckets[src] = b
	}
	return b
}

// take spends one token if there is one, refilling first.
func (b *bucket) take(now time.Time) bool {
	if !b.at.IsZero() {
		b.tokens = min(pexDialBurst, b.tokens+now.Sub(b.at).Seconds()/pexDialEvery.Seconds())
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// pruneBuckets forgets the buckets of sources with no candidates left
// (their addresses were dialled or forgotten), keeping the map bounded.
func (m *Manager) pruneBuckets() {
	for src := range m.buckets {
		if m.pexBySrc[src] == 0 {
			delete(m.buckets, src)
		}
	}
}

// normal unmaps 4in6 addresses so one peer has one key.
func normal(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
