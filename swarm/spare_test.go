package swarm

import (
	"testing"
	"time"
)

// TestSpareDL checks that the download states of finished pieces are
// reused cleared, that starting a piece then allocates nothing, that at
// most maxSpareDL are kept, and that none are kept once complete.
func TestSpareDL(t *testing.T) {
	now := time.Unix(0, 0)
	const n = 3*maxSpareDL + 2
	// A short last piece: its state, reused for a full piece, must grow.
	cfg := Config{NumPieces: n, PieceLength: 65536, TotalLength: int64(n-1)*65536 + 100, Seed: 1}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	last := n - 1
	d := s.startPiece(last)
	d.blocks[0].state, d.blocks[0].reqs, d.written, d.exclusive = blockReceived, 2, 1, true
	d.suspects = []failedCopy{{}}
	s.pieceDone(now, last)
	if len(s.spareDL) != 1 || s.spareDL[0].suspects != nil {
		t.Fatalf("spare after one piece: %d kept, suspects %v", len(s.spareDL), s.spareDL)
	}
	d = s.startPiece(0)
	if len(d.blocks) != s.numBlocks(0) || d.index != 0 || d.unrequested != s.numBlocks(0) || d.written != 0 || d.exclusive {
		t.Fatalf("reused state not reset: %+v", d)
	}
	for k, bl := range d.blocks {
		if bl != (block{}) {
			t.Fatalf("block %d not cleared: %+v", k, bl)
		}
	}
	s.pieceDone(now, 0)
	// Steady state: one piece done, one started; no allocation.
	next := 1
	if a := testing.AllocsPerRun(20, func() {
		s.startPiece(next)
		s.pieceDone(now, next)
		next++
	}); a != 0 {
		t.Errorf("starting a piece with a spare state: %v allocations, want 0", a)
	}
	// More pieces in progress at once than the bound: it keeps maxSpareDL.
	var batch []int
	for i := next; i < last && len(batch) < 2*maxSpareDL; i++ {
		s.startPiece(i)
		batch = append(batch, i)
	}
	for _, i := range batch {
		s.pieceDone(now, i)
	}
	if len(s.spareDL) != maxSpareDL {
		t.Fatalf("spare states kept: %d, want the bound %d", len(s.spareDL), maxSpareDL)
	}
	for i := range n {
		if !s.have.get(i) {
			s.startPiece(i)
			s.pieceDone(now, i)
		}
	}
	if !s.Complete() || s.spareDL != nil {
		t.Fatalf("complete %v with %d spare states kept, want none", s.Complete(), len(s.spareDL))
	}
}
