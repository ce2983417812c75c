package sim

import (
	"context"
	"testing"
)

// TestChurnOriginLeaves: with receivers leaving part-way and the origin
// leaving after its first copy, every receiver that stays completes, for
// many seeds: the origin leaves only once every piece is held by
// receivers still present (a piece whose only copy left with a churning
// receiver used to be lost, and no remaining receiver could finish).
func TestChurnOriginLeaves(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		cfg := small(seed)
		cfg.Peers, cfg.Churn, cfg.OriginLeaves = 20, 0.25, true
		r, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if r.Churned != 5 || r.Incomplete != 0 || len(r.FinishS) != 15 {
			t.Fatalf("seed %d: churned %d, %d complete, %d incomplete; want 5 churned and the other 15 complete",
				seed, r.Churned, len(r.FinishS), r.Incomplete)
		}
	}
}

// TestChurnFloorOverStayers: the floor bounds the finish of the receivers
// that stay, so a slow receiver that leaves part-way does not set it
// (F/d_min was over every receiver), while every receiver's upload still
// counts.
func TestChurnFloorOverStayers(t *testing.T) {
	cfg := Config{Size: 1000, OriginLink: 100, Peers: 3}
	hosts := []*host{{origin: true},
		{upReal: 100, downReal: 100}, {upReal: 100, downReal: 100},
		{upReal: 10, downReal: 10, churnAt: 1}}
	if got, want := floor(&cfg, hosts), 10.0; got != want {
		t.Fatalf("floor with the slow receiver leaving = %v s, want %v s (F/u_s)", got, want)
	}
	hosts[3].churnAt = 0
	if got, want := floor(&cfg, hosts), 100.0; got != want {
		t.Fatalf("floor with the slow receiver staying = %v s, want %v s (F/d_min)", got, want)
	}
}

// TestChurnTimelineOverPresent: the timeline's per-receiver link use is
// over the receivers present at each bin, so it stays within the links
// while receivers that later leave are still there (it was over the
// receivers that stayed: here up to 2.0 of the upload links and 1.76 of
// the download links). A block on its way to a receiver that leaves
// still counts on its download link, so that one may pass 1 a little
// (1.06 here).
func TestChurnTimelineOverPresent(t *testing.T) {
	cfg := small(1)
	cfg.Peers, cfg.Churn, cfg.OriginLeaves, cfg.Size = 20, 0.5, true, 16<<20
	r, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range r.Diagnosis.Timeline {
		if b.RecvUp > 1.01 || b.RecvDown > 1.1 {
			t.Fatalf("bin at %.4fs: receivers' upload %.3f, download %.3f of their links; want at most 1.01 and 1.1", b.StartS, b.RecvUp, b.RecvDown)
		}
	}
}
