package agent

import (
	"fmt"
	"maps"
	"slices"
)

// SubActionKind is what a Subscription asks its shell to do.
type SubActionKind int

const (
	// Fetch starts fetching release Seq: info dictionary, pieces, verify.
	Fetch SubActionKind = iota + 1
	// StopFetch stops fetching release Seq because a newer one won; its
	// partial data is dropped.
	StopFetch
	// Switch makes release Seq (complete and verified) the channel's
	// current release and runs the on-complete hook.
	Switch
	// Remove deletes release Seq from the store: it is beyond Keep.
	Remove
)

// String names the kind for logs and tests.
func (k SubActionKind) String() string {
	switch k {
	case Fetch:
		return "fetch"
	case StopFetch:
		return "stop-fetch"
	case Switch:
		return "switch"
	case Remove:
		return "remove"
	}
	return fmt.Sprintf("SubActionKind(%d)", int(k))
}

// SubAction is one thing for the shell to do about release Seq.
type SubAction struct {
	Kind SubActionKind
	Seq  uint64
}

// String renders the action as "kind seq".
func (a SubAction) String() string { return fmt.Sprintf("%s %d", a.Kind, a.Seq) }

// Subscription is the pure state of one channel subscription: which
// releases are held, fetched and current, and the rules between them. It
// has no goroutines, sockets, files or clock; the shell steps it with
// events (Offer, Completed, Switched, Failed, Pin, Removed, Trim) and
// carries out the actions it returns.
//
// The rules:
//   - Only forward: a release at or below the current one is ignored
//     (unless pinned and not held), and current only ever moves to a
//     higher sequence number.
//   - The newest wins: when a release newer than the one being fetched is
//     offered, the older fetch stops and the newer starts, unless the older
//     is pinned, which is then finished alongside.
//   - A completed release newer than current becomes current (Switch); an
//     older one (a pinned one finishing late) is only held.
//   - At most keep releases are held: Trim removes the oldest beyond keep,
//     except the current release, the one the shell's `current` link still
//     points at (until the shell reports the Switch done with Switched),
//     pinned ones and those the shell says are busy (being read); current,
//     linked and pinned ones count towards keep, a busy one waits for a
//     later Trim.
type Subscription struct {
	keep     int
	current  uint64          // 0: none yet
	linked   uint64          // what the shell's link points at: trails current until Switched
	fetching map[uint64]bool // releases being fetched
	held     map[uint64]bool // complete releases in the store
	pinned   map[uint64]bool
	acts     []SubAction
}

// NewSubscription returns a subscription keeping at most keep releases
// (at least 1).
func NewSubscription(keep int) *Subscription {
	return &Subscription{
		keep:     max(keep, 1),
		fetching: make(map[uint64]bool),
		held:     make(map[uint64]bool),
		pinned:   make(map[uint64]bool),
	}
}

// Restore loads what the store held at start: the current release and the
// complete ones. It emits no actions.
func (s *Subscription) Restore(current uint64, held []uint64) {
	s.current, s.linked = current, current
	for _, h := range held {
		s.held[h] = true
	}
	if current != 0 {
		s.held[current] = true
	}
}

// Offer tells the subscription that release seq exists on the tracker.
func (s *Subscription) Offer(seq uint64) {
	if seq == 0 || s.held[seq] || s.fetching[seq] {
		return
	}
	pinned := s.pinned[seq]
	if !pinned {
		if seq <= s.current {
			return
		}
		for f := range s.fetching {
			if f > seq {
				return // older than what we fetch: the newest wins
			}
		}
	}
	for _, f := range slices.Sorted(maps.Keys(s.fetching)) {
		if f < seq && !s.pinned[f] {
			delete(s.fetching, f)
			s.acts = append(s.acts, SubAction{StopFetch, f})
		}
	}
	s.fetching[seq] = true
	s.acts = append(s.acts, SubAction{Fetch, seq})
}

// Completed tells the subscription that release seq is fetched and every
// piece verified.
func (s *Subscription) Completed(seq uint64) {
	if !s.fetching[seq] {
		return // stopped meanwhile: the shell drops it
	}
	delete(s.fetching, seq)
	s.held[seq] = true
	if seq > s.current {
		s.current = seq
		s.acts = append(s.acts, SubAction{Switch, seq})
	}
}

// Switched tells the subscription that the shell carried out the Switch
// to release seq: its `current` link points there now, so the release it
// pointed at before is no longer protected as linked.
func (s *Subscription) Switched(seq uint64) { s.linked = seq }

// Failed tells the subscription that fetching seq ended without the
// release; a later Offer may start it again.
func (s *Subscription) Failed(seq uint64) { delete(s.fetching, seq) }

// Removed tells the subscription that release seq left the store by
// other means (an API delete, the disk collector).
func (s *Subscription) Removed(seq uint64) {
	delete(s.held, seq)
	delete(s.fetching, seq)
}

// Pin marks release seq to be finished and kept, or clears the mark.
func (s *Subscription) Pin(seq uint64, on bool) {
	if on {
		s.pinned[seq] = true
	} else {
		delete(s.pinned, seq)
	}
}

// Trim removes held releases beyond keep, oldest first. The current
// release, the linked one and pinned ones always stay and take their
// place among the keep; the newest others fill the rest. One beyond keep for which busy
// reports true stays until a later Trim.
func (s *Subscription) Trim(busy func(seq uint64) bool) {
	held := slices.Sorted(maps.Keys(s.held))
	slices.Reverse(held)
	protected := func(h uint64) bool { return h == s.current || h == s.linked || s.pinned[h] }
	slots := s.keep
	for _, h := range held {
		if protected(h) {
			slots--
		}
	}
	for _, h := range held {
		if protected(h) {
			continue
		}
		if slots > 0 {
			slots--
			continue
		}
		if busy != nil && busy(h) {
			continue // being read: a later Trim removes it
		}
		delete(s.held, h)
		s.acts = append(s.acts, SubAction{Remove, h})
	}
}

// Actions drains the actions emitted since the last call.
func (s *Subscription) Actions() []SubAction {
	a := s.acts
	s.acts = nil
	return a
}

// Current is the current release's sequence number, 0 if none.
func (s *Subscription) Current() uint64 { return s.current }

// Latest is the highest release current or being fetched: what the shell
// waits for releases after.
func (s *Subscription) Latest() uint64 {
	l := s.current
	for f := range s.fetching {
		l = max(l, f)
	}
	return l
}

// Fetching lists the releases being fetched, ascending.
func (s *Subscription) Fetching() []uint64 { return slices.Sorted(maps.Keys(s.fetching)) }

// Held lists the complete releases held, ascending.
func (s *Subscription) Held() []uint64 { return slices.Sorted(maps.Keys(s.held)) }

// Pinned reports whether seq is pinned.
func (s *Subscription) Pinned(seq uint64) bool { return s.pinned[seq] }
