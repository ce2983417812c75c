package sim

import (
	"fmt"

	"math"

	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// Racks. With Config.RackSize the receivers sit in racks of RackSize hosts
// (receiver i in rack (i-1)/RackSize; the origin in rack 0, beside its
// first RackSize receivers), each rack behind an uplink of RackUplink
// bytes per second in each direction, the uplinks joined by a core of
// CoreRate. A block between two hosts of one rack goes as before (upload
// link, latency, download link); a block between racks also passes its
// rack's uplink out, the core and the other rack's uplink in, each a FIFO
// server of its rate.
//
// The servers are fluid and cut-through: a block whose bytes reach a
// server over [first, last] starts there at max(first, free), leaves it at
// max(last, start + size/rate), and occupies it for size/rate, so a server
// fed by many slower streams carries its full rate (40 hosts at u into an
// uplink of 10u: the uplink moves 10u), and one fed by a single faster
// stream delays it. Like the download link it has unbounded buffers: a
// congested uplink delays blocks (the core's request pipelines, sized from
// the rate each peer delivers, then ask less of far peers) rather than
// dropping them. Control messages do not queue at the uplinks.

// racks is the network between the hosts' own links when they sit in
// racks.
type racks struct {
	size  int
	of    []int32 // the rack of each host
	count int
	// out and in are each rack's uplink out of and into it; core joins
	// them. Rates are in modelled bytes per nanosecond.
	out, in []fifoServer
	core    fifoServer
	// inBytes and outBytes count the modelled bytes that entered and left
	// each rack through its uplink.
	inBytes, outBytes []int64
	labels            []string // each rack's label ("dc1/rowK/rackK")
	// farPeak is, per host, the most far connections its peer manager
	// held at once while it downloaded (farKnown; 0 without labels in the
	// cores).
	farPeak       []int32
	farCountedMax int // the most of them not seeds (the far bound's count)
	// Per rack and piece (index rack*pieces + piece): when a receiver of
	// the rack first and last verified it, and how many have; per rack
	// its receivers. For the report's entry and spread figures.
	pieces             int
	firstIn, lastIn    []int64
	holders, receivers []int32
	// Per timeline bin (trace.bin long), summed over the racks: the
	// modelled ns the uplinks into them were busy, and of those the ns
	// they carried a piece no receiver of the rack had verified yet.
	bin              int64
	inBusy, inUnseen []int64
	// verifiedAt is, per host and piece (host*pieces + piece), when the
	// host verified it (0: not); entrySrc and entryAt, per rack and piece,
	// the host whose block of the piece first reached the rack and when.
	verifiedAt []int64
	entrySrc   []int32
	entryAt    []int64
	// pieceIn is, per rack and piece, the modelled bytes of the piece that
	// entered the rack; dupHeld and dupFlight, per rack, the bytes beyond
	// one copy of each piece that entered while a receiver of the rack
	// held the piece verified, and while none did yet (two fetches of it
	// across the uplink at once).
	pieceIn            []int64
	dupHeld, dupFlight []int64
	dupHeldStart       []int64 // of dupHeld, those held before the block started upload
	// farSeen and farReq are, per host and piece, when the host first
	// learned a far peer has the piece and first asked a far peer for it
	// (0: not; racks_tail.go), nearSeen and nearReq the same for near
	// peers; lastArrive, per host, when its last block arrived, and gap
	// the longest wait between two, from gapAt.
	farSeen, farReq, nearSeen, nearReq []int64
	lastArrive, gap, gapAt             []int64
}

// fifoServer is one shared link: a FIFO server of a rate (+Inf: none).
type fifoServer struct {
	rate float64 // modelled bytes per ns
	free int64   // when the work queued so far is done
}

// pass sends a block of size modelled bytes through the server, its bytes
// arriving over [first, last]; it returns when they leave the server.
func (f *fifoServer) pass(first, last int64, size float64) (int64, int64) {
	if math.IsInf(f.rate, 1) {
		return first, last
	}
	work := int64(size / f.rate)
	start := max(first, f.free)
	f.free = start + work
	return start, max(last, start+work)
}

// checkRacks validates the rack fields of a Config.
func (c *Config) checkRacks() error {
	switch {
	case c.RackSize < 0:
		return fmt.Errorf("%w: negative rack size", ErrInvalidConfig)
	case c.RackSize == 0 && (c.RackUplink != 0 || c.CoreRate != 0):
		return fmt.Errorf("%w: a rack uplink or core rate needs a rack size", ErrInvalidConfig)
	case c.RackUplink < 0 || c.CoreRate < 0 || math.IsNaN(c.RackUplink) || math.IsNaN(c.CoreRate):
		return fmt.Errorf("%w: rack uplink and core rates must be positive (0: unlimited)", ErrInvalidConfig)
	}
	return nil
}

// newRacks builds the racks of cfg for n hosts (host 0 the origin), or
// nil when cfg models none; scale is the real bytes per modelled byte.
func newRacks(cfg *Config, n int, scale int64) *racks {
	if cfg.RackSize <= 0 {
		return nil
	}
	rk := &racks{size: cfg.RackSize, of: make([]int32, n)}
	for i := 1; i < n; i++ {
		rk.of[i] = int32((i - 1) / cfg.RackSize)
	}
	rk.count = int(rk.of[n-1]) + 1
	rk.labels = make([]string, rk.count)
	for k := range rk.labels {
		rk.labels[k] = fmt.Sprintf("dc1/row%d/rack%d", k/5, k)
	}
	rate := func(r float64) float64 {
		if r <= 0 {
			return math.Inf(1)
		}
		return r / float64(scale) / 1e9
	}
	rk.out, rk.in = make([]fifoServer, rk.count), make([]fifoServer, rk.count)
	for k := range rk.count {
		rk.out[k].rate, rk.in[k].rate = rate(cfg.RackUplink), rate(cfg.RackUplink)
	}
	rk.core.rate = rate(cfg.CoreRate)
	rk.inBytes, rk.outBytes = make([]int64, rk.count), make([]int64, rk.count)
	rk.farPeak = make([]int32, n)
	return rk
}

// track sets up the per-piece and per-bin records (pieces in the
// torrent, bin the trace's bin length).
func (rk *racks) track(pieces int, bin int64) {
	rk.pieces, rk.bin = pieces, bin
	rk.firstIn, rk.lastIn = make([]int64, rk.count*pieces), make([]int64, rk.count*pieces)
	rk.holders, rk.receivers = make([]int32, rk.count*pieces), make([]int32, rk.count)
	rk.verifiedAt = make([]int64, len(rk.of)*pieces)
	rk.entrySrc, rk.entryAt = make([]int32, rk.count*pieces), make([]int64, rk.count*pieces)
	rk.pieceIn = make([]int64, rk.count*pieces)
	rk.dupHeld, rk.dupFlight = make([]int64, rk.count), make([]int64, rk.count)
	rk.dupHeldStart = make([]int64, rk.count)
	for i := range rk.entrySrc {
		rk.entrySrc[i] = -1
	}
	for i := 1; i < len(rk.of); i++ {
		rk.receivers[rk.of[i]]++
	}
	rk.trackTail()
}

// verified records that host idx (a receiver) verified piece at now.
func (rk *racks) verified(idx int, piece int, now int64) {
	rk.verifiedAt[idx*rk.pieces+piece] = now
	k := int(rk.of[idx])*rk.pieces + piece
	if rk.holders[k] == 0 {
		rk.firstIn[k] = now
	}
	rk.holders[k]++
	rk.lastIn[k] = now
}

// entered records a block of piece entering rack b, its uplink busy
// over [start, end).
func (rk *racks) entered(b int32, piece int, start, end int64) {
	if rk.bin <= 0 {
		return
	}
	unseen := rk.holders[int(b)*rk.pieces+piece] == 0
	for from := start; from < end; {
		k := int(from / rk.bin)
		for len(rk.inBusy) <= k {
			rk.inBusy, rk.inUnseen = append(rk.inBusy, 0), append(rk.inUnseen, 0)
		}
		to := min((from/rk.bin+1)*rk.bin, end)
		rk.inBusy[k] += to - from
		if unseen {
			rk.inUnseen[k] += to - from
		}
		from = to
	}
}

// countDup adds n modelled bytes of a piece of length (modelled) plen
// entering rack b (k its rack and piece index) and counts those beyond
// the piece's first copy as duplicates.
func (rk *racks) countDup(b int32, k int, plen, n, start int64) {
	before := rk.pieceIn[k]
	rk.pieceIn[k] += n
	dup := min(n, rk.pieceIn[k]-max(before, plen))
	if dup <= 0 {
		return
	}
	if rk.holders[k] > 0 {
		rk.dupHeld[b] += dup
		if rk.firstIn[k] <= start {
			rk.dupHeldStart[b] += dup
		}
	} else {
		rk.dupFlight[b] += dup
	}
}

// rackArrival is when a block of size modelled bytes, whose last byte
// left from's upload link now, has reached to: through the uplinks and
// the core when they are in different racks, then the latency and to's
// download link, which serves blocks one after another.
func (s *simulation) rackArrival(from, to *host, piece int, size float64) int64 {
	rk := s.racks
	first, last := s.now-int64(size/from.up), s.now
	if a, b := rk.of[from.idx], rk.of[to.idx]; a != b {
		first, last = rk.out[a].pass(first, last, size)
		first, last = rk.core.pass(first, last, size)
		first, last = rk.in[b].pass(first, last, size)
		rk.entered(b, piece, first, first+int64(size/rk.in[b].rate))
		if rk.pieces > 0 {
			k := int(b)*rk.pieces + piece
			if rk.entrySrc[k] < 0 && rk.holders[k] == 0 {
				rk.entrySrc[k], rk.entryAt[k] = int32(from.idx), last
			}
			rk.countDup(b, k, s.lay.modelPieceLen(piece), int64(size), s.now-int64(size/from.up))
		}
		rk.outBytes[a] += int64(size)
		rk.inBytes[b] += int64(size)
	}
	down := int64(size / to.down)
	return max(last+s.lat, first+s.lat+down, to.downFree+down)
}

// farKnown samples how many far connections h's peer manager holds
// (those whose BEP 10 handshake named another rack, seeds included) while
// h downloads, after each extended handshake it learns (farPeak).
func (s *simulation) farKnown(h *host) {
	if rk := s.racks; rk != nil && !h.core.Complete() {
		st := h.mgr.Stats()
		rk.farPeak[h.idx] = max(rk.farPeak[h.idx], int32(st.Far))
		rk.farCountedMax = max(rk.farCountedMax, st.FarCounted)
	}
}

// rackZone is the location label host h announces: its rack's, in rows of
// five racks, unless the run hands out peers at random.
func (s *simulation) rackZone(h *host) string {
	if s.racks == nil || s.cfg.RandomPeers {
		return ""
	}
	return s.racks.labels[s.racks.of[h.idx]]
}

// coreZone is the label host h's core and peer manager know it by: its
// rack's, unless only the tracker sees labels (HandoutOnly) or there are
// none.
func (s *simulation) coreZone(h *host) string {
	if s.cfg.HandoutOnly {
		return ""
	}
	return s.rackZone(h)
}

// zoneHost gives host h, whose core config is sc, its rack's label: in
// its core (unless HandoutOnly) and in its BEP 10 handshake, beside its
// peer id for the core's rendezvous (swarm locality). Hosts without a
// label keep the shared handshake.
func (s *simulation) zoneHost(h *host, sc *swarm.Config, maxQueued int) error {
	label := s.rackZone(h)
	if label == "" {
		return nil
	}
	payload, err := wire.ExtendedHandshake{M: map[string]int{}, V: peers.ClientName, Reqq: maxQueued, Port: listenPort,
		Zone: label}.Marshal()
	if err != nil {
		return fmt.Errorf("encode extended handshake: %w", err)
	}
	h.extHS = payload
	if z := s.coreZone(h); z != "" {
		sc.Zone, sc.PeerID = z, peerID(h.idx)
	}
	return nil
}

// RackReport is what a run with racks adds to its [Report].
type RackReport struct {
	RackSize int `json:"rack_size"`
	Racks    int `json:"racks"`
	// RackUplinkBytesPerS and CoreBytesPerS are the rates modelled (0:
	// unlimited).
	RackUplinkBytesPerS float64 `json:"rack_uplink_bytes_per_s"`
	CoreBytesPerS       float64 `json:"core_bytes_per_s"`
	// Policy is "local" (hosts announce their rack, the tracker hands out
	// its peers first, the cores prefer rack neighbours), "handout" (the
	// same labels, the cores ignore them) or "random" (no labels: uniform
	// handouts).
	Policy string `json:"policy"`
	// RackUplinkInBytesMax is the most bytes that entered any one rack
	// through its uplink; the ratio is over F. Mean is over the racks.
	RackUplinkInBytesMax  int64   `json:"rack_uplink_in_bytes_max"`
	RackUplinkInRatioMax  float64 `json:"rack_uplink_in_ratio_max"`
	RackUplinkInRatioMean float64 `json:"rack_uplink_in_ratio_mean"`
	// RackUplinkOutBytesMax is the most bytes that left any one rack.
	RackUplinkOutBytesMax int64 `json:"rack_uplink_out_bytes_max"`
	// FarConnsPeakMean and FarConnsPeakMax are over the receivers outside
	// rack 0: the most far connections (their BEP 10 handshake named
	// another rack; the origin's and far seeds' included) each receiver's
	// peer manager held at once while it downloaded, mean and max. Zero
	// when the cores have no labels (handout, random).
	FarConnsPeakMean float64 `json:"far_conns_peak_mean"`
	FarConnsPeakMax  int     `json:"far_conns_peak_max"`
	// FarBoundPeak is the most far connections that were not seeds any
	// receiver's manager held while it downloaded (the count that
	// peers.Config.MaxFar bounds).
	FarBoundPeak int `json:"far_bound_peak"`
	// FloorKumarRossS is the floor without the uplinks; the report's
	// FloorS is the floor with them (rackFloor), which efficiency uses.
	FloorKumarRossS float64 `json:"floor_kumar_ross_s"`
	FloorUplinksS   float64 `json:"floor_uplinks_s"`
	// EntryS is, over the pieces and the racks, how long after the
	// piece's first verification anywhere a receiver of the rack first
	// verified it; EntryLastS the same for the last rack to get each
	// piece, over the pieces. SpreadS is, over the pieces and the racks,
	// the time from a rack's first receiver verifying the piece to its
	// last.
	EntryS     Quantiles `json:"rack_entry_s"`
	EntryLastS Quantiles `json:"rack_entry_last_s"`
	SpreadS    Quantiles `json:"rack_spread_s"`
	// SourceAgeS is, over the pieces and racks, how long after the host
	// that first sent the piece into the rack had verified it its block
	// reached the rack (the origin's sends not counted); SourceLagS how
	// long after its own rack first had the piece that host verified it.
	SourceAgeS Quantiles `json:"rack_source_age_s"`
	SourceLagS Quantiles `json:"rack_source_lag_s"`
	// Uplinks is, per timeline bin (the Diagnosis's BinS), how busy the
	// uplinks into the racks were (mean over the racks, as a fraction of
	// their rate) and the share of their rate that carried pieces no
	// receiver of the rack had verified yet.
	Uplinks []UplinkBin `json:"uplink_timeline,omitempty"`
	// Tail is the late rack's (racks_tail.go).
	Tail *RackTail `json:"rack_tail,omitempty"`
	// DupHeldRatio and DupFlightRatio are the bytes that entered a rack
	// beyond one copy of each piece, over F (mean over the racks; Max the
	// busiest rack's sum of both): those that entered while a receiver
	// of the rack already held the piece verified, and those that entered
	// before any did (several fetches of one piece across the uplink at
	// once).
	DupHeldRatio   float64 `json:"rack_dup_held_ratio"`
	DupFlightRatio float64 `json:"rack_dup_flight_ratio"`
	DupRatioMax    float64 `json:"rack_dup_ratio_max"`
	DupHeldStart   float64 `json:"rack_dup_held_start_ratio"`
}

// UplinkBin is one timeline bin of the racks' uplinks into them.
type UplinkBin struct {
	InBusy   float64 `json:"in_busy"`
	InUnseen float64 `json:"in_unseen"`
}

// rackReport fills in r's racks figures and raises its floor to the one
// computed with the uplinks. It is called before efficiency is computed.
func (s *simulation) rackReport(r *Report) {
	rk := s.racks
	if rk == nil {
		return
	}
	policy := "local"
	switch {
	case s.cfg.RandomPeers:
		policy = "random"
	case s.cfg.HandoutOnly:
		policy = "handout"
	}
	rr := rk.report(&s.cfg, s.lay.scale, policy)
	rr.FloorKumarRossS = r.FloorS
	rr.FloorUplinksS = rackFloor(&s.cfg, s.hosts, rk)
	rr.Tail = rk.tail(s.hosts)
	r.FloorS = max(r.FloorS, rr.FloorUplinksS)
	r.RackReport = rr
}

// report summarizes the racks' traffic (scale: real bytes per modelled
// byte) for a run of the given policy.
func (rk *racks) report(cfg *Config, scale int64, policy string) *RackReport {
	rr := &RackReport{RackSize: rk.size, Racks: rk.count, RackUplinkBytesPerS: cfg.RackUplink,
		CoreBytesPerS: cfg.CoreRate, Policy: policy}
	F := float64(cfg.Size)
	var sum int64
	for k := range rk.count {
		in, out := rk.inBytes[k]*scale, rk.outBytes[k]*scale
		rr.RackUplinkInBytesMax = max(rr.RackUplinkInBytesMax, in)
		rr.RackUplinkOutBytesMax = max(rr.RackUplinkOutBytesMax, out)
		sum += in
	}
	rr.RackUplinkInRatioMax = float64(rr.RackUplinkInBytesMax) / F
	rr.RackUplinkInRatioMean = float64(sum) / float64(rk.count) / F
	var peaks, hosts int
	for i := 1; i < len(rk.of); i++ {
		if rk.of[i] != 0 && i < len(rk.farPeak) {
			peaks += int(rk.farPeak[i])
			hosts++
			rr.FarConnsPeakMax = max(rr.FarConnsPeakMax, int(rk.farPeak[i]))
		}
	}
	if hosts > 0 {
		rr.FarConnsPeakMean = float64(peaks) / float64(hosts)
	}
	rr.FarBoundPeak = rk.farCountedMax
	if rk.pieces > 0 {
		rk.pieceReport(rr, scale, F)
	}
	return rr
}

// pieceReport fills in rr's entry and spread figures and the uplinks'
// timeline.
func (rk *racks) pieceReport(rr *RackReport, scale int64, F float64) {
	var entry, last, spread []float64
	for p := range rk.pieces {
		first, lastRack := int64(math.MaxInt64), int64(-1)
		for r := range rk.count {
			k := r*rk.pieces + p
			if rk.holders[k] > 0 {
				first = min(first, rk.firstIn[k])
			}
		}
		for r := range rk.count {
			k := r*rk.pieces + p
			if rk.holders[k] == 0 {
				continue
			}
			entry = append(entry, float64(rk.firstIn[k]-first)/1e9)
			lastRack = max(lastRack, rk.firstIn[k])
			if rk.holders[k] == rk.receivers[r] {
				spread = append(spread, float64(rk.lastIn[k]-rk.firstIn[k])/1e9)
			}
		}
		if lastRack >= 0 {
			last = append(last, float64(lastRack-first)/1e9)
		}
	}
	rr.EntryS, rr.EntryLastS, rr.SpreadS = quantiles(entry), quantiles(last), quantiles(spread)
	var age, srcLag []float64
	for r := range rk.count {
		for p := range rk.pieces {
			k := r*rk.pieces + p
			src := rk.entrySrc[k]
			if src < 0 {
				continue
			}
			v := rk.verifiedAt[int(src)*rk.pieces+p]
			if v == 0 {
				continue // the origin
			}
			age = append(age, float64(rk.entryAt[k]-v)/1e9)
			srcLag = append(srcLag, float64(v-rk.firstIn[int(rk.of[src])*rk.pieces+p])/1e9)
		}
	}
	rr.SourceAgeS, rr.SourceLagS = quantiles(age), quantiles(srcLag)
	if rk.dupHeld != nil && rk.count > 0 {
		var held, flight, hs int64
		for r := range rk.count {
			hs += rk.dupHeldStart[r]
			held += rk.dupHeld[r]
			flight += rk.dupFlight[r]
			rr.DupRatioMax = max(rr.DupRatioMax, float64((rk.dupHeld[r]+rk.dupFlight[r])*scale)/F)
		}
		rr.DupHeldRatio = float64(held*scale) / F / float64(rk.count)
		rr.DupFlightRatio = float64(flight*scale) / F / float64(rk.count)
		rr.DupHeldStart = float64(hs*scale) / F / float64(rk.count)
	}
	capacity := float64(rk.bin) * float64(rk.count)
	for k := range rk.inBusy {
		rr.Uplinks = append(rr.Uplinks, UplinkBin{InBusy: float64(rk.inBusy[k]) / capacity,
			InUnseen: float64(rk.inUnseen[k]) / capacity})
	}
}

// blockArrival is when a block of size modelled bytes, whose last byte
// left from's upload link now, has reached to: after the latency and to's
// download link, which serves blocks one after another (a single flow
// gets min(up, down)), and through the racks' uplinks when there are
// racks (rackArrival).
func (s *simulation) blockArrival(from, to *host, piece int, size float64) int64 {
	if s.racks != nil {
		return s.rackArrival(from, to, piece, size)
	}
	at := s.now + s.lat
	if extra := size/to.down - size/from.up; extra > 0 {
		at += int64(extra)
	}
	return max(at, to.downFree+int64(size/to.down))
}

// rackFloor is a lower bound on T_last from the racks' uplinks and core,
// on top of the Kumar-Ross bound (a cut argument for each): with F the
// file, U the uplink rate each way, C the core's, rack 0 the origin's, N_r
// the receivers of rack r and S_r the sum of their uploads,
//
//   - every other rack with a receiver takes in at least one copy through
//     its uplink: T >= F/U;
//   - its receivers need N_r·F bytes, from uploads inside the rack or over
//     the uplink: T >= N_r·F / (S_r + U);
//   - if any receiver is outside rack 0, a copy leaves rack 0 over its
//     uplink: T >= F/U, and the receivers outside it need (N - N_0)·F
//     bytes from their own uploads or rack 0's uplink:
//     T >= (N - N_0)·F / (Σ_{r≠0} S_r + min(U, S_0 + u_s));
//   - every copy that enters a rack other than 0 crosses the core:
//     T >= K'·F/C, K' the other racks with a receiver.
//
// Each holds for any schedule, so their maximum does. For N = 1,000 in 25
// racks of 40 at 5 GB/s and 4:1 (U = 50 GB/s) they give 0.1 s, below the
// Kumar-Ross 1.0 s: oversubscription of 4:1 leaves room for a swarm to
// reach the plain floor if no rack takes in more than ten copies.
func rackFloor(cfg *Config, hosts []*host, rk *racks) float64 {
	F := float64(cfg.Size)
	U, C := cfg.RackUplink, cfg.CoreRate
	if U <= 0 {
		U = math.Inf(1)
	}
	if C <= 0 {
		C = math.Inf(1)
	}
	recv := make([]int, rk.count)
	up := make([]float64, rk.count)
	for _, h := range hosts[1:] {
		k := rk.of[h.idx]
		recv[k]++
		up[k] += h.upReal
	}
	floor, others, outsideRecv, outsideUp := 0.0, 0, 0, 0.0
	for k := 1; k < rk.count; k++ {
		if recv[k] == 0 {
			continue
		}
		others++
		outsideRecv += recv[k]
		outsideUp += up[k]
		floor = max(floor, F/U, float64(recv[k])*F/(up[k]+U))
	}
	if others > 0 {
		floor = max(floor, F/U, float64(outsideRecv)*F/(outsideUp+min(U, up[0]+cfg.OriginLink)), float64(others)*F/C)
	}
	return floor
}
