package peers

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

func peersMap(from, to int) map[netip.AddrPort]wire.PEXFlags {
	m := make(map[netip.AddrPort]wire.PEXFlags)
	for i := from; i < to; i++ {
		m[netip.MustParseAddrPort(fmt.Sprintf("10.0.%d.%d:6881", i/250, i%250+1))] = wire.PEXReachable
	}
	return m
}

func TestPEXStateAddedDroppedAndRate(t *testing.T) {
	s := newPEXState()
	t0 := time.Unix(1000, 0)
	m, ok := s.next(t0, peersMap(0, 3), DefaultPEXInterval)
	if !ok || len(m.Added) != 3 || len(m.Dropped) != 0 {
		t.Fatalf("first message: %+v, %v; want 3 added at once", m, ok)
	}
	if m.Added[0].Flags != wire.PEXReachable {
		t.Errorf("flags %v, want reachable", m.Added[0].Flags)
	}
	// BEP 11: at most one message a minute.
	if m, ok := s.next(t0.Add(59*time.Second), peersMap(1, 5), DefaultPEXInterval); ok {
		t.Fatalf("second message after 59 s: %+v", m)
	}
	m, ok = s.next(t0.Add(time.Minute), peersMap(1, 5), DefaultPEXInterval)
	if !ok || len(m.Added) != 2 || len(m.Dropped) != 1 {
		t.Fatalf("after a minute: %+v, %v; want 2 added (3, 4) and 1 dropped (0)", m, ok)
	}
	if want := netip.MustParseAddrPort("10.0.0.1:6881"); m.Dropped[0] != want {
		t.Errorf("dropped %v, want %v", m.Dropped[0], want)
	}
	// Nothing changed: nothing to send, and no slot used up.
	if m, ok := s.next(t0.Add(3*time.Minute), peersMap(1, 5), DefaultPEXInterval); ok {
		t.Fatalf("unchanged peers sent %+v", m)
	}
}

func TestPEXStateBoundsEachList(t *testing.T) {
	s := newPEXState()
	t0 := time.Unix(1000, 0)
	m, _ := s.next(t0, peersMap(0, 120), DefaultPEXInterval)
	if len(m.Added) != pexMaxAdded {
		t.Fatalf("first message adds %d, want %d", len(m.Added), pexMaxAdded)
	}
	m, _ = s.next(t0.Add(time.Minute), peersMap(0, 120), DefaultPEXInterval)
	if len(m.Added) != pexMaxAdded {
		t.Fatalf("second message adds %d, want the next %d", len(m.Added), pexMaxAdded)
	}
	m, _ = s.next(t0.Add(2*time.Minute), peersMap(0, 120), DefaultPEXInterval)
	if len(m.Added) != 20 {
		t.Fatalf("third message adds %d, want the last 20", len(m.Added))
	}
	// All 120 gone: dropped in slices of 50.
	m, _ = s.next(t0.Add(3*time.Minute), nil, DefaultPEXInterval)
	if len(m.Dropped) != pexMaxDropped || len(m.Added) != 0 {
		t.Fatalf("drop message: %d dropped, %d added; want %d, 0", len(m.Dropped), len(m.Added), pexMaxDropped)
	}
	// Every message must marshal within the wire bounds.
	if _, err := m.Marshal(); err != nil {
		t.Fatal(err)
	}
}
