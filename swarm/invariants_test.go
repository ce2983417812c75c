package swarm

import "fmt"

// checkInvariants recomputes the core's incremental counters from scratch
// and reports the first disagreement. Tests call it after every event.
func (s *Swarm) checkInvariants() error {
	if n := s.have.count(); n != s.numHave {
		return fmt.Errorf("numHave %d, bitset has %d", s.numHave, n)
	}
	unreq, unchoked := 0, 0
	activeSet := map[int]bool{}
	for _, i := range s.active {
		if activeSet[i] {
			return fmt.Errorf("piece %d active twice", i)
		}
		activeSet[i] = true
	}
	var open []int
	for _, i := range s.active {
		if d := s.dl[i]; d != nil && d.unrequested > 0 {
			open = append(open, i)
		}
	}
	if fmt.Sprint(open) != fmt.Sprint(s.open) {
		return fmt.Errorf("open pieces %v, want the active ones with unrequested blocks %v", s.open, open)
	}
	for i := 0; i < s.cfg.NumPieces; i++ {
		d := s.dl[i]
		if s.started.get(i) != (d != nil) {
			return fmt.Errorf("piece %d: started %v, in progress %v", i, s.started.get(i), d != nil)
		}
		if s.have.get(i) {
			if d != nil {
				return fmt.Errorf("piece %d had and in progress", i)
			}
			continue
		}
		if d == nil {
			if activeSet[i] {
				return fmt.Errorf("piece %d active without state", i)
			}
			unreq += s.numBlocks(i)
			continue
		}
		if !activeSet[i] {
			return fmt.Errorf("piece %d in progress but not active", i)
		}
		du, written := 0, 0
		for b, bl := range d.blocks {
			n := 0
			for _, p := range s.peers {
				if p.findRequest(s.blockSpec(i, b)) >= 0 {
					n++
				}
			}
			if n != int(bl.reqs) {
				return fmt.Errorf("block %s: reqs %d, peers hold %d", s.blockSpec(i, b), bl.reqs, n)
			}
			if bl.state == blockMissing && bl.reqs == 0 {
				du++
				if b < d.scanFrom {
					return fmt.Errorf("block %s: unrequested but before piece %d's scan hint %d", s.blockSpec(i, b), i, d.scanFrom)
				}
			}
			if bl.state == blockWritten {
				written++
			}
		}
		if du != d.unrequested || written != d.written {
			return fmt.Errorf("piece %d: unrequested %d/%d written %d/%d", i, d.unrequested, du, d.written, written)
		}
		unreq += du
	}
	if unreq != s.unrequested {
		return fmt.Errorf("unrequested %d, recount %d", s.unrequested, unreq)
	}
	for i := 0; i < s.cfg.NumPieces; i++ {
		n, slow := int32(0), int32(0)
		for _, p := range s.peers {
			if p.has.get(i) {
				n++
				if p.src.slow {
					slow++
				}
			}
		}
		if n != s.avail[i] {
			return fmt.Errorf("avail[%d] %d, recount %d", i, s.avail[i], n)
		}
		if slow != s.slowAvail[i] {
			return fmt.Errorf("slowAvail[%d] %d, recount %d", i, s.slowAvail[i], slow)
		}
	}
	if err := s.checkLocality(); err != nil {
		return err
	}
	pending := make([]int32, s.cfg.NumPieces)
	for _, p := range s.peers {
		if s.byID.get(p.id) != p {
			return fmt.Errorf("peer %d not indexed", p.id)
		}
		if !p.amChoking {
			unchoked++
		}
		if w := p.has.countAndNot(s.have); w != p.wanted {
			return fmt.Errorf("peer %d wanted %d, recount %d", p.id, p.wanted, w)
		}
		if want := p.wanted > 0 && !s.Complete(); want != p.amInterested {
			return fmt.Errorf("peer %d interested %v, want %v", p.id, p.amInterested, want)
		}
		if len(p.uploads) > s.cfg.MaxQueuedUploads {
			return fmt.Errorf("peer %d holds %d uploads", p.id, len(p.uploads))
		}
		for _, u := range p.uploads {
			if !s.have.get(int(u.Piece)) {
				return fmt.Errorf("peer %d: upload of unverified piece %d", p.id, u.Piece)
			}
		}
		if p.amChoking && len(p.uploads) > 0 {
			return fmt.Errorf("peer %d choked with queued uploads", p.id)
		}
		for _, r := range p.reqs {
			if s.have.get(int(r.spec.Piece)) {
				return fmt.Errorf("peer %d: request for had piece %d", p.id, r.spec.Piece)
			}
		}
		for _, r := range p.reveals {
			pending[r.piece]++
		}
	}
	if s.byID.len() != len(s.peers) {
		return fmt.Errorf("%d peers indexed, %d listed", s.byID.len(), len(s.peers))
	}
	if unchoked != s.numUnchoked {
		return fmt.Errorf("numUnchoked %d, recount %d", s.numUnchoked, unchoked)
	}
	if s.seed != nil {
		for i, n := range pending {
			if n != s.seed.pending[i] {
				return fmt.Errorf("seed pending[%d] %d, recount %d", i, s.seed.pending[i], n)
			}
		}
		// strand and unstrand move pieces in and out of out.
		if n := s.seed.out.count(); n != s.seed.numOut {
			return fmt.Errorf("seed numOut %d, recount %d", s.seed.numOut, n)
		}
	}
	return nil
}

// checkLocality recounts farAvail, the pieces that are ours to fetch from
// far peers, and our requests at near peers (nearReqs, which refillFar
// reads).
func (s *Swarm) checkLocality() error {
	l := s.loc
	if l == nil {
		for _, p := range s.peers {
			if p.dist != distUnknown {
				return fmt.Errorf("peer %d has a distance without a zone", p.id)
			}
		}
		return nil
	}
	near := 0
	for _, p := range s.peers {
		if p.dist != distFar {
			near += len(p.reqs)
		}
	}
	if near != l.nearReqs {
		return fmt.Errorf("%d requests at near peers counted, %d outstanding", l.nearReqs, near)
	}
	for i := 0; i < s.cfg.NumPieces; i++ {
		n, best := int32(0), uint64(0)
		for _, p := range s.peers {
			if p.dist == distFar && p.has.get(i) {
				n++
			}
			if p.dist == distNear && p.idKey != 0 && l.self != 0 {
				best = max(best, farWeight(p.idKey, i))
			}
		}
		if n != l.farAvail[i] {
			return fmt.Errorf("farAvail[%d] %d, recount %d", i, l.farAvail[i], n)
		}
		if mine := l.self == 0 || farWeight(l.self, i) > best; mine != l.mine.get(i) {
			return fmt.Errorf("piece %d: mine %v, recount %v", i, l.mine.get(i), mine)
		}
	}
	return nil
}
