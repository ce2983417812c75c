package tracker

import "sync"

// notifier wakes the long polls waiting on a channel: watch hands out a
// channel that notify closes. It holds an entry only while someone
// waits, so it is bounded by the waiters.
type notifier struct {
	mu    sync.Mutex
	slots map[ChannelID]*waitSlot
}

type waitSlot struct {
	ch chan struct{}
	n  int // waiters holding ch
}

// watch returns a channel closed at the next notify of id (or notifyAll),
// and a function to call when no longer waiting.
func (n *notifier) watch(id ChannelID) (<-chan struct{}, func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.slots == nil {
		n.slots = make(map[ChannelID]*waitSlot)
	}
	s := n.slots[id]
	if s == nil {
		s = &waitSlot{ch: make(chan struct{})}
		n.slots[id] = s
	}
	s.n++
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			if s.n--; s.n == 0 && n.slots[id] == s {
				delete(n.slots, id)
			}
		})
	}
}

// notify wakes everyone waiting on id.
func (n *notifier) notify(id ChannelID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.slots[id]; s != nil {
		close(s.ch)
		delete(n.slots, id)
	}
}

// notifyAll wakes every waiter (after a gap in which notifications may
// have been lost).
func (n *notifier) notifyAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, s := range n.slots {
		close(s.ch)
		delete(n.slots, id)
	}
}

// waiting reports how many ids have waiters (for tests and metrics).
func (n *notifier) waiting() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.slots)
}
