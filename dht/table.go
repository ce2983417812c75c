package dht

import (
	"net/netip"
	"slices"
	"time"
)

// Routing table parameters from BEP 5, "Routing Table".
const (
	K            = 8                // contacts per bucket
	NumBuckets   = IDLen * 8        // one bucket per shared-prefix length
	GoodDuration = 15 * time.Minute // a node seen within this is good
	maxFailures  = 2                // consecutive timeouts that make a good node bad
)

// NodeState classifies a contact by how recently it answered (BEP 5).
type NodeState int

// Node states.
const (
	Good         NodeState = iota // answered within GoodDuration
	Questionable                  // silent for GoodDuration, or never answered
	Bad                           // failed to answer repeated queries
)

// Contact is a routing table entry.
type Contact struct {
	NodeInfo
	LastSeen time.Time // last response from it (zero: never answered)
	Failures int       // consecutive unanswered queries
}

// State returns the contact's state at now.
func (c *Contact) State(now time.Time) NodeState {
	fresh := !c.LastSeen.IsZero() && now.Sub(c.LastSeen) < GoodDuration
	switch {
	case c.Failures >= maxFailures, c.Failures >= 1 && !fresh:
		return Bad
	case fresh:
		return Good
	}
	return Questionable
}

type bucket struct {
	contacts    []Contact // at most K, in insertion order
	replacement *Contact  // candidate waiting for a questionable node's ping
	changed     time.Time // last time a contact was added or answered
}

// RoutingTable is a flat Kademlia table of NumBuckets buckets of K
// contacts, indexed by the length of the prefix a contact's ID shares with
// ours. It holds at most NumBuckets*K contacts plus one replacement
// candidate per bucket. It is not safe for concurrent use.
type RoutingTable struct {
	self    ID
	buckets [NumBuckets]bucket
	n       int
}

// NewRoutingTable returns an empty table for a node with ID self.
func NewRoutingTable(self ID) *RoutingTable { return &RoutingTable{self: self} }

// Len returns the number of contacts in the table.
func (t *RoutingTable) Len() int { return t.n }

// BucketIndex returns the bucket id belongs in, or -1 for our own ID.
func (t *RoutingTable) BucketIndex(id ID) int {
	i := CommonPrefixLen(t.self, id)
	if i >= NumBuckets {
		return -1
	}
	return i
}

func (t *RoutingTable) find(id ID) (*bucket, int) {
	i := t.BucketIndex(id)
	if i < 0 {
		return nil, -1
	}
	b := &t.buckets[i]
	for j := range b.contacts {
		if b.contacts[j].ID == id {
			return b, j
		}
	}
	return b, -1
}

// Get returns the contact with the given ID, if present.
func (t *RoutingTable) Get(id ID) (Contact, bool) {
	b, j := t.find(id)
	if j < 0 {
		return Contact{}, false
	}
	return b.contacts[j], true
}

// Insert offers a node to the table. answered says the node has just
// answered one of our queries (so it is good); otherwise it is only
// known, e.g. because it queried us, and enters as questionable.
//
// It follows BEP 5: a full bucket of good nodes drops the newcomer; a bad
// contact is replaced at once; otherwise the least-recently-seen
// questionable contact is returned in ping (ok true) so the caller can ping
// it, and the newcomer waits as the bucket's replacement until Failed
// marks that contact bad.
func (t *RoutingTable) Insert(n NodeInfo, answered bool, now time.Time) (ping NodeInfo, ok bool) {
	b, j := t.find(n.ID)
	if b == nil || !n.Addr.IsValid() {
		return NodeInfo{}, false
	}
	c := Contact{NodeInfo: n}
	if answered {
		c.LastSeen = now
	}
	if j >= 0 {
		old := &b.contacts[j]
		if answered {
			old.Addr, old.LastSeen, old.Failures = n.Addr, now, 0
			b.changed = now
		}
		return NodeInfo{}, false
	}
	if len(b.contacts) < K {
		b.contacts = append(b.contacts, c)
		b.changed = now
		t.n++
		return NodeInfo{}, false
	}
	oldest := -1
	for j := range b.contacts {
		switch b.contacts[j].State(now) {
		case Bad:
			b.contacts[j] = c
			b.changed = now
			return NodeInfo{}, false
		case Questionable:
			if oldest < 0 || b.contacts[j].LastSeen.Before(b.contacts[oldest].LastSeen) {
				oldest = j
			}
		}
	}
	if oldest < 0 {
		return NodeInfo{}, false
	}
	if answered || b.replacement == nil {
		b.replacement = &c
	}
	return b.contacts[oldest].NodeInfo, true
}

// Seen records a response from the node with this ID at addr. A node whose
// address changed is updated only when it answers from the new address.
func (t *RoutingTable) Seen(id ID, addr netip.AddrPort, now time.Time) {
	t.Insert(NodeInfo{ID: id, Addr: addr}, true, now)
}

// Failed records an unanswered query to the node with this ID. When that
// makes it bad and its bucket has a replacement candidate, the candidate
// takes its place.
func (t *RoutingTable) Failed(id ID, now time.Time) {
	b, j := t.find(id)
	if j < 0 {
		return
	}
	b.contacts[j].Failures++
	if b.contacts[j].State(now) == Bad && b.replacement != nil {
		b.contacts[j] = *b.replacement
		b.replacement = nil
		b.changed = now
	}
}

// Closest returns up to n contacts that are not bad, nearest to target
// first.
func (t *RoutingTable) Closest(target ID, n int, now time.Time) []NodeInfo {
	var all []NodeInfo
	for i := range t.buckets {
		for _, c := range t.buckets[i].contacts {
			if c.State(now) != Bad {
				all = append(all, c.NodeInfo)
			}
		}
	}
	SortByDistance(target, all)
	if len(all) > n {
		all = all[:n]
	}
	return all
}

// Contacts returns every contact, for saving the table.
func (t *RoutingTable) Contacts() []Contact {
	var all []Contact
	for i := range t.buckets {
		all = append(all, t.buckets[i].contacts...)
	}
	return all
}

// StaleBuckets returns the indexes of non-empty buckets that have not
// changed for GoodDuration, which BEP 5 says to refresh with a find_node
// for a random ID in the bucket's range.
func (t *RoutingTable) StaleBuckets(now time.Time) []int {
	var stale []int
	for i := range t.buckets {
		b := &t.buckets[i]
		if len(b.contacts) > 0 && now.Sub(b.changed) >= GoodDuration {
			stale = append(stale, i)
		}
	}
	return stale
}

// Touch marks bucket i as refreshed at now.
func (t *RoutingTable) Touch(i int, now time.Time) {
	if i >= 0 && i < NumBuckets {
		t.buckets[i].changed = now
	}
}

// SortByDistance sorts nodes by XOR distance to target, nearest first.
func SortByDistance(target ID, nodes []NodeInfo) {
	slices.SortFunc(nodes, func(a, b NodeInfo) int {
		da, db := a.ID.Xor(target), b.ID.Xor(target)
		switch {
		case da.Less(db):
			return -1
		case db.Less(da):
			return 1
		}
		return 0
	})
}
