package swarm

import (
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// Pipeline depth bounds (requests outstanding to one peer).
const (
	minPipeline     = 4
	initialPipeline = 16
)

// pipelineSeconds is the least of a peer's measured rate we keep requested
// from it. Every request waits in the uploader's queue behind the others,
// so a deep pipeline delays new pieces on every hop; a quarter second
// covers many round trips on a data-centre network, and the round-trip
// term below takes over where it does not.
const pipelineSeconds = 0.25

// rttHeadroom is how many round trips of the measured rate we keep
// requested once a round trip is known: the bandwidth-delay product plus
// half again, so a round trip a little longer than the last one measured,
// or a rate a little higher, still finds the peer busy.
const rttHeadroom = 1.5

// pipeline sizes the request pipeline to one peer from what its answers
// show. Requests are grouped into rounds, as TCP groups segments: a round
// starts with an arrival, takes in every request sent from then on, and
// ends when the first of those is answered. A round that (a) answered
// every request sent before it, (b) arrived as one burst, (c) was followed
// by a pause at least as long as a quarter of the burst and several times
// its longest inner gap, (d) during which the other peers together
// delivered no more than the burst, and (e) had all the blocks it could
// ask for, shows a peer that answers everything at once and then waits
// for us, while our own link waits too: a Transmission seeder answering
// in 500 ms pulses, or a seeder at a long round trip. There, the time from
// a request of the round to its answer is a round trip free of our own
// queue at the peer, and the pipeline is the bottleneck: the next round
// may ask twice the pipeline. A peer kept busy never pauses like that; a
// round that spans several pauses (a peer serving others in turns, or
// spending a per-pulse allowance) measures nothing; and a pause that
// other peers fill is our link (or the peer's) being shared, as in a
// fleet, where deeper pipelines would only queue more at every uploader.
//
// Every field belongs to the core (single-threaded).
type pipeline struct {
	nextSeq    uint64        // sequence number of the next request to the peer
	roundSeq   uint64        // first sequence number of the current round's requests
	roundStart time.Time     // arrival that started the current round (zero: no answer yet)
	lastArrive time.Time     // latest arrival of an answer to our request
	maxGap     time.Duration // longest gap between two arrivals inside the current round
	drained    bool          // the last round ended drained (see answered)
	rtt        time.Duration // round trip measured at an idle peer (0: none)
	floor      int           // depth the last round earned by draining the pipeline (0: none)
	blocks     int           // answers in the current round
	totalAt    int64         // the torrent's downloaded bytes after the peer's last answer

	// starvedNow and starvedLast say whether the pipeline fell short of
	// its target for want of blocks to ask (the peer had nothing more we
	// need) in the current and the previous round: a round answered at
	// once then shows what the peer has, not a pipeline too shallow.
	starvedNow, starvedLast bool
}

// sent numbers a new request to the peer.
func (pl *pipeline) sent() uint64 {
	pl.nextSeq++
	return pl.nextSeq - 1
}

// answered records that the answer to r, one of our requests, arrived at
// now; outstanding are the requests still open to the peer, oldest first
// (r removed), and total is the torrent's payload received so far, this
// answer included.
func (pl *pipeline) answered(now time.Time, r request, outstanding []request, total int64) {
	others := total - pl.totalAt - int64(r.spec.Length) // what other peers delivered since the peer's last answer
	pl.totalAt = total
	if pl.roundStart.IsZero() {
		pl.startRound(now)
		return
	}
	gap := now.Sub(pl.lastArrive)
	pl.lastArrive = now
	if r.seq < pl.roundSeq {
		pl.maxGap = max(pl.maxGap, gap) // still answering what was asked before the round
		pl.blocks++
		return
	}
	// The first answer to a request of this round: the round ends.
	span := now.Sub(pl.roundStart) - gap
	answeredAll := len(outstanding) == 0 || outstanding[0].seq >= pl.roundSeq
	full := !pl.starvedNow && !pl.starvedLast
	idle := others <= int64(pl.blocks)*wire.BlockSize // the pause was ours, not shared
	if answeredAll && full && idle && gap > 0 && gap >= 4*pl.maxGap && 4*gap >= span {
		// A round trip longer than the one we know counts only from the
		// second drained round in a row (a shorter one at once): a busy
		// peer that stalls once, just at a round's end, must not deepen
		// the pipeline for good.
		if sample := now.Sub(r.at); pl.drained || (pl.rtt > 0 && sample < pl.rtt) {
			pl.rtt = sample
		}
		pl.floor = 2 * (len(outstanding) + 1) // the whole pipeline, twice
		pl.drained = true
	} else {
		pl.floor, pl.drained = 0, false
	}
	pl.startRound(now)
}

// startRound starts a round with the answer that arrived at now: requests
// sent from now on belong to it.
func (pl *pipeline) startRound(now time.Time) {
	pl.roundSeq, pl.roundStart, pl.lastArrive, pl.maxGap, pl.blocks = pl.nextSeq, now, now, 0, 1
	pl.starvedLast, pl.starvedNow = pl.starvedNow, false
}

// starved records that a fill found nothing more to ask of the peer.
func (pl *pipeline) starved() { pl.starvedNow = true }

// snubbed forgets what the pipeline earned after p timed out.
func (pl *pipeline) snubbed() { pl.floor, pl.drained = 0, false }

// target returns how many requests we keep outstanding to p: the larger of
// a quarter second of its measured rate plus two and, once a round trip
// is known, rttHeadroom round trips of that rate plus two, at least what
// the last drained round earned; clamped to [4, cap], cap being
// MaxRequestsPerPeer and the peer's reqq. Before any rate is known it is
// initialPipeline.
func (s *Swarm) target(p *peer) int {
	limit := s.cfg.MaxRequestsPerPeer
	if p.reqq > 0 && p.reqq < limit {
		limit = p.reqq
	}
	t := initialPipeline
	if p.rateKnown {
		t = int(p.downRate*pipelineSeconds/wire.BlockSize) + 2
		if pl := &p.pipe; pl.rtt > 0 {
			t = max(t, int(p.downRate*pl.rtt.Seconds()*rttHeadroom/wire.BlockSize)+2)
		}
	}
	t = max(t, p.pipe.floor, minPipeline)
	return min(t, limit)
}
