package sim

import (
	"sort"
	"time"
)

// timelineBins is how many bins of the floor's length the timeline has
// (it grows past the floor as the run needs).
const timelineBins = 50

// trace records where a run's time goes, for the report: per receiver
// when its first block arrived, when it verified its first piece and how
// many useful bytes it had at the phase boundaries; per piece when it
// first left the origin whole and when the last receiver had it; and per
// time bin how busy the links were and how deep the request queues.
//
// Every field belongs to the simulation loop (single-threaded).
type trace struct {
	bin       int64 // bin length, ns
	pieceReal int64 // real bytes per modelled byte (layout scale)

	firstByte  []int64 // per host: arrival of its first block (-1: none)
	firstPiece []int64 // per host: its first verified piece (-1: none)
	firstSent  []int64 // per host: when its first block left its upload link (-1: none)
	useful     []int64 // per host: useful (written) real bytes so far
	atFirst    []int64 // per host: useful bytes when its first piece verified
	atOut      []int64 // per host: useful bytes when every piece had left the origin
	peersMin   []int32 // per host: fewest connected peers seen at a sample after its first block
	peersMax   []int32 // per host: most connected peers seen at a sample

	outAt    int64               // when every piece had left the origin once (-1: not yet)
	released int64               // real bytes of the pieces that left the origin whole
	pieceOut []int64             // per piece: when it first left the origin whole (-1)
	holders  []int32             // per piece: receivers that verified it
	pieceAll []int64             // per piece: when the last receiver that stayed verified it (-1)
	stayers  int32               // receivers that never leave (churnAt == 0)
	floors   map[float64]float64 // the floor of each receivers' class, by download rate

	bins []traceBin
}

// traceBin is one bin of the timeline. Busy times are nanoseconds summed
// over the hosts of the kind; the depths are sampled at the bin's start.
type traceBin struct {
	originUp, recvUp, recvDown int64
	useful                     int64 // useful real bytes the receivers received
	done                       int   // receivers finished by the bin's start
	reqs, queued, conns        int64 // summed over receivers at the bin's start
	active                     int64 // receivers with a piece in progress
	pieces                     int64 // pieces in progress, summed over receivers
	maxQueued                  int   // the most requests one receiver held for its peers
	// The receivers not gone at the bin's start (churn), and their
	// download capacity in real bytes per second: the averages' base.
	present     int
	presentDown float64
	// Receivers whose upload link was idle at the bin's start, by cause:
	// nothing asked of it, requests the core holds back (upload turns), or
	// blocks for backlogged receivers only.
	upNothing, upHeld, upCongested int
	// lag sums, over the receivers not finished at the bin's start, how
	// many seconds of their download the pieces that had left the origin
	// and they lacked were; lagging counts them.
	lag     float64
	lagging int
	sampled bool
}

func newTrace(s *simulation) *trace {
	n := len(s.hosts)
	bin := int64(floor(&s.cfg, s.hosts) * 1e9 / timelineBins)
	bin = max(bin, int64(time.Microsecond))
	t := &trace{bin: bin, pieceReal: s.lay.scale,
		firstByte: make([]int64, n), firstPiece: make([]int64, n), firstSent: make([]int64, n), useful: make([]int64, n),
		atFirst: make([]int64, n), atOut: make([]int64, n), outAt: -1,
		peersMin: make([]int32, n), peersMax: make([]int32, n),
		pieceOut: make([]int64, s.lay.numPieces), holders: make([]int32, s.lay.numPieces),
		pieceAll: make([]int64, s.lay.numPieces)}
	for i := range t.firstByte {
		t.firstByte[i], t.firstPiece[i], t.firstSent[i], t.peersMin[i] = -1, -1, -1, -1
	}
	for i := range t.pieceOut {
		t.pieceOut[i], t.pieceAll[i] = -1, -1
	}
	for _, h := range s.hosts[1:] {
		if h.churnAt == 0 {
			t.stayers++
		}
	}
	t.floors = classFloors(s)
	return t
}

// binAt returns the bin holding time ns, growing the timeline.
func (t *trace) binAt(ns int64) *traceBin {
	k := int(ns / t.bin)
	for len(t.bins) <= k {
		t.bins = append(t.bins, traceBin{})
	}
	return &t.bins[k]
}

// busy adds the interval [from, to) to the field chosen by pick of the
// bins it overlaps.
func (t *trace) busy(from, to int64, pick func(*traceBin) *int64) {
	for from < to {
		end := (from/t.bin + 1) * t.bin
		end = min(end, to)
		*pick(t.binAt(from)) += end - from
		from = end
	}
}

func originUpField(b *traceBin) *int64 { return &b.originUp }
func recvUpField(b *traceBin) *int64   { return &b.recvUp }
func recvDownField(b *traceBin) *int64 { return &b.recvDown }

// upload records h's upload link busy over [from, to).
func (t *trace) upload(h *host, from, to int64) {
	if h.origin {
		t.busy(from, to, originUpField)
	} else {
		if t.firstSent[h.idx] < 0 {
			t.firstSent[h.idx] = to
		}
		t.busy(from, to, recvUpField)
	}
}

// arrival records a block reaching receiver h: its download link was busy
// over [from, to).
func (t *trace) arrival(h *host, from, to int64) {
	if h.origin {
		return
	}
	if t.firstByte[h.idx] < 0 || to < t.firstByte[h.idx] {
		t.firstByte[h.idx] = to
	}
	t.busy(from, to, recvDownField)
}

// wrote records n useful modelled bytes received by h at now.
func (t *trace) wrote(h *host, now int64, n int64) {
	real := n * t.pieceReal
	t.useful[h.idx] += real
	t.binAt(now).useful += real
}

// verified records that h verified piece at now.
func (t *trace) verified(h *host, now int64, piece int) {
	if h.origin {
		return
	}
	if t.firstPiece[h.idx] < 0 {
		t.firstPiece[h.idx], t.atFirst[h.idx] = now, t.useful[h.idx]
	}
	if h.churnAt == 0 {
		t.holders[piece]++
		if t.holders[piece] == t.stayers {
			t.pieceAll[piece] = now
		}
	}
}

// pieceLeft records that piece left the origin whole for the first time;
// last says it was the last piece to do so.
func (t *trace) pieceLeft(s *simulation, piece int, last bool) {
	t.pieceOut[piece] = s.now
	n := s.lay.pieceLength
	if piece == s.lay.numPieces-1 {
		n = s.cfg.Size - int64(s.lay.numPieces-1)*s.lay.pieceLength
	}
	t.released += n
	if last {
		t.outAt = s.now
		copy(t.atOut, t.useful)
	}
}

// sample records the receivers' queue depths at the start of the bin
// holding s.now.
func (t *trace) sample(s *simulation) {
	b := t.binAt(s.now)
	b.sampled, b.done = true, s.finished
	for _, h := range s.hosts[1:] {
		if h.gone {
			continue
		}
		b.present++
		b.presentDown += h.downReal
		st := h.core.Stats()
		np := int32(st.Peers)
		t.peersMax[h.idx] = max(t.peersMax[h.idx], np)
		if !h.done && t.firstByte[h.idx] >= 0 && (t.peersMin[h.idx] < 0 || np < t.peersMin[h.idx]) {
			t.peersMin[h.idx] = np
		}
		if !h.done {
			b.lag += float64(t.released-t.useful[h.idx]) / h.downReal
			b.lagging++
		}
		b.reqs += int64(st.Requests)
		b.queued += int64(st.QueuedUploads)
		b.conns += int64(st.Peers)
		if st.Active > 0 {
			b.active++
		}
		b.pieces += int64(st.Active)
		b.maxQueued = max(b.maxQueued, st.QueuedUploads)
		if !h.busy {
			switch {
			case h.rr.len() > 0:
				b.upCongested++
			case st.QueuedUploads > 0:
				b.upHeld++
			default:
				b.upNothing++
			}
		}

	}
}

// Breakdown says where one receiver's time went beyond its floor: the
// three parts add up to its finish time minus its floor. Each part is the
// length of the phase minus the time the receiver would have needed, at
// the pace that meets its floor exactly, for the useful bytes it received
// in that phase; a phase in which it ran ahead of that pace counts
// negative.
type Breakdown struct {
	// StartupS: from the start to its first verified piece.
	StartupS float64 `json:"startup_s"`
	// SteadyS: from its first piece until every piece had left the origin.
	SteadyS float64 `json:"steady_s"`
	// TailS: from then until it had every piece.
	TailS float64 `json:"tail_s"`
}

// Diagnosis is what the trace measured, for finding where time goes.
type Diagnosis struct {
	// LastBreakdown is the breakdown of the receiver that finished last;
	// MeanBreakdown the mean over the receivers that finished.
	LastBreakdown Breakdown `json:"last_breakdown"`
	MeanBreakdown Breakdown `json:"mean_breakdown"`
	// FirstByte and FirstPiece are quantiles over the receivers of when
	// their first block arrived and their first piece verified.
	FirstByte  Quantiles `json:"first_byte_s"`
	FirstPiece Quantiles `json:"first_piece_s"`
	// FirstSent is when the receivers' first block left their upload
	// link, and Silent, of those that sent one, how long after their first
	// verified piece (report_startup.go).
	FirstSent Quantiles `json:"first_sent_s"`
	Silent    Silence   `json:"silent_after_first_piece"`
	// OriginFirstCopyS is when every piece had left the origin once;
	// OriginIdleS how long its upload link was idle before that.
	OriginFirstCopyS float64 `json:"origin_first_copy_s"`
	OriginIdleS      float64 `json:"origin_idle_s"`
	// PieceSpread is, over the pieces, the time from a piece first leaving
	// the origin whole to the last receiver that stayed verifying it.
	PieceSpread Quantiles `json:"piece_spread_s"`
	// Slowest are the receivers that finished last, latest first.
	Slowest []Straggler `json:"slowest"`
	// BinS is the length of one Timeline bin.
	BinS     float64       `json:"bin_s"`
	Timeline []TimelineBin `json:"timeline"`
}

// Straggler is what the trace knows of one of the last receivers to
// finish: when it finished, got its first block and piece, how many peers
// it had (fewest at a sample while it downloaded, most at any), and how
// much of the file it held when every piece had left the origin.
type Straggler struct {
	Host        int       `json:"host"`
	FinishS     float64   `json:"finish_s"`
	FirstByteS  float64   `json:"first_byte_s"`
	FirstPieceS float64   `json:"first_piece_s"`
	PeersMin    int       `json:"peers_min"`
	PeersMax    int       `json:"peers_max"`
	HeldAtOut   float64   `json:"held_at_origin_first_copy"` // fraction of F
	Breakdown   Breakdown `json:"breakdown"`
	// PeersLost is how many of its connections closed because the other
	// end left (Config.Churn; churn.go).
	PeersLost int `json:"peers_lost,omitempty"`
}

// Quantiles summarizes a distribution.
type Quantiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// TimelineBin is one bin of the run: link utilization as fractions of the
// bin (the receivers' averaged over the receivers present), the useful
// download rate of the receivers as a fraction of their combined download
// capacity, and the mean depths per receiver at the bin's start.
type TimelineBin struct {
	StartS     float64 `json:"start_s"`
	OriginUp   float64 `json:"origin_up"`
	RecvUp     float64 `json:"recv_up"`
	RecvDown   float64 `json:"recv_down"`
	UsefulDown float64 `json:"useful_down"`
	Done       float64 `json:"done"`
	Requests   float64 `json:"requests"`
	Queued     float64 `json:"queued_uploads"`
	Conns      float64 `json:"conns"`
	Active     float64 `json:"downloading"`
	// Pieces is the mean number of pieces in progress per receiver;
	// MaxQueued the most peers' requests one receiver held.
	Pieces    float64 `json:"pieces_in_progress"`
	MaxQueued int     `json:"max_queued_uploads"`
	// The fractions of receivers whose upload link was idle at the bin's
	// start, by cause: nothing asked of it, requests held back by the
	// core's upload turns, or blocks only for receivers whose download is
	// backlogged (see DownBuffer).
	UpIdleNothing   float64 `json:"up_idle_nothing_asked"`
	UpIdleHeld      float64 `json:"up_idle_held"`
	UpIdleCongested float64 `json:"up_idle_congested"`
	// LagS is how far the receivers not finished at the bin's start were
	// behind the origin, on average: the bytes of the pieces that had
	// left it whole that they lacked, in seconds of their download. When
	// the origin's upload is no faster than a receiver's download (the
	// flat fleet at its floor) a receiver can never gain on it, so LagS
	// is time lost for good; and a receiver whose lag falls to the time a
	// new piece takes to reach its peers runs out of pieces to fetch.
	// Blocks of pieces still leaving the origin count as held, so it may
	// dip below zero.
	LagS float64 `json:"frontier_lag_s"`
}

// diagnose turns the trace into the report's Diagnosis.
func (t *trace) diagnose(s *simulation, r *Report) *Diagnosis {
	d := &Diagnosis{BinS: float64(t.bin) / 1e9}
	F := float64(s.cfg.Size)
	var fb, fp []float64
	n := 0
	lastAt := int64(-1)
	for _, h := range s.hosts[1:] {
		if t.firstByte[h.idx] >= 0 {
			fb = append(fb, float64(t.firstByte[h.idx])/1e9)
		}
		if t.firstPiece[h.idx] >= 0 {
			fp = append(fp, float64(t.firstPiece[h.idx])/1e9)
		}
		if h.churnAt > 0 || !h.done || t.outAt < 0 {
			continue
		}
		b := t.breakdown(h, F, F/t.floors[h.downReal])
		d.MeanBreakdown.StartupS += b.StartupS
		d.MeanBreakdown.SteadyS += b.SteadyS
		d.MeanBreakdown.TailS += b.TailS
		n++
		if h.finishedAt > lastAt {
			lastAt, d.LastBreakdown = h.finishedAt, b
		}
	}
	if n > 0 {
		d.MeanBreakdown.StartupS /= float64(n)
		d.MeanBreakdown.SteadyS /= float64(n)
		d.MeanBreakdown.TailS /= float64(n)
	}
	d.FirstByte, d.FirstPiece = quantiles(fb), quantiles(fp)
	d.FirstSent, d.Silent = t.silence(s)
	d.Slowest = t.slowest(s, F, 3)
	if t.outAt >= 0 {
		d.OriginFirstCopyS = float64(t.outAt) / 1e9
		busy := int64(0)
		for k := range t.bins {
			start := int64(k) * t.bin
			if start >= t.outAt {
				break
			}
			if end := start + t.bin; end > t.outAt {
				// Part of a bin: assume the busy time spread evenly.
				busy += t.bins[k].originUp * (t.outAt - start) / t.bin
			} else {
				busy += t.bins[k].originUp
			}
		}
		d.OriginIdleS = float64(t.outAt-busy) / 1e9
	}
	var spread []float64
	for i, out := range t.pieceOut {
		if out >= 0 && t.pieceAll[i] >= 0 {
			spread = append(spread, float64(t.pieceAll[i]-out)/1e9)
		}
	}
	d.PieceSpread = quantiles(spread)
	// Receivers present per bin, for the averages: those that had not
	// left at the bin's start are all counted (one that had not joined
	// yet, or had finished, counts as idle); a bin not sampled takes the
	// count of the one before.
	recv := float64(s.cfg.Peers)
	down := 0.0
	for _, h := range s.hosts[1:] {
		down += h.downReal
	}
	bs := float64(t.bin)
	for k, b := range t.bins {
		if b.sampled && b.present > 0 {
			recv, down = float64(b.present), b.presentDown
		}
		tb := TimelineBin{StartS: float64(int64(k)*t.bin) / 1e9,
			OriginUp: float64(b.originUp) / bs, RecvUp: float64(b.recvUp) / bs / recv,
			RecvDown: float64(b.recvDown) / bs / recv, Done: float64(b.done) / float64(s.cfg.Peers)}
		if down > 0 {
			tb.UsefulDown = float64(b.useful) / (down * bs / 1e9)
		}
		if b.sampled {
			tb.Requests, tb.Queued = float64(b.reqs)/recv, float64(b.queued)/recv
			tb.Conns, tb.Active = float64(b.conns)/recv, float64(b.active)/recv
			tb.Pieces, tb.MaxQueued = float64(b.pieces)/recv, b.maxQueued
			tb.UpIdleNothing, tb.UpIdleHeld = float64(b.upNothing)/recv, float64(b.upHeld)/recv
			tb.UpIdleCongested = float64(b.upCongested) / recv
			if b.lagging > 0 {
				tb.LagS = b.lag / float64(b.lagging)
			}
		}
		d.Timeline = append(d.Timeline, tb)
	}
	return d
}

// slowest returns the k receivers that stayed and finished last, latest
// first.
func (t *trace) slowest(s *simulation, F float64, k int) []Straggler {
	var hs []*host
	for _, h := range s.hosts[1:] {
		if h.churnAt == 0 && h.done {
			hs = append(hs, h)
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].finishedAt > hs[j].finishedAt })
	out := []Straggler{}
	for _, h := range hs[:min(k, len(hs))] {
		st := Straggler{Host: h.idx, FinishS: float64(h.finishedAt) / 1e9,
			FirstByteS: float64(t.firstByte[h.idx]) / 1e9, FirstPieceS: float64(t.firstPiece[h.idx]) / 1e9,
			PeersMin: int(t.peersMin[h.idx]), PeersMax: int(t.peersMax[h.idx]), HeldAtOut: float64(t.atOut[h.idx]) / F,
			PeersLost: int(h.lost)}
		if t.outAt >= 0 {
			st.Breakdown = t.breakdown(h, F, F/t.floors[h.downReal])
		}
		out = append(out, st)
	}
	return out
}

// breakdown splits h's time beyond its floor into the three phases; F is
// the file's size and v the pace (real bytes per second) that meets its
// floor.
func (t *trace) breakdown(h *host, F, v float64) Breakdown {
	sec := func(ns int64) float64 { return float64(ns) / 1e9 }
	fp, ufp := t.firstPiece[h.idx], float64(t.atFirst[h.idx])
	out, uout := t.outAt, float64(t.atOut[h.idx])
	if fp > out {
		// Its first piece came after the origin's first copy (it joined
		// late): no steady phase.
		out, uout = fp, ufp
	}
	return Breakdown{
		StartupS: sec(fp) - ufp/v,
		SteadyS:  sec(out-fp) - (uout-ufp)/v,
		TailS:    sec(h.finishedAt-out) - (F-uout)/v,
	}
}

// classFloors returns the floor of each class of receivers (by download
// rate d): max(F/u_s, F/d, n·F/(u_s+Σu)) with n the receivers of the
// class that stay (churn: one that leaves needs no whole copy) and Σu over
// every receiver; with one class it is the run's floor.
func classFloors(s *simulation) map[float64]float64 {
	F := float64(s.cfg.Size)
	sum, n := 0.0, map[float64]int{}
	for _, h := range s.hosts[1:] {
		sum += h.upReal
		if h.churnAt == 0 {
			n[h.downReal]++
		}
	}
	out := make(map[float64]float64, len(n))
	for d, k := range n {
		out[d] = max(F/s.cfg.OriginLink, F/d, float64(k)*F/(s.cfg.OriginLink+sum))
	}
	return out
}

// quantiles returns the p50, p99 and maximum of xs (sorted in place).
func quantiles(xs []float64) Quantiles {
	if len(xs) == 0 {
		return Quantiles{}
	}
	sort.Float64s(xs)
	return Quantiles{P50: percentile(xs, 0.5), P99: percentile(xs, 0.99), Max: xs[len(xs)-1]}
}
