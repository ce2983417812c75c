package swarm

import (
	"fmt"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// maxReqq bounds the reqq we believe from a peer's extended handshake.
const maxReqq = 1 << 16

// Receive handles one decoded message from c, except Piece messages, which
// carry a payload and go through ReceiveBlock (a Piece here breaks the
// contract and panics with ErrContract). Protocol violations disconnect
// the peer. Messages from unknown connections are ignored.
func (s *Swarm) Receive(now time.Time, c ConnID, m wire.Message) {
	s.step()
	if m.Type == wire.Piece && !m.KeepAlive {
		panic(s.out.Violation("a Piece message goes through ReceiveBlock with its payload"))
	}
	s.receiveMsg(now, c, m)
}

// ReceiveBlock handles a Piece message from c: the block spec, its bytes
// being data, the runtime's handle on them. The core never reads data: if
// it wants the block it hands data back in a WriteBlock action, and the
// runtime writes it; otherwise data stays the runtime's to release. A nil
// data breaks the contract and panics with ErrContract.
func (s *Swarm) ReceiveBlock(now time.Time, c ConnID, spec BlockSpec, data Payload) {
	s.step()
	if data == nil {
		panic(s.out.Violation("block " + spec.String() + " handed in without a payload"))
	}
	first := s.out.Len()
	s.receiveMsg(now, c, wire.Message{Type: wire.Piece, Index: spec.Piece, Begin: spec.Begin, Length: spec.Length})
	for i := first; i < s.out.Len(); i++ {
		if a := s.out.At(i); a.Kind == WriteBlock && a.Conn == c && a.Block == spec {
			a.Data = data
		}
	}
}

// receiveMsg is Receive without the contract checks.
func (s *Swarm) receiveMsg(now time.Time, c ConnID, m wire.Message) {
	p := s.byID.get(c)
	if p == nil || m.KeepAlive {
		return
	}
	if reason := s.receive(now, p, m); reason != "" {
		s.disconnect(now, p, reason)
	}
	s.flush(now)
}

// receive dispatches m and returns a non-empty reason on a protocol
// violation.
func (s *Swarm) receive(now time.Time, p *peer, m wire.Message) string {
	if !p.greeted {
		switch m.Type {
		case wire.Bitfield, wire.HaveAll, wire.HaveNone, wire.Have:
			p.greeted = true
			s.sourceGreeted(now, p)
			s.unchokeGreeted(now, p)
		}
	}
	switch m.Type {
	case wire.Choke:
		p.peerChoking = true
		if !p.fast {
			// BEP 3: a choke discards our pending requests. With BEP 6 only
			// a Reject does.
			for len(p.reqs) > 0 {
				s.unrequest(now, p, len(p.reqs)-1, false)
			}
		}
	case wire.Unchoke:
		p.peerChoking = false
		p.unchokedUs = true
		s.fill(now, p)
	case wire.Interested:
		p.peerInterested = true
		s.onInterested(now, p)
	case wire.NotInterested:
		p.peerInterested = false
		s.onNotInterested(now, p)
	case wire.Have:
		if int64(m.Index) >= int64(s.cfg.NumPieces) {
			return fmt.Sprintf("have %d out of range", m.Index)
		}
		if !p.has.get(int(m.Index)) {
			s.sourceGained(p)
		}
		s.peerHas(now, p, int(m.Index))
		s.fill(now, p)
	case wire.Bitfield:
		if reason := s.onBitfield(now, p, m.Bitfield); reason != "" {
			return reason
		}
	case wire.HaveAll, wire.HaveNone:
		if !p.fast {
			return m.Type.String() + " without fast extension"
		}
		if m.Type == wire.HaveAll {
			for i := 0; i < s.cfg.NumPieces; i++ {
				s.peerHas(now, p, i)
			}
			s.fill(now, p)
		}
	case wire.Request:
		spec := BlockSpec{m.Index, m.Begin, m.Length}
		if reason := s.checkSpec(spec); reason != "" {
			return "request " + reason
		}
		s.onRequest(p, spec)
	case wire.Cancel:
		s.onCancel(p, BlockSpec{m.Index, m.Begin, m.Length})
	case wire.Piece:
		n := m.Length
		if n == 0 {
			n = uint32(len(m.Block))
		}
		spec := BlockSpec{m.Index, m.Begin, n}
		if reason := s.checkSpec(spec); reason != "" {
			return "piece " + reason
		}
		s.onPiece(now, p, spec)
	case wire.Reject:
		if !p.fast {
			return "reject without fast extension"
		}
		if k := p.findRequest(BlockSpec{m.Index, m.Begin, m.Length}); k >= 0 {
			s.unrequest(now, p, k, true)
		}
	case wire.AllowedFast:
		if !p.fast {
			return "allowed-fast without fast extension"
		}
		if int64(m.Index) >= int64(s.cfg.NumPieces) {
			return fmt.Sprintf("allowed-fast %d out of range", m.Index)
		}
		if len(p.allowedFast) < maxAllowedFast && !containsU32(p.allowedFast, m.Index) {
			p.allowedFast = append(p.allowedFast, m.Index)
			s.fill(now, p)
		}
	case wire.Suggest:
		if int64(m.Index) >= int64(s.cfg.NumPieces) {
			return fmt.Sprintf("suggest %d out of range", m.Index)
		}
	case wire.Extended:
		if m.ExtendedID == 0 {
			s.onExtendedHandshake(now, p, m.ExtendedPayload)
		}
	}
	return ""
}

// checkSpec validates a block named by a peer; "" means valid.
func (s *Swarm) checkSpec(b BlockSpec) string {
	switch {
	case int64(b.Piece) >= int64(s.cfg.NumPieces):
		return fmt.Sprintf("piece %s out of range", b)
	case b.Length == 0:
		return fmt.Sprintf("%s has zero length", b)
	case b.Length > wire.BlockSize:
		return fmt.Sprintf("%s longer than %d", b, wire.BlockSize)
	case int64(b.Begin)+int64(b.Length) > s.pieceLen(int(b.Piece)):
		return fmt.Sprintf("%s past end of piece", b)
	}
	return ""
}

// peerHas records that p has piece i.
func (s *Swarm) peerHas(now time.Time, p *peer, i int) {
	if !p.has.get(i) {
		p.has.set(i)
		p.numHas++
		s.avail[i]++
		if p.src.slow {
			s.slowAvail[i]++
		}
		s.farHas(now, p, i)
		if !s.have.get(i) {
			p.wanted++
			s.updateInterest(p)
		}
	}
	if s.seed != nil {
		s.seedPeerHas(now, p, i)
	}
}

// onBitfield merges a BEP 3 bitfield into what p has. It is accepted at any
// time (aria2 sends it after Have messages).
func (s *Swarm) onBitfield(now time.Time, p *peer, bf []byte) string {
	n := s.cfg.NumPieces
	if len(bf) != (n+7)/8 {
		return fmt.Sprintf("bitfield of %d bytes, want %d", len(bf), (n+7)/8)
	}
	if n%8 != 0 && bf[len(bf)-1]&(0xff>>(n%8)) != 0 {
		return "bitfield has spare bits set"
	}
	for i := 0; i < n; i++ {
		if bf[i/8]&(0x80>>(i%8)) != 0 {
			s.peerHas(now, p, i)
		}
	}
	s.fill(now, p)
	return ""
}

// onExtendedHandshake reads reqq (BEP 10) from p's extended handshake. A
// malformed handshake is ignored: the extension protocol is optional.
func (s *Swarm) onExtendedHandshake(now time.Time, p *peer, payload []byte) {
	h, err := wire.ParseExtendedHandshake(payload) // bounded in size and depth
	if err != nil {
		s.setZone(now, p, "")
		return
	}
	defer s.setZone(now, p, h.Zone)
	if h.Reqq > 0 {
		p.reqq = min(h.Reqq, maxReqq)
		for len(p.reqs) > p.reqq {
			// Requests beyond the new cap would be dropped by the peer.
			s.cancelRequest(now, p, len(p.reqs)-1, false, false)
		}
	}
}

func containsU32(xs []uint32, x uint32) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
