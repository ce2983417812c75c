package sim

import (
	"sort"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// The late rack's tail: what the rack of the last receiver to finish
// waited for at the end. Per host and piece the racks record when the
// host first learned that a far peer (one in another rack) has the piece
// (farSeen: a Have, Bitfield or HaveAll from it) and when it first asked a
// far peer for a block of it (farReq); the report lists the pieces that
// entered the late rack last, with those times for the rack, for the
// piece's owner among the rack's receivers (the highest rendezvous
// weight, swarm.FarWeight: the one the far rule lets fetch it first) and
// for the host whose far request came first.

// tailPieces is how many of the late rack's last pieces to enter it the
// report lists.
const tailPieces = 24

// TailPiece is one of the pieces that entered the late rack last. Times
// are seconds of simulated time (-1: never).
type TailPiece struct {
	Piece int `json:"piece"`
	// FirstS is when the rack's first receiver verified it, LastS its
	// last; EntryS when the first block of it that reached the rack
	// arrived (its source in SrcRack; -1: none counted).
	FirstS  float64 `json:"first_s"`
	LastS   float64 `json:"last_s"`
	EntryS  float64 `json:"entry_s"`
	SrcRack int     `json:"src_rack"`
	// AnyS is when any receiver anywhere first verified it.
	AnyS float64 `json:"any_s"`
	// SeenS is when a receiver of the rack first learned a far peer has
	// it, ReqS when one first asked a far peer for it, and ReqHost which
	// one, with its rank for the piece among the rack's receivers
	// (0: the owner).
	SeenS   float64 `json:"seen_s"`
	ReqS    float64 `json:"req_s"`
	ReqHost int     `json:"req_host"`
	ReqRank int     `json:"req_rank"`
	// Owner is the rack's owner of the piece, OwnerSeenS and OwnerReqS
	// its own times.
	Owner      int     `json:"owner"`
	OwnerSeenS float64 `json:"owner_seen_s"`
	OwnerReqS  float64 `json:"owner_req_s"`
}

// TailHost is one receiver of the late rack: its last piece, and when it
// learned a near or far peer has it and first asked one for it (-1:
// never), and the longest wait between two blocks arriving at it.
type TailHost struct {
	Host      int     `json:"host"`
	FinishS   float64 `json:"finish_s"`
	LastPiece int     `json:"last_piece"`
	// RackFirstS is when the rack's first receiver verified that piece.
	RackFirstS float64 `json:"rack_first_s"`
	NearSeenS  float64 `json:"near_seen_s"`
	NearReqS   float64 `json:"near_req_s"`
	FarSeenS   float64 `json:"far_seen_s"`
	FarReqS    float64 `json:"far_req_s"`
	GapS       float64 `json:"gap_s"`
	GapFromS   float64 `json:"gap_from_s"`
}

// RackTail is the report's view of the late rack.
type RackTail struct {
	Rack int `json:"rack"`
	// FinishS is the rack's receivers' finish times, p50/p99/max.
	FinishS Quantiles `json:"finish_s"`
	// Pieces are the pieces that entered the rack last, latest first.
	Pieces []TailPiece `json:"pieces"`
	// Hosts are its receivers, the last to finish first.
	Hosts []TailHost `json:"hosts"`
}

// trackTail sets up the per host and piece records of the tail.
func (rk *racks) trackTail() {
	n := len(rk.of) * rk.pieces
	rk.farSeen, rk.farReq = make([]int64, n), make([]int64, n)
	rk.nearSeen, rk.nearReq = make([]int64, n), make([]int64, n)
	rk.lastArrive, rk.gap, rk.gapAt = make([]int64, len(rk.of)), make([]int64, len(rk.of)), make([]int64, len(rk.of))
}

// arrived records a block's arrival at host h at now: the longest gap
// between two arrivals at h (gap, from gapAt).
func (rk *racks) arrived(h int, now int64) {
	if rk.lastArrive == nil {
		return
	}
	if last := rk.lastArrive[h]; last > 0 && now-last > rk.gap[h] {
		rk.gap[h], rk.gapAt[h] = now-last, last
	}
	rk.lastArrive[h] = now
}

// observe records what message m, from host from to host to, tells of
// the tail (farSeen, farReq).
func (rk *racks) observe(from, to int, m *ctrlMsg, now int64) {
	if rk.farSeen == nil {
		return
	}
	seen, req := rk.farSeen, rk.farReq
	if rk.of[from] == rk.of[to] {
		seen, req = rk.nearSeen, rk.nearReq
	}
	switch m.typ {
	case wire.Have:
		rk.mark(seen, to, int(m.index), now)
	case wire.HaveAll:
		for p := range rk.pieces {
			rk.mark(seen, to, p, now)
		}
	case wire.Bitfield:
		for p := range rk.pieces {
			if int(p/8) < len(m.data) && m.data[p/8]&(0x80>>(p%8)) != 0 {
				rk.mark(seen, to, p, now)
			}
		}
	case wire.Request:
		rk.mark(req, from, int(m.index), now) // from asks to
	}
}

// mark sets at[h, p] to now unless it is set.
func (rk *racks) mark(at []int64, h, p int, now int64) {
	if k := h*rk.pieces + p; p < rk.pieces && at[k] == 0 {
		at[k] = now
	}
}

// tail builds the late rack's report: the rack of the receiver that
// finished last among hosts.
func (rk *racks) tail(hosts []*host) *RackTail {
	if rk.farSeen == nil {
		return nil
	}
	var last *host
	for _, h := range hosts[1:] {
		if h.done && (last == nil || h.finishedAt > last.finishedAt) {
			last = h
		}
	}
	if last == nil {
		return nil
	}
	r := int(rk.of[last.idx])
	var members []int
	var fin []float64
	for _, h := range hosts[1:] {
		if int(rk.of[h.idx]) == r {
			members = append(members, h.idx)
			if h.done {
				fin = append(fin, float64(h.finishedAt)/1e9)
			}
		}
	}
	rt := &RackTail{Rack: r, FinishS: quantiles(fin)}
	order := make([]int, rk.pieces)
	for p := range order {
		order[p] = p
	}
	at := func(p int) int64 { return rk.firstIn[r*rk.pieces+p] }
	sort.SliceStable(order, func(a, b int) bool { return at(order[a]) > at(order[b]) })
	sec := func(ns int64) float64 {
		if ns <= 0 {
			return -1
		}
		return float64(ns) / 1e9
	}
	for _, p := range order[:min(tailPieces, len(order))] {
		k := r*rk.pieces + p
		tp := TailPiece{Piece: p, FirstS: sec(rk.firstIn[k]), LastS: sec(rk.lastIn[k]), EntryS: sec(rk.entryAt[k]),
			SrcRack: -1, ReqHost: -1, ReqRank: -1, Owner: -1}
		if src := rk.entrySrc[k]; src >= 0 {
			tp.SrcRack = int(rk.of[src])
		}
		anyAt := int64(0)
		for o := range rk.count {
			if f := rk.firstIn[o*rk.pieces+p]; rk.holders[o*rk.pieces+p] > 0 && (anyAt == 0 || f < anyAt) {
				anyAt = f
			}
		}
		tp.AnyS = sec(anyAt)
		// Rank the members by their weight for p, highest first.
		ranked := append([]int(nil), members...)
		w := func(h int) uint64 { return swarm.FarWeight(peerID(h), p) }
		sort.Slice(ranked, func(a, b int) bool { return w(ranked[a]) > w(ranked[b]) })
		tp.Owner = ranked[0]
		tp.OwnerSeenS = sec(rk.farSeen[tp.Owner*rk.pieces+p])
		tp.OwnerReqS = sec(rk.farReq[tp.Owner*rk.pieces+p])
		seen, req := int64(0), int64(0)
		for rank, h := range ranked {
			if v := rk.farSeen[h*rk.pieces+p]; v > 0 && (seen == 0 || v < seen) {
				seen = v
			}
			if v := rk.farReq[h*rk.pieces+p]; v > 0 && (req == 0 || v < req) {
				req, tp.ReqHost, tp.ReqRank = v, h, rank
			}
		}
		tp.SeenS, tp.ReqS = sec(seen), sec(req)
		rt.Pieces = append(rt.Pieces, tp)
	}
	for _, h := range members {
		th := TailHost{Host: h, FinishS: sec(hosts[h].finishedAt), LastPiece: -1,
			GapS: float64(rk.gap[h]) / 1e9, GapFromS: sec(rk.gapAt[h])}
		for p := range rk.pieces {
			if v := rk.verifiedAt[h*rk.pieces+p]; th.LastPiece < 0 || v > rk.verifiedAt[h*rk.pieces+th.LastPiece] {
				th.LastPiece = p
			}
		}
		k := h*rk.pieces + th.LastPiece
		th.RackFirstS = sec(rk.firstIn[r*rk.pieces+th.LastPiece])
		th.NearSeenS, th.NearReqS = sec(rk.nearSeen[k]), sec(rk.nearReq[k])
		th.FarSeenS, th.FarReqS = sec(rk.farSeen[k]), sec(rk.farReq[k])
		rt.Hosts = append(rt.Hosts, th)
	}
	sort.SliceStable(rt.Hosts, func(a, b int) bool { return rt.Hosts[a].FinishS > rt.Hosts[b].FinishS })
	return rt
}
