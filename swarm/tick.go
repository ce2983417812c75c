package swarm

import "time"

// rateWeight is the weight of the newest sample in the rate averages.
const rateWeight = 0.5

// Tick advances the core's notion of time; call it about every second. It
// updates transfer rates, cancels timed-out requests, runs the choker,
// releases stalled initial-seeding reveals and refills every pipeline.
func (s *Swarm) Tick(now time.Time) {
	s.step()
	for _, p := range s.peers {
		s.maybeSample(now, p) // a peer that sent nothing decays here
	}
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

// sampleEvery is how often a peer's rates take a new sample: on Tick, and
// as blocks move, so a transfer shorter than a tick still gets measured
// pipelines and reveal windows.
const sampleEvery = 250 * time.Millisecond

// maybeSample folds the bytes moved since p's last sample into its rates
// once sampleEvery has passed.
func (s *Swarm) maybeSample(now time.Time, p *peer) {
	if p.sampledAt.IsZero() {
		p.sampledAt = now
		return
	}
	dt := now.Sub(p.sampledAt)
	if dt < sampleEvery {
		return
	}
	p.sampledAt = now
	s.sampleRates(p, dt.Seconds())
}

// sampleRates folds the bytes moved since the last sample into p's rates.
func (s *Swarm) sampleRates(p *peer, dt float64) {
	down, up := float64(p.downWindow)/dt, float64(p.upWindow)/dt
	p.moved += p.downWindow + p.upWindow
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
