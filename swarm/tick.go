package swarm

import "time"

// rateWeight is the weight of the newest sample in the rate averages.
const rateWeight = 0.5

// Tick advances the core's notion of time; call it about every second. It
// updates transfer rates, cancels timed-out requests, runs the choker,
// releases stalled initial-seeding reveals and refills every pipeline.
func (s *Swarm) Tick(now time.Time) {
	if !s.lastTick.IsZero() {
		if dt := now.Sub(s.lastTick).Seconds(); dt > 0 {
			for _, p := range s.peers {
				s.sampleRates(p, dt)
			}
		}
	}
	s.lastTick = now
	for _, p := range s.peers {
		s.checkTimeouts(now, p)
	}
	s.chokerTick(now)
	if s.seed != nil {
		s.seedTick(now)
	}
	s.needFill = true
	s.flush(now)
}

// sampleRates folds the bytes moved since the last tick into p's rates.
func (s *Swarm) sampleRates(p *peer, dt float64) {
	down, up := float64(p.downWindow)/dt, float64(p.upWindow)/dt
	p.downWindow, p.upWindow = 0, 0
	if !p.rateKnown {
		if down > 0 {
			p.downRate, p.rateKnown = down, true
		}
	} else {
		p.downRate += rateWeight * (down - p.downRate)
	}
	p.upRate += rateWeight * (up - p.upRate)
}
