package bench

import (
	"fmt"
	"math"
	"slices"
)

// Result is one system's figures for one run. Times are seconds from the
// moment the receivers were started; rates are bytes per second.
type Result struct {
	System          string  `json:"system"`
	Run             int     `json:"run"`
	Peers           int     `json:"peers"`
	SizeBytes       int64   `json:"size_bytes"`
	PieceLength     int64   `json:"piece_length"` // the torrent's, automatic or not
	LinkBytesPerS   float64 `json:"link_bytes_per_s"`
	OriginBytesPerS float64 `json:"origin_link_bytes_per_s"`
	Netns           bool    `json:"netns"`           // links shaped by tc in namespaces, floor from goodput
	MTU             int     `json:"mtu,omitempty"`   // the namespaces' MTU if not 1500 (Config.MTU)
	Qdisc           string  `json:"qdisc,omitempty"` // with Netns: QdiscFair or QdiscFIFO
	// CongestionControl (Netns only) is the hosts' TCP congestion control
	// (HostCongestion) if the bench set it, empty if they ran the machine's
	// default (before session 13: bbr on this machine).
	CongestionControl string  `json:"congestion_control,omitempty"`
	FloorS            float64 `json:"floor_s"`
	SingleSourceS     float64 `json:"single_source_s"`
	TLastS            float64 `json:"t_last_s"`
	P50S              float64 `json:"p50_s"`
	P90S              float64 `json:"p90_s"`
	Efficiency        float64 `json:"efficiency"`
	OriginEgressBytes int64   `json:"origin_egress_bytes"`
	OriginEgressRatio float64 `json:"origin_egress_ratio"`
	CPUSeconds        float64 `json:"cpu_s"`
	CPUSPerGB         float64 `json:"cpu_s_per_gb"`
	PeakRSSBytes      int64   `json:"peak_rss_bytes"`
	// VoluntarySwitches and InvoluntarySwitches are the context switches
	// of every process of the run (rusage): voluntary ones count how often
	// a thread blocked (a wake-up each), which the software sets; how often
	// one was preempted mostly depends on the machine's load.
	VoluntarySwitches   int64     `json:"voluntary_switches"`
	InvoluntarySwitches int64     `json:"involuntary_switches"`
	OriginRSSBytes      int64     `json:"origin_rss_bytes"`
	FinishS             []float64 `json:"finish_s"`
	// StartedS and FirstPeerS (shoal only) are when each receiver had
	// loaded the torrent and opened its storage, and when it had its first
	// peer: the start-up the simulator does not model.
	StartedS   []float64 `json:"started_s,omitempty"`
	FirstPeerS []float64 `json:"first_peer_s,omitempty"`
	// FirstPieceS and FirstUploadS (shoal only) are when each receiver
	// verified its first piece and first sent a block (0: never, or a
	// receiver that does not say), in seconds from the receivers' start.
	FirstPieceS  []float64 `json:"first_piece_s,omitempty"`
	FirstUploadS []float64 `json:"first_upload_s,omitempty"`
	// The machine: every host of a run shares its cores and its disk.
	// DiskBytesPerS is the disk's synced write rate (ProbeDisk, once per
	// invocation; 0 if not probed) and DiskFloorS the time the N copies
	// need on it; MachineFloorS is the larger of FloorS and DiskFloorS, and
	// MachineEfficiency MachineFloorS/T_last. CPUOverCoresS is the run's CPU
	// time spread over all cores: near T_last, the CPUs set the pace.
	DiskBytesPerS     float64      `json:"disk_bytes_per_s,omitempty"`
	DiskFloorS        float64      `json:"disk_floor_s,omitempty"`
	MachineFloorS     float64      `json:"machine_floor_s"`
	MachineEfficiency float64      `json:"machine_efficiency"`
	CPUOverCoresS     float64      `json:"cpu_over_cores_s"`
	Machine           MachineUsage `json:"machine"`
	// Bound names what set the time (MachineUsage.Bound).
	Bound string `json:"bound"`
	// Load1 is the 1-minute load when the receivers started and when the
	// last finished. With Autogroup (the kernel splits the cores between
	// sessions before nice values count), OtherGroups is how many other
	// sessions had a runnable thread at those two moments: each takes an
	// even share of the cores, whatever its nice value (SchedSample).
	Load1       [2]float64 `json:"load1"`
	Autogroup   bool       `json:"autogroup,omitempty"`
	OtherGroups [2]int     `json:"other_groups,omitempty"`
	// RSS samples the largest receiver's resident set size over the run.
	RSS []RSSPoint `json:"rss,omitempty"`
	// TCPOutSegs and TCPRetransSegs (--netns only) are the TCP segments
	// every namespace sent during the run, and how many of them were
	// retransmissions: what tbf's drops cost.
	TCPOutSegs     int64 `json:"tcp_out_segs,omitempty"`
	TCPRetransSegs int64 `json:"tcp_retrans_segs,omitempty"`
	// TCPLossProbes, TCPDSACKs and TCPTimeouts (--netns only) are the
	// tail-loss probes sent, the DSACKs received and the retransmission
	// timeouts: a probe answered by a DSACK was a spurious retransmission.
	TCPLossProbes int64 `json:"tcp_loss_probes,omitempty"`
	TCPDSACKs     int64 `json:"tcp_dsacks,omitempty"`
	TCPTimeouts   int64 `json:"tcp_timeouts,omitempty"`
	// LinkUse (--netns only) is how full the links were in the run's
	// start-up, steady phase and tail, from the fabric's counters.
	LinkUse *LinkUse `json:"link_use,omitempty"`
}

// RSSPoint is one sample of receivers' memory: at T seconds from the start,
// the largest resident set of any receiver.
type RSSPoint struct {
	T        float64 `json:"t_s"`
	MaxBytes int64   `json:"max_bytes"`
}

// fill computes the summary figures of r from its finish times, the
// origin's egress and the CPU time of all its processes.
func (r *Result) fill(egress int64, cpuSeconds float64) {
	sorted := slices.Clone(r.FinishS)
	slices.Sort(sorted)
	r.TLastS = percentile(sorted, 1)
	r.P50S = percentile(sorted, 0.5)
	r.P90S = percentile(sorted, 0.9)
	if r.TLastS > 0 {
		r.Efficiency = r.FloorS / r.TLastS
	}
	r.OriginEgressBytes = egress
	r.OriginEgressRatio = float64(egress) / float64(r.SizeBytes)
	r.CPUSeconds = cpuSeconds
	delivered := float64(r.Peers) * float64(r.SizeBytes) / 1e9
	if delivered > 0 {
		r.CPUSPerGB = cpuSeconds / delivered
	}
	if r.DiskBytesPerS > 0 {
		r.DiskFloorS = float64(r.Peers) * float64(r.SizeBytes) / r.DiskBytesPerS
	}
	r.MachineFloorS = max(r.FloorS, r.DiskFloorS)
	if r.TLastS > 0 {
		r.MachineEfficiency = r.MachineFloorS / r.TLastS
	}
	if r.Machine.Cores > 0 {
		r.CPUOverCoresS = cpuSeconds / float64(r.Machine.Cores)
	}
	r.Bound = r.Machine.Bound(r.Efficiency)
}

// percentile returns the nearest-rank q-quantile (0 < q <= 1) of sorted
// values, 0 for none.
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Median is the per-system median of several runs: each figure is the
// median over the runs, and Typical is the run whose T_last is the median
// one (its finish times draw the CDF).
type Median struct {
	System            string
	Runs              int
	TLastS            float64
	P50S              float64
	P90S              float64
	Efficiency        float64
	OriginEgressRatio float64
	CPUSPerGB         float64
	PeakRSSBytes      int64
	MachineEfficiency float64
	CPUBusy           float64
	DiskBusy          float64
	Typical           Result
}

// Medians groups results by system, in the order systems first appear.
func Medians(results []Result) []Median {
	var order []string
	by := map[string][]Result{}
	for _, r := range results {
		if _, ok := by[r.System]; !ok {
			order = append(order, r.System)
		}
		by[r.System] = append(by[r.System], r)
	}
	out := make([]Median, 0, len(order))
	for _, sys := range order {
		rs := by[sys]
		pick := func(f func(Result) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			return median(v)
		}
		byLast := slices.Clone(rs)
		slices.SortFunc(byLast, func(a, b Result) int { return cmpFloat(a.TLastS, b.TLastS) })
		out = append(out, Median{
			System:            sys,
			Runs:              len(rs),
			TLastS:            pick(func(r Result) float64 { return r.TLastS }),
			P50S:              pick(func(r Result) float64 { return r.P50S }),
			P90S:              pick(func(r Result) float64 { return r.P90S }),
			Efficiency:        pick(func(r Result) float64 { return r.Efficiency }),
			OriginEgressRatio: pick(func(r Result) float64 { return r.OriginEgressRatio }),
			CPUSPerGB:         pick(func(r Result) float64 { return r.CPUSPerGB }),
			PeakRSSBytes:      int64(pick(func(r Result) float64 { return float64(r.PeakRSSBytes) })),
			MachineEfficiency: pick(func(r Result) float64 { return r.MachineEfficiency }),
			CPUBusy:           pick(func(r Result) float64 { return r.Machine.CPUBusy }),
			DiskBusy:          pick(func(r Result) float64 { return r.Machine.DiskBusy }),
			Typical:           byLast[(len(byLast)-1)/2],
		})
	}
	return out
}

// median returns the median of v (the mean of the middle two for an even
// count), 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// startupLine is the receivers' start-up as the bench prints it: for when
// each started, had its first peer, verified its first piece and first
// sent a block, the median and the last over receivers (seconds from the
// receivers' start; a receiver that never did counts as not yet); "" when
// the receivers said nothing (not shoal).
func (r Result) startupLine() string {
	if len(r.StartedS) == 0 {
		return ""
	}
	stat := func(xs []float64) string {
		s := slices.Clone(xs)
		slices.Sort(s)
		missing := 0
		for _, x := range s {
			if x <= 0 {
				missing++
			}
		}
		if missing == len(s) {
			return "-"
		}
		s = s[missing:]
		out := fmt.Sprintf("p50 %.2fs, last %.2fs", percentile(s, 0.5), percentile(s, 1))
		if missing > 0 {
			out += fmt.Sprintf(" (%d never)", missing)
		}
		return out
	}
	return fmt.Sprintf("start-up: receivers started %s; first peer %s; first piece verified %s; first block sent %s",
		stat(r.StartedS), stat(r.FirstPeerS), stat(r.FirstPieceS), stat(r.FirstUploadS))
}
