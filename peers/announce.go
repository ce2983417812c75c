package peers

import (
	"net/netip"
	"time"
)

// Tracker timing.
const (
	// DefaultAnnounceInterval is used when a tracker names no interval.
	DefaultAnnounceInterval = 30 * time.Second
	// DefaultMinInterval is the starved cadence when a tracker names no
	// min interval.
	DefaultMinInterval   = 5 * time.Second
	announceRetryFirst   = 2 * time.Second
	announceRetryStarved = 15 * time.Second // cap while the tracker is our hope
	announceRetryMax     = time.Minute
)

// DHT timing. The early re-announces matter in a young network: an
// announce reaches the K nodes closest to the info hash that exist at the
// time, and nodes that join later and are closer would otherwise not learn
// of us for a quarter of an hour.
const (
	dhtAnnounceFirst = 5 * time.Second
	dhtAnnounceEvery = 15 * time.Minute
	dhtAnnounceEarly = 2 * time.Minute // announce every dhtAnnounceFirst this long
	dhtRetry         = 2 * time.Second
	dhtNoNodesRetry  = 250 * time.Millisecond // the node is still joining
	dhtLookupFew     = 5 * time.Second
	dhtLookupMany    = 2 * time.Minute
	dhtLookupMagnet  = 2 * time.Second // while fetching metadata
	dhtLookupNone    = time.Second     // while fetching metadata and no peer was found
)

// trackerState is the announce schedule of one tracker.
type trackerState struct {
	next        time.Time
	busy        bool          // an Announce is out
	inFlight    AnnounceEvent // its event
	attempted   bool          // an announce was sent at least once
	started     bool          // a "started" succeeded
	completed   bool          // "completed" is owed
	failures    int
	interval    time.Duration
	minInterval time.Duration
}

// dhtState is the DHT schedule.
type dhtState struct {
	nextLookup, nextAnnounce time.Time
	lookupBusy, announceBusy bool
	gap                      time.Duration // between late announces, doubling
}

// AnnounceResult is what one announce brought.
type AnnounceResult struct {
	// Err is the announce's error, nil on success.
	Err error
	// Interval and MinInterval are the tracker's, zero if it named none.
	Interval, MinInterval time.Duration
	// Peers are the addresses it handed out.
	Peers []netip.AddrPort
}

// LookupResult is what a DHT lookup or announce came to.
type LookupResult struct {
	// NoNodes says the node knows no other node yet (still joining).
	NoNodes bool
	// Err is any other failure.
	Err error
}

// timers emits the announces and lookups that are due.
func (m *Manager) timers(now time.Time) {
	if m.stopped {
		return
	}
	for i := range m.trackers {
		tr := &m.trackers[i]
		if tr.busy || now.Before(tr.next) {
			continue
		}
		ev := EventNone
		switch {
		case !tr.started:
			ev = EventStarted
		case tr.completed:
			ev = EventCompleted
		}
		tr.busy, tr.inFlight, tr.attempted = true, ev, true
		m.emit(Action{Kind: Announce, Tracker: i, Event: ev, NumWant: NumWant})
	}
	if !m.cfg.DHT {
		return
	}
	if !m.dht.lookupBusy && !m.cfg.Complete && !now.Before(m.dht.nextLookup) {
		m.dht.lookupBusy = true
		m.emit(Action{Kind: Lookup})
	}
	if !m.dht.announceBusy && !m.cfg.Metadata && !now.Before(m.dht.nextAnnounce) {
		m.dht.announceBusy = true
		m.emit(Action{Kind: AnnounceDHT})
	}
}

// AnnounceDone reports the result of tracker i's Announce. Its peers become
// candidates; the next announce is scheduled: at the tracker's interval,
// its min interval while starved, or after a backoff on failure.
func (m *Manager) AnnounceDone(now time.Time, i int, r AnnounceResult) {
	m.step()
	if i < 0 || i >= len(m.trackers) || !m.trackers[i].busy {
		return
	}
	tr := &m.trackers[i]
	tr.busy = false
	if r.Err != nil {
		tr.failures++
		limit := announceRetryMax
		if m.Starved() {
			limit = announceRetryStarved
		}
		tr.next = now.Add(min(announceRetryFirst<<min(tr.failures-1, 6), limit))
		m.timers(now)
		return
	}
	tr.failures = 0
	switch tr.inFlight {
	case EventStarted:
		tr.started = true
	case EventCompleted:
		tr.completed = false
	}
	tr.interval, tr.minInterval = r.Interval, r.MinInterval
	tr.next = now.Add(m.announceWait(tr))
	if tr.completed {
		tr.next = now // owed since the download completed
	}
	for _, a := range r.Peers {
		m.addCandidate(now, FromTracker, netip.AddrPort{}, a)
	}
	m.timers(now)
	m.dialMore(now)
}

// announceWait is the wait until a tracker's next regular announce.
func (m *Manager) announceWait(tr *trackerState) time.Duration {
	wait := tr.interval
	if wait <= 0 {
		wait = DefaultAnnounceInterval
	}
	if m.Starved() {
		short := tr.minInterval
		if short <= 0 {
			short = DefaultMinInterval
		}
		wait = min(wait, short)
	}
	return wait
}

// Completed reports that every piece is verified: trackers hear
// "completed" at once, DHT lookups stop and failed addresses are no longer
// retried.
func (m *Manager) Completed(now time.Time) {
	m.step()
	if m.cfg.Complete {
		return
	}
	m.cfg.Complete = true
	for i := range m.trackers {
		tr := &m.trackers[i]
		if tr.started {
			tr.completed = true
			tr.next = now
		}
	}
	m.timers(now)
}

// LookupDone reports the end of a DHT Lookup and schedules the next one:
// soon while starved, rarely once the torrent has peers.
func (m *Manager) LookupDone(now time.Time, r LookupResult) {
	m.step()
	if !m.dht.lookupBusy {
		return
	}
	m.dht.lookupBusy = false
	wait := dhtLookupMany
	switch {
	case r.NoNodes:
		wait = dhtNoNodesRetry
	case r.Err != nil:
		wait = dhtRetry
	case m.cfg.Metadata && !m.dhtFound:
		wait = dhtLookupNone
	case m.cfg.Metadata:
		wait = dhtLookupMagnet
	case m.Starved():
		wait = dhtLookupFew
	}
	m.dht.nextLookup = now.Add(wait)
	m.timers(now)
}

// DHTAnnounced reports the end of an AnnounceDHT and schedules the next:
// every 5 s for the first 2 minutes and while nobody found us, then at
// doubling intervals up to 15 minutes.
func (m *Manager) DHTAnnounced(now time.Time, r LookupResult) {
	m.step()
	if !m.dht.announceBusy {
		return
	}
	m.dht.announceBusy = false
	switch {
	case r.NoNodes:
		m.dht.nextAnnounce = now.Add(dhtNoNodesRetry)
	case r.Err != nil:
		m.dht.nextAnnounce = now.Add(dhtRetry)
	case len(m.conns) == 0 || now.Sub(m.start) < dhtAnnounceEarly:
		m.dht.nextAnnounce = now.Add(dhtAnnounceFirst)
	default:
		m.dht.nextAnnounce = now.Add(m.dht.gap)
		m.dht.gap = min(2*m.dht.gap, dhtAnnounceEvery)
	}
	m.timers(now)
}

// Stop ends the torrent: every tracker announced to hears "stopped"; the
// manager decides nothing more.
func (m *Manager) Stop(now time.Time) {
	m.step()
	if m.stopped {
		return
	}
	m.stopped = true
	for i := range m.trackers {
		if m.trackers[i].attempted {
			m.emit(Action{Kind: Announce, Tracker: i, Event: EventStopped})
		}
	}
}
