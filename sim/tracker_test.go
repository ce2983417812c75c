package sim

import (
	"context"
	"fmt"
	"time"

	randv2 "math/rand/v2"
	"testing"

	"github.com/shoal-p2p/shoal/tracker"
)

// entryCheck wraps the tracker's policy and compares every candidate it
// is handed with the entry built afresh from the host's core.
type entryCheck struct {
	tracker.Policy
	s          *simulation
	seen, held int // candidates checked, and those holding pieces
	bad        []string
}

func (p *entryCheck) Handout(now time.Time, self tracker.Peer, c []tracker.Peer, n int) []tracker.Peer {
	for _, q := range append([]tracker.Peer{self}, c...) {
		h := p.s.hosts[hostOf(q.Addr)]
		p.seen++
		if !h.origin && q.Downloaded > 0 {
			p.held++
		}
		if want := p.s.makeTrackerPeer(h); q != want {
			p.bad = append(p.bad, fmt.Sprintf("host %d: %+v, want %+v", h.idx, q, want))
		}
	}
	return p.Policy.Handout(now, self, c, n)
}

// TestTrackerEntriesCurrent: the tracker entries trackerAnnounce keeps
// between announces are what the hosts' cores say at each announce, also
// for hosts that verified pieces since their entry was built.
func TestTrackerEntriesCurrent(t *testing.T) {
	cfg := small(3)
	cfg.Peers = 12
	cfg.JoinSpread = 400 * time.Millisecond // later hosts announce while earlier ones hold pieces
	chk := &entryCheck{Policy: tracker.NewDefaultPolicy(randv2.New(randv2.NewPCG(1, 2)), nil)}
	cfg.Policy = chk
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	lay, err := makeLayout(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &simulation{cfg: cfg, lay: lay, rng: newRand(cfg.Seed), lat: int64(cfg.Latency), policy: chk}
	chk.s = s
	if err := s.build(); err != nil {
		t.Fatal(err)
	}
	if err := s.loop(context.Background(), int64(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s.receiversLeft != 0 {
		t.Fatalf("%d receivers unfinished", s.receiversLeft)
	}
	if chk.held == 0 {
		t.Fatalf("no announce saw a host holding pieces (%d candidates): the check proves nothing", chk.seen)
	}
	if len(chk.bad) > 0 {
		t.Errorf("%d of %d tracker entries stale, first: %s", len(chk.bad), chk.seen, chk.bad[0])
	}
}
