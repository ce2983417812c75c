package client

import (
	"fmt"
	"testing"
	"time"
)

// TestBanListExpiryAndBound: a temporary ban ends at its time, a permanent
// one never; a ban in force is only lengthened; past the bound expired and
// then temporary entries make room before permanent ones.
func TestBanListExpiryAndBound(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBanList(3)
	b.add("addr:a", "sole source", t0.Add(time.Minute), t0)
	b.add("addr:p", "liar", time.Time{}, t0)
	if !b.banned("addr:a", t0.Add(59*time.Second)) || b.banned("addr:a", t0.Add(time.Minute)) {
		t.Error("temporary ban not in force until its time, or still in force after")
	}
	if !b.banned("addr:p", t0.Add(24*time.Hour)) {
		t.Error("permanent ban expired")
	}
	b.add("addr:p", "again", t0.Add(time.Second), t0)
	if !b.banned("addr:p", t0.Add(time.Hour)) {
		t.Error("a temporary ban shortened a permanent one")
	}
	b.add("addr:t", "x", t0.Add(time.Hour), t0)
	b.add("addr:t", "x", t0.Add(time.Minute), t0)
	if !b.banned("addr:t", t0.Add(30*time.Minute)) {
		t.Error("a shorter ban shortened a longer one")
	}
	// a expired and was dropped when checked; p and t remain.
	for i := range 2 {
		b.add(fmt.Sprintf("addr:n%d", i), "liar", time.Time{}, t0)
	}
	if len(b.entries) != 3 {
		t.Errorf("%d entries, bound 3", len(b.entries))
	}
	if !b.banned("addr:p", t0) || b.banned("addr:t", t0) {
		t.Error("a permanent ban was dropped while a temporary one could make room")
	}
	for i := range 10 {
		b.add(fmt.Sprintf("addr:m%d", i), "liar", time.Time{}, t0)
	}
	if len(b.entries) != 3 {
		t.Errorf("%d entries after a flood of bans, bound 3", len(b.entries))
	}
}
