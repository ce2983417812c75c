package peers

import (
	"errors"
	"math/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// TestRandomEvents steps managers with random but well-formed event
// sequences (every Dial answered, only open connections closed) and checks
// the invariants and bounds after every event, and that a banned address is
// never dialled. The seed is printed on failure.
func TestRandomEvents(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		if err := randomRun(seed, 3000); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

func randomRun(seed int64, steps int) error {
	rng := rand.New(rand.NewSource(seed))
	now := time.Unix(1_000_000, 0)
	cfg := Config{PeerID: peerID("me"), MaxPeers: 1 + rng.Intn(12), MaxHalfOpen: 1 + rng.Intn(6),
		MaxCandidates: 8 + rng.Intn(40), Trackers: rng.Intn(3), DHT: rng.Intn(2) == 0, PEX: true,
		Metadata: rng.Intn(3) == 0, Seed: seed}
	zones := []string{"", "dc1/rack0", "dc1/rack1", "dc1/rack2"}
	if seed%2 == 0 {
		cfg.Zone, cfg.MaxFar = zones[1], rng.Intn(4)-1 // 0: the default; -1: no bound
	}
	m, err := New(now, cfg)
	if err != nil {
		return err
	}
	addr := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 6881)
	}
	var dials []netip.AddrPort // dials to answer
	open := map[ConnID]bool{}
	var openList []ConnID
	banned := map[netip.AddrPort]bool{}
	var announces []int
	lookup, dhtAnn := false, false
	next := ConnID(0)
	take := func() error {
		for _, a := range m.Ready() {
			switch a.Kind {
			case Dial:
				if banned[a.Addr] {
					return errors.New("dialled banned address " + a.Addr.String())
				}
				dials = append(dials, a.Addr)
			case Accept:
				open[a.Conn] = true
				openList = append(openList, a.Conn)
			case Close:
				delete(open, a.Conn)
			case Announce:
				if a.Event != EventStopped {
					announces = append(announces, a.Tracker)
				}
			case Lookup:
				lookup = true
			case AnnounceDHT:
				dhtAnn = true
			}
		}
		if m.out.Len() > 0 {
			m.Advance()
		}
		return m.checkInvariants()
	}
	if err := take(); err != nil {
		return err
	}
	for i := 0; i < steps; i++ {
		switch k := rng.Intn(14); {
		case k < 2:
			var as []netip.AddrPort
			for j := rng.Intn(8); j > 0; j-- {
				as = append(as, addr(rng.Intn(200)))
			}
			m.AddCandidates(now, Source(rng.Intn(3)), as)
		case k < 4 && len(dials) > 0:
			j := rng.Intn(len(dials))
			a := dials[j]
			dials = append(dials[:j], dials[j+1:]...)
			if rng.Intn(2) == 0 {
				m.DialFailed(now, a)
			} else {
				next++
				id := peerID(a.String())
				if rng.Intn(10) == 0 {
					id = cfg.PeerID
				}
				m.Connected(now, Handshake{Conn: next, Dialed: a, Remote: a, Wire: wire.Handshake{PeerID: id, Reserved: wire.DefaultReserved()}})
			}
		case k < 5:
			next++
			a := addr(rng.Intn(200))
			m.Connected(now, Handshake{Conn: next, Remote: netip.AddrPortFrom(a.Addr(), 40000), Wire: wire.Handshake{PeerID: peerID(a.String()), Reserved: wire.DefaultReserved()}})
		case k < 6 && len(openList) > 0:
			c := openList[rng.Intn(len(openList))]
			if open[c] {
				m.Closed(now, c)
				delete(open, c)
			}
		case k < 7 && len(openList) > 0:
			c := openList[rng.Intn(len(openList))]
			if cn := m.conns[c]; cn != nil && cn.listen.IsValid() && rng.Intn(3) == 0 {
				banned[cn.listen] = true
				m.Ban(now, c, "test", time.Time{})
			} else if cn != nil {
				m.Extended(now, c, ExtendedInfo{ListenPort: 6881, PEX: true, Metadata: rng.Intn(2) == 0,
					Zone: zones[rng.Intn(len(zones))]})
			}
		case k < 8 && len(openList) > 0:
			c := openList[rng.Intn(len(openList))]
			var msg wire.PEXMessage
			for j := rng.Intn(60); j > 0; j-- {
				msg.Added = append(msg.Added, wire.PEXPeer{Addr: addr(200 + rng.Intn(300))})
			}
			m.PEXReceived(now, c, msg)
		case k < 9 && len(openList) > 0:
			c := openList[rng.Intn(len(openList))]
			m.Facts(now, []swarm.PeerFact{{Conn: c, Moved: int64(rng.Intn(3)), Pending: rng.Intn(2) == 0,
				Interesting: rng.Intn(2) == 0, Seed: rng.Intn(4) == 0}})
			if rng.Intn(4) == 0 {
				m.MetadataFailed(now, c, "bad")
			}
		case k < 10 && len(announces) > 0:
			tr := announces[0]
			announces = announces[1:]
			var r AnnounceResult
			if rng.Intn(2) == 0 {
				r.Err = errors.New("down")
			} else {
				r.Peers = []netip.AddrPort{addr(rng.Intn(200)), addr(rng.Intn(200))}
			}
			m.AnnounceDone(now, tr, r)
		case k < 11 && (lookup || dhtAnn):
			if lookup {
				lookup = false
				m.LookupDone(now, LookupResult{NoNodes: rng.Intn(2) == 0})
			} else {
				dhtAnn = false
				m.DHTAnnounced(now, LookupResult{})
			}
		case k == 11 && !m.cfg.Metadata && rng.Intn(100) == 0:
			m.Completed(now)
		case k == 11 && m.cfg.Metadata && rng.Intn(20) == 0:
			m.MetadataDone(now, false, false)
			dials, announces, lookup, dhtAnn = nil, nil, false, false
			for c := range open {
				delete(open, c)
			}
		default:
			now = now.Add(time.Duration(rng.Intn(3000)) * time.Millisecond)
			m.Tick(now)
		}
		if err := take(); err != nil {
			return err
		}
	}
	return nil
}

// TestContractViolations: stepping the manager while a batch is out, a
// second Ready, or an Advance without a batch are caught.
func TestContractViolations(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			err, _ := r.(error)
			if !errors.Is(err, ErrContract) {
				t.Errorf("%s: recovered %v, want ErrContract", name, r)
			}
		}()
		f()
	}
	m, err := New(now, Config{Trackers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Ready()) != 1 {
		t.Fatal("want the first announce ready")
	}
	mustPanic("tick during a batch", func() { m.Tick(now) })
	mustPanic("second Ready", func() { m.Ready() })
	m.Advance()
	mustPanic("Advance without Ready", func() { m.Advance() })
	m.AddCandidates(now, FromUser, []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:1")})
	if acts := m.Ready(); len(acts) != 1 || acts[0].Kind != Dial {
		t.Fatalf("want one dial, got %v", acts)
	}
	m.Advance()
}

// FuzzEvents runs the randomized event sequences of TestRandomEvents from
// fuzzed seeds and lengths: the invariants hold and no banned address is
// dialled, whatever the sequence.
func FuzzEvents(f *testing.F) {
	f.Add(int64(1), uint16(500))
	f.Add(int64(77), uint16(2000))
	f.Fuzz(func(t *testing.T, seed int64, steps uint16) {
		if err := randomRun(seed, int(steps%3000)); err != nil {
			t.Fatalf("seed %d, %d steps: %v", seed, steps%3000, err)
		}
	})
}
