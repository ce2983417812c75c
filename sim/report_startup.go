package sim

// Silence is how long the receivers' uploads stayed silent after their
// first verified piece: the figure the bench's start-up line gives of a
// real run (first piece verified, first block sent), so the twin can be
// read beside it. A receiver that holds pieces nobody asks for (pieces
// every peer lacking them has already begun elsewhere) is silent.
type Silence struct {
	Quantiles
	// OverHalfS counts the receivers silent for more than half a second.
	OverHalfS int `json:"over_half_s"`
}

// silenceOver is the silence counted in Silence.OverHalfS, ns.
const silenceOver = 500_000_000

// silence returns the quantiles of the receivers' first block sent and
// of their silence after their first piece.
func (t *trace) silence(s *simulation) (Quantiles, Silence) {
	var sent, quiet []float64
	over := 0
	for _, h := range s.hosts[1:] {
		fs := t.firstSent[h.idx]
		if fs < 0 {
			continue
		}
		sent = append(sent, float64(fs)/1e9)
		if fp := t.firstPiece[h.idx]; fp >= 0 {
			gap := max(fs-fp, 0)
			quiet = append(quiet, float64(gap)/1e9)
			if gap > silenceOver {
				over++
			}
		}
	}
	return quantiles(sent), Silence{Quantiles: quantiles(quiet), OverHalfS: over}
}
