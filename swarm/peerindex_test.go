package swarm

import "testing"

// TestPeerIndex checks the index against a map over small ids, ids past
// the dense bound and deletions, and that the dense part stays bounded.
func TestPeerIndex(t *testing.T) {
	var x peerIndex
	want := map[ConnID]*peer{}
	ids := []ConnID{1, 2, 7, 300, peerIndexDense - 1, peerIndexDense, peerIndexDense + 5, 1 << 40}
	for _, c := range ids {
		p := &peer{id: c}
		x.set(c, p)
		want[c] = p
	}
	x.del(7)
	delete(want, 7)
	x.del(peerIndexDense + 5)
	delete(want, peerIndexDense+5)
	x.del(999_999) // unknown: ignored
	for _, c := range append(ids, 0, 3, 999_999) {
		if got := x.get(c); got != want[c] {
			t.Errorf("get(%d) = %p, want %p", c, got, want[c])
		}
	}
	if x.len() != len(want) {
		t.Errorf("len %d, want %d", x.len(), len(want))
	}
	if len(x.dense) > peerIndexDense {
		t.Errorf("dense part holds %d slots, bound %d", len(x.dense), peerIndexDense)
	}
}
