package handover

import (
	"errors"
	"fmt"
)

// ErrContract is wrapped by the panic raised when the runtime breaks the
// contract: a second Ready, an Advance without a batch, or a machine
// stepped while its batch is out. It is a bug in the runtime, never caused
// by input from the network or the disk.
var ErrContract = errors.New("Ready/Advance contract broken")

// Queue holds the actions a machine decided and hands them to the runtime
// one batch at a time. The zero value is ready to use; Name, if set,
// prefixes the contract errors ("swarm", "peers").
type Queue[A any] struct {
	Name        string
	actions     []A
	outstanding bool // Ready handed out the batch, Advance not called yet
}

// Push queues an action. The machine calls it while an event steps it.
func (q *Queue[A]) Push(a A) { q.actions = append(q.actions, a) }

// Len is the number of actions queued.
func (q *Queue[A]) Len() int { return len(q.actions) }

// At returns the i-th queued action, for a machine that amends an action
// queued during the event it is handling (swarm attaches a block's
// payload to its WriteBlock).
func (q *Queue[A]) At(i int) *A { return &q.actions[i] }

// Step guards every event of the machine: it panics if a batch is out,
// since the batch's results must come back as later events.
func (q *Queue[A]) Step() {
	if q.outstanding {
		panic(q.violation("event stepped while a batch from Ready is outstanding"))
	}
}

// Ready returns the batch of actions queued since the last Advance, in
// order, or nil if there is none. The slice is the queue's and is valid
// until Advance.
func (q *Queue[A]) Ready() []A {
	if q.outstanding {
		panic(q.violation("Ready called twice without Advance"))
	}
	if len(q.actions) == 0 {
		return nil
	}
	q.outstanding = true
	return q.actions
}

// HasReady reports whether Ready would return a batch.
func (q *Queue[A]) HasReady() bool { return len(q.actions) > 0 && !q.outstanding }

// Advance acknowledges the batch Ready returned: the runtime performed it.
func (q *Queue[A]) Advance() {
	if !q.outstanding {
		panic(q.violation("Advance without a batch from Ready"))
	}
	q.outstanding = false
	clear(q.actions) // drop references the actions hold
	q.actions = q.actions[:0]
}

// Take is Ready, a copy and Advance in one, for tests and simple drivers:
// the returned slice is the caller's.
func (q *Queue[A]) Take() []A {
	acts := q.Ready()
	if acts == nil {
		return nil
	}
	out := append([]A(nil), acts...)
	q.Advance()
	return out
}

// Violation returns a contract error naming what was wrong, for a machine
// that checks more than the queue does (a block without its payload).
func (q *Queue[A]) Violation(what string) error { return q.violation(what) }

func (q *Queue[A]) violation(what string) error {
	if q.Name != "" {
		return fmt.Errorf("%s: %w: %s", q.Name, ErrContract, what)
	}
	return fmt.Errorf("%w: %s", ErrContract, what)
}
