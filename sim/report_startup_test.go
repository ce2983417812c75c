package sim

import (
	"testing"
	"time"
)

// A receiver sends no block before it has a verified piece, so over the
// same receivers the quantiles of the first block sent are at least those
// of the first piece, and the silence between them is never negative.
func TestSilenceAfterFirstPiece(t *testing.T) {
	cfg := small(3)
	cfg.JoinSpread = 50 * time.Millisecond
	r := runChecked(t, cfg, cfg.Peers)
	d := r.Diagnosis
	if d.FirstSent.Max == 0 {
		t.Fatalf("no receiver sent a block: %+v", d.FirstSent)
	}
	if d.FirstSent.P50 < d.FirstPiece.P50 || d.FirstSent.Max < d.FirstPiece.Max {
		t.Errorf("first block sent %+v before first piece %+v", d.FirstSent, d.FirstPiece)
	}
	if d.Silent.P50 < 0 || d.Silent.Max < d.Silent.P50 || d.Silent.OverHalfS < 0 || d.Silent.OverHalfS > cfg.Peers {
		t.Errorf("silence %+v", d.Silent)
	}
}
