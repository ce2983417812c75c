package sim

import (
	"cmp"
	"math/rand"
	"slices"
	"testing"
)

// TestEventHeapOrder checks that events leave the heap in (at, seq) order
// whatever the order they were pushed in, with pushes and pops
// interleaved as the loop does and many events at the same instant.
func TestEventHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var h eventHeap
	var want []event // pushed, not yet popped, in (at, seq) order
	var seq uint64
	var popped int
	for step := 0; step < 20000; step++ {
		if len(h) > 0 && rng.Intn(3) == 0 {
			got := h.pop()
			if got.at != want[0].at || got.seq != want[0].seq {
				t.Fatalf("pop %d: got (%d, %d), want (%d, %d)", popped, got.at, got.seq, want[0].at, want[0].seq)
			}
			want = want[1:]
			popped++
			continue
		}
		seq++
		e := event{at: int64(rng.Intn(50)), seq: seq, kind: eventKind(rng.Intn(11))}
		h.push(e)
		k, _ := slices.BinarySearchFunc(want, e, byAtSeq)
		want = slices.Insert(want, k, e)
	}
	for len(h) > 0 {
		got := h.pop()
		if got.at != want[0].at || got.seq != want[0].seq || got.kind != want[0].kind {
			t.Fatalf("drain: got (%d, %d), want (%d, %d)", got.at, got.seq, want[0].at, want[0].seq)
		}
		want = want[1:]
	}
	if len(want) != 0 {
		t.Fatalf("%d events lost", len(want))
	}
}

func byAtSeq(a, b event) int {
	return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq))
}
