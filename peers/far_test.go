package peers

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// TestFarBound floods a downloading manager of rack 0 with far peers, as
// a fleet whose hosts fill their connections at once does: 300 peers of
// 24 other racks and 40 of its own dial it, and it dials back 100 far
// addresses it learnt. After every event at most DefaultMaxFar far
// connections that are not seeds remain, every near one is kept, a far
// seed is kept beside them, and no address known to be far is dialled
// while the far slots are full.
func TestFarBound(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	m, err := New(now, Config{PeerID: peerID("me"), MaxPeers: 400, MaxHalfOpen: 400, Zone: "dc1/row0/rack0"})
	if err != nil {
		t.Fatal(err)
	}
	zoneOf := map[netip.AddrPort]string{}
	addr := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 6881)
	}
	var next ConnID
	open := map[ConnID]bool{}
	var dials []netip.AddrPort
	check := func(step string) {
		t.Helper()
		acts := m.Ready()
		for _, a := range acts {
			switch a.Kind {
			case Accept:
				open[a.Conn] = true
			case Close:
				delete(open, a.Conn)
			case Dial:
				if cd := m.cands[a.Addr]; cd != nil && cd.far && m.farFull() {
					t.Fatalf("%s: dialled %v, known far, with the far slots full", step, a.Addr)
				}
				dials = append(dials, a.Addr)
			}
		}
		if len(acts) > 0 {
			m.Advance()
		}
		if err := m.checkInvariants(); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if n := m.farCounted(); n > DefaultMaxFar {
			t.Fatalf("%s: %d far connections that are not seeds, bound %d", step, n, DefaultMaxFar)
		}
	}
	connect := func(i int, zone string, seed bool) ConnID {
		next++
		a := addr(i)
		zoneOf[a] = zone
		m.Connected(now, Handshake{Conn: next, Remote: netip.AddrPortFrom(a.Addr(), 40000),
			Wire: wire.Handshake{PeerID: peerID(a.String()), Reserved: wire.DefaultReserved()}})
		check(fmt.Sprintf("connect %d", i))
		if seed {
			m.Facts(now, []swarm.PeerFact{{Conn: next, Seed: true, Interesting: true}})
		}
		m.Extended(now, next, ExtendedInfo{ListenPort: 6881, Zone: zone})
		check(fmt.Sprintf("extended %d (%q)", i, zone))
		return next
	}
	seedConn := connect(0, "dc1/row4/rack20", true)
	for i := 1; i <= 340; i++ {
		zone := "dc1/row0/rack0"
		if i%17 != 0 || i > 40*17 {
			zone = fmt.Sprintf("dc1/row%d/rack%d", (1+i%24)/5, 1+i%24)
		}
		connect(i, zone, false)
		now = now.Add(time.Millisecond)
	}
	// Far addresses learnt from a tracker: dialled (their zone is unknown
	// until they answer), then kept only while a far slot is free.
	var far []netip.AddrPort
	for i := 1000; i < 1100; i++ {
		far = append(far, addr(i))
		zoneOf[addr(i)] = "dc1/row1/rack7"
	}
	m.AddCandidates(now, FromTracker, far)
	check("tracker addresses")
	for len(dials) > 0 {
		a := dials[0]
		dials = dials[1:]
		next++
		m.Connected(now, Handshake{Conn: next, Dialed: a, Remote: a, Wire: wire.Handshake{PeerID: peerID(a.String()), Reserved: wire.DefaultReserved()}})
		check("dialled " + a.String())
		m.Extended(now, next, ExtendedInfo{ListenPort: 6881, Zone: zoneOf[a]})
		check("dialled, extended " + a.String())
	}
	// Minutes later every closed far address is due again, but the far
	// slots are still full.
	for range 5 {
		now = now.Add(time.Minute)
		m.Tick(now)
		check("tick")
	}
	near := 0
	for _, c := range m.connList {
		if !c.far {
			near++
		}
	}
	if near != 20 || m.far != DefaultMaxFar+1 || !open[seedConn] || m.conns[seedConn] == nil {
		t.Fatalf("near %d (want 20), far %d (want %d and the seed), seed open %v", near, m.far, DefaultMaxFar+1, open[seedConn])
	}
}

// TestFactsFirst: the runtime steps Facts before a BEP 10 handshake that
// names another zone (the manager then chooses which far peers to keep),
// not before one naming ours or none, and never for a host without a zone.
func TestFactsFirst(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, tc := range []struct {
		ours, theirs string
		want         bool
	}{
		{"dc1/row0/rack0", "dc1/row0/rack1", true},
		{"dc1/row0/rack0", "dc1/row0/rack0", false},
		{"dc1/row0/rack0", "", false},
		{"", "dc1/row0/rack1", false},
		{"", "", false},
	} {
		m, err := New(now, Config{PeerID: peerID("me"), Zone: tc.ours})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.FactsFirst(ExtendedInfo{Zone: tc.theirs}); got != tc.want {
			t.Errorf("zone %q, peer's %q: FactsFirst %v, want %v", tc.ours, tc.theirs, got, tc.want)
		}
	}
}
