package handover

import (
	"errors"
	"testing"
)

// TestContract: batches go out one at a time, in order, and every way of
// breaking the contract panics with ErrContract.
func TestContract(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if err, _ := r.(error); !errors.Is(err, ErrContract) {
				t.Errorf("%s: recovered %v, want ErrContract", name, r)
			}
		}()
		f()
	}
	q := Queue[int]{Name: "test"}
	if q.Ready() != nil || q.HasReady() {
		t.Fatal("empty queue has a batch")
	}
	mustPanic("Advance without Ready", q.Advance)
	q.Step()
	q.Push(1)
	q.Push(2)
	*q.At(1) = 3
	if !q.HasReady() {
		t.Fatal("HasReady false with actions queued")
	}
	if b := q.Ready(); len(b) != 2 || b[0] != 1 || b[1] != 3 {
		t.Fatalf("batch %v, want [1 3]", b)
	}
	mustPanic("Step during a batch", q.Step)
	mustPanic("second Ready", func() { q.Ready() })
	if q.HasReady() {
		t.Fatal("HasReady true while the batch is out")
	}
	q.Advance()
	if q.Len() != 0 || q.Ready() != nil {
		t.Fatal("actions left after Advance")
	}
	q.Push(4)
	if got := q.Take(); len(got) != 1 || got[0] != 4 || q.HasReady() {
		t.Fatalf("Take = %v", got)
	}
	q.Step() // Take advanced: stepping is allowed again
}
