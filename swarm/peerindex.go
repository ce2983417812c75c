package swarm

// peerIndexDense bounds the connection ids peerIndex keeps in its slice:
// runtimes number connections from 1 up, so the ids of a host's current
// peers are mostly small; larger ones go to the map. The slice grows to
// the largest small id seen, at most peerIndexDense pointers.
const peerIndexDense = 1 << 10

// peerIndex maps connection ids to peers. It is a pure speed-up of a
// map[ConnID]*peer: a lookup of a small id is one slice load instead of a
// hash probe, which matters where every message of every peer looks its
// sender up (a simulator stepping thousands of cores touches each core's
// index cold).
type peerIndex struct {
	dense []*peer // by id, for ids below peerIndexDense
	other map[ConnID]*peer
}

// get returns the peer with id c, or nil.
func (x *peerIndex) get(c ConnID) *peer {
	if c < ConnID(len(x.dense)) {
		return x.dense[c]
	}
	if c < peerIndexDense || x.other == nil {
		return nil
	}
	return x.other[c]
}

// set records p under id c.
func (x *peerIndex) set(c ConnID, p *peer) {
	if c < peerIndexDense {
		if c >= ConnID(len(x.dense)) {
			n := max(int(c)+1, 2*len(x.dense))
			x.dense = append(x.dense, make([]*peer, min(n, peerIndexDense)-len(x.dense))...)
		}
		x.dense[c] = p
		return
	}
	if x.other == nil {
		x.other = make(map[ConnID]*peer)
	}
	x.other[c] = p
}

// del forgets id c.
func (x *peerIndex) del(c ConnID) {
	if c < ConnID(len(x.dense)) {
		x.dense[c] = nil
		return
	}
	delete(x.other, c)
}

// len returns how many peers are indexed.
func (x *peerIndex) len() int {
	n := len(x.other)
	for _, p := range x.dense {
		if p != nil {
			n++
		}
	}
	return n
}
