package sim

import "time"

// ChurnReport is what the receivers that left (Config.Churn) cost the run:
// the bytes they took and gave, and the connections the receivers that
// stayed lost when they left (the simulator models no PEX, and a host
// announces again only after the tracker's interval, so a lost peer is
// not replaced within a run of seconds).
type ChurnReport struct {
	// InRatio is the bytes the receivers that left had received, and
	// OutRatio what they had uploaded, each divided by F.
	InRatio  float64 `json:"churned_in_ratio"`
	OutRatio float64 `json:"churned_out_ratio"`
	// PeersLostMean and PeersLostMax count, over the receivers that
	// stayed, the connections each lost to a receiver leaving.
	PeersLostMean float64 `json:"peers_lost_mean"`
	PeersLostMax  int     `json:"peers_lost_max"`
	// HitHosts is how many receivers that stayed lost at least one
	// connection so; TLastHitS is the last of them to finish and
	// TLastUnhitS the last of the others (0: none finished).
	HitHosts    int     `json:"hit_hosts"`
	TLastHitS   float64 `json:"t_last_hit_s"`
	TLastUnhitS float64 `json:"t_last_unhit_s"`
}

// churnReport returns the run's ChurnReport, or nil without churn.
func (s *simulation) churnReport() *ChurnReport {
	if s.cfg.Churn == 0 {
		return nil
	}
	cr := &ChurnReport{}
	F := float64(s.cfg.Size)
	stay, lost := 0, 0
	for _, h := range s.hosts[1:] {
		if h.churnAt > 0 {
			st := h.core.Stats()
			cr.InRatio += float64(st.Downloaded*s.lay.scale) / F
			cr.OutRatio += float64(st.Uploaded*s.lay.scale) / F
			continue
		}
		stay++
		lost += int(h.lost)
		cr.PeersLostMax = max(cr.PeersLostMax, int(h.lost))
		at := 0.0
		if h.done {
			at = time.Duration(h.finishedAt).Seconds()
		}
		if h.lost > 0 {
			cr.HitHosts++
			cr.TLastHitS = max(cr.TLastHitS, at)
		} else {
			cr.TLastUnhitS = max(cr.TLastUnhitS, at)
		}
	}
	if stay > 0 {
		cr.PeersLostMean = float64(lost) / float64(stay)
	}
	return cr
}
