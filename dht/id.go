package dht

import (
	"encoding/hex"
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// IDLen is the length in bytes of node IDs and info hashes (BEP 5).
const IDLen = 20

// ID is a 160-bit node ID or info hash; both live in the same key space.
type ID [IDLen]byte

// String returns the ID in lowercase hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether every byte of the ID is zero.
func (id ID) IsZero() bool { return id == ID{} }

// Xor returns the Kademlia distance between a and b: their bitwise XOR,
// compared as a big-endian unsigned integer.
func (a ID) Xor(b ID) ID {
	var d ID
	for i := range d {
		d[i] = a[i] ^ b[i]
	}
	return d
}

// Less reports whether a is numerically smaller than b, so that
// x.Xor(t).Less(y.Xor(t)) means x is closer to t than y.
func (a ID) Less(b ID) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// Closer reports whether a is strictly closer to target than b.
func Closer(target, a, b ID) bool { return a.Xor(target).Less(b.Xor(target)) }

// CommonPrefixLen returns how many leading bits a and b share (160 when
// equal). It is the bucket index of b in a's routing table.
func CommonPrefixLen(a, b ID) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return IDLen * 8
}

// ParseID decodes a 40-character hex string into an ID.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil {
		return id, fmt.Errorf("parse node ID: %w", err)
	}
	if len(b) != IDLen {
		return id, fmt.Errorf("parse node ID: %d bytes, want %d", len(b), IDLen)
	}
	copy(id[:], b)
	return id, nil
}

// RandomID returns an ID drawn from r.
func RandomID(r *rand.Rand) ID {
	var id ID
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	return id
}

// RandomIDInBucket returns a random ID that shares exactly prefix leading
// bits with self, i.e. one that falls into bucket prefix of self's table.
// Used to refresh a stale bucket (BEP 5, "Routing Table").
func RandomIDInBucket(r *rand.Rand, self ID, prefix int) ID {
	if prefix >= IDLen*8 {
		return self
	}
	id := RandomID(r)
	for bit := 0; bit < prefix; bit++ {
		setBit(&id, bit, getBit(self, bit))
	}
	setBit(&id, prefix, !getBit(self, prefix))
	return id
}

func getBit(id ID, i int) bool { return id[i/8]&(0x80>>(i%8)) != 0 }

func setBit(id *ID, i int, v bool) {
	if v {
		id[i/8] |= 0x80 >> (i % 8)
	} else {
		id[i/8] &^= 0x80 >> (i % 8)
	}
}
