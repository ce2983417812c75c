package sim

import (
	"math"
	"sort"
	"time"
)

// Report is the outcome of one run, in the units of the real torrent.
// Field names follow the bench's JSON so both can be tabulated together.
type Report struct {
	System              string  `json:"system"` // "shoal-sim"
	Peers               int     `json:"peers"`
	SizeBytes           int64   `json:"size_bytes"`
	LinkBytesPerS       float64 `json:"link_bytes_per_s"`
	OriginLinkBytesPerS float64 `json:"origin_link_bytes_per_s"`
	LatencyS            float64 `json:"latency_s"`
	PieceLength         int64   `json:"piece_length"`
	Pieces              int     `json:"pieces"`
	// BlockBytes is the real bytes one simulated block stands for (16 KiB
	// unless blocks were coarsened).
	BlockBytes   int64   `json:"block_bytes"`
	Seed         int64   `json:"seed"`
	SlowFraction float64 `json:"slow_fraction,omitempty"`
	SlowLink     float64 `json:"slow_link_bytes_per_s,omitempty"`
	Churn        float64 `json:"churn,omitempty"`
	OriginLeaves bool    `json:"origin_leaves,omitempty"`
	MaxPeers     int     `json:"max_peers,omitempty"` // connections per host, when not the client's default

	// FloorS is the Kumar-Ross bound max(F/u_s, F/d_min, N·F/(u_s+Σu_i)).
	// With Churn, N and d_min are over the receivers that stay (T_last is
	// theirs; one that leaves needs no whole copy) and Σu_i over every
	// receiver (one that leaves uploads until it does: counting it for the
	// whole run keeps the bound a lower bound).
	FloorS float64 `json:"floor_s"`
	// SingleSourceS is N·F/u_s: the origin sending every copy itself.
	SingleSourceS float64 `json:"single_source_s"`
	// TLastS, P50S, P90S and P99S summarize FinishS.
	TLastS     float64 `json:"t_last_s"`
	P50S       float64 `json:"p50_s"`
	P90S       float64 `json:"p90_s"`
	P99S       float64 `json:"p99_s"`
	Efficiency float64 `json:"efficiency"` // FloorS / TLastS
	// OriginEgressRatio is the bytes the origin uploaded divided by F.
	OriginEgressRatio float64 `json:"origin_egress_ratio"`
	// FinishS lists, ascending, when each receiver that stayed had a
	// verified copy.
	FinishS []float64 `json:"finish_s"`
	// Churned receivers left on purpose; Incomplete ones neither left nor
	// finished by the time limit.
	Churned    int `json:"churned"`
	Incomplete int `json:"incomplete"`
	// SimulatedS is the simulated time the run covered; Deliveries counts
	// the blocks delivered.
	SimulatedS float64 `json:"simulated_s"`
	Deliveries int64   `json:"block_deliveries"`

	// Classes summarizes the receivers by link rate when they differ
	// (slow hosts): each class against its own floor.
	Classes []Class `json:"classes,omitempty"`
	// Diagnosis says where the time went (see Breakdown).
	Diagnosis *Diagnosis `json:"diagnosis,omitempty"`
	// RackReport is set when the run modelled racks (racks.go).
	*RackReport
	// ChurnFigures is set when receivers left (Config.Churn; churn.go).
	ChurnFigures *ChurnReport `json:"churn_figures,omitempty"`

	// SimWallS and SimPeakHeapBytes are what the simulation cost; Run
	// reads no clock, so the caller measures and fills them in.
	SimWallS         float64 `json:"sim_wall_s"`
	SimPeakHeapBytes uint64  `json:"sim_peak_heap_bytes"`
}

// floor returns the Kumar-Ross lower bound on T_last in seconds, over the
// receivers that stay (see Report.FloorS).
func floor(cfg *Config, hosts []*host) float64 {
	F := float64(cfg.Size)
	us := cfg.OriginLink
	dmin, sum, stay := math.Inf(1), 0.0, 0
	for _, h := range hosts[1:] {
		sum += h.upReal
		if h.churnAt == 0 {
			dmin = min(dmin, h.downReal)
			stay++
		}
	}
	return max(F/us, F/dmin, float64(stay)*F/(us+sum))
}

// report summarizes the run.
func (s *simulation) report() *Report {
	cfg := &s.cfg
	r := &Report{
		System: "shoal-sim", Peers: cfg.Peers, SizeBytes: cfg.Size, LinkBytesPerS: cfg.Link,
		OriginLinkBytesPerS: cfg.OriginLink, LatencyS: cfg.Latency.Seconds(),
		PieceLength: s.lay.pieceLength, Pieces: s.lay.numPieces, BlockBytes: 16 << 10 * s.lay.scale,
		Seed: cfg.Seed, SlowFraction: cfg.SlowFraction, Churn: cfg.Churn, OriginLeaves: cfg.OriginLeaves,
		MaxPeers: cfg.MaxPeers, Churned: s.churned, SimulatedS: time.Duration(s.now).Seconds(), Deliveries: s.deliveries,
	}
	if cfg.SlowFraction > 0 {
		r.SlowLink = cfg.SlowLink
	}
	r.FloorS = floor(cfg, s.hosts)
	s.rackReport(r) // with racks, the floor computed with the uplinks
	r.SingleSourceS = float64(cfg.Peers) * float64(cfg.Size) / cfg.OriginLink
	r.OriginEgressRatio = float64(s.hosts[0].core.Stats().Uploaded*s.lay.scale) / float64(cfg.Size)
	r.FinishS = []float64{}
	for _, h := range s.hosts[1:] {
		switch {
		case h.churnAt > 0:
		case h.done:
			r.FinishS = append(r.FinishS, time.Duration(h.finishedAt).Seconds())
		default:
			r.Incomplete++
		}
	}
	sort.Float64s(r.FinishS)
	if n := len(r.FinishS); n > 0 {
		r.TLastS = r.FinishS[n-1]
		r.P50S = percentile(r.FinishS, 0.5)
		r.P90S = percentile(r.FinishS, 0.9)
		r.P99S = percentile(r.FinishS, 0.99)
		if r.Incomplete == 0 && r.TLastS > 0 {
			r.Efficiency = r.FloorS / r.TLastS
		}
	}
	r.ChurnFigures = s.churnReport()
	r.Classes = s.classes()
	r.Diagnosis = s.trace.diagnose(s, r)
	return r
}

// Class is the outcome for the receivers of one link rate.
type Class struct {
	Name          string  `json:"name"` // "fast" or "slow"
	Hosts         int     `json:"hosts"`
	LinkBytesPerS float64 `json:"link_bytes_per_s"`
	// FloorS is the floor of this class alone: max(F/u_s, F/d,
	// n·F/(u_s+Σu)) with n its receivers and Σu over every receiver.
	FloorS     float64 `json:"floor_s"`
	TLastS     float64 `json:"t_last_s"`
	P50S       float64 `json:"p50_s"`
	P99S       float64 `json:"p99_s"`
	Efficiency float64 `json:"efficiency"` // FloorS / TLastS
	// P99Ratio is P99S / FloorS.
	P99Ratio   float64 `json:"p99_over_floor"`
	Incomplete int     `json:"incomplete"`
}

// classes summarizes fast and slow receivers apart when there are slow
// ones (nil otherwise).
func (s *simulation) classes() []Class {
	if s.cfg.SlowFraction == 0 || s.cfg.SlowLink == s.cfg.Link {
		return nil
	}
	floors := classFloors(s)
	var out []Class
	for _, c := range []struct {
		name string
		rate float64
	}{{"fast", s.cfg.Link}, {"slow", s.cfg.SlowLink}} {
		cl := Class{Name: c.name, LinkBytesPerS: c.rate, FloorS: floors[c.rate]}
		var fin []float64
		for _, h := range s.hosts[1:] {
			if h.downReal != c.rate || h.churnAt > 0 {
				continue
			}
			cl.Hosts++
			if h.done {
				fin = append(fin, time.Duration(h.finishedAt).Seconds())
			} else {
				cl.Incomplete++
			}
		}
		if len(fin) > 0 {
			sort.Float64s(fin)
			cl.TLastS, cl.P50S, cl.P99S = fin[len(fin)-1], percentile(fin, 0.5), percentile(fin, 0.99)
			if cl.Incomplete == 0 {
				cl.Efficiency = cl.FloorS / cl.TLastS
			}
			cl.P99Ratio = cl.P99S / cl.FloorS
		}
		if cl.Hosts > 0 {
			out = append(out, cl)
		}
	}
	return out
}

// percentile returns the nearest-rank p-quantile of sorted xs.
func percentile(xs []float64, p float64) float64 {
	k := int(math.Ceil(p*float64(len(xs)))) - 1
	return xs[min(max(k, 0), len(xs)-1)]
}
