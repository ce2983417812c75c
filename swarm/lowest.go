package swarm

import (
	"math"
	"math/rand"
)

// lowest keeps the index with the lowest score offered so far, ties broken
// uniformly at random: the k-th index offered at the best score replaces
// the choice with probability 1/k (reservoir sampling), one draw from the
// swarm's rng per tie, so picks stay deterministic for a seed.
type lowest struct {
	best   int32
	choice int // -1 until something is offered
	ties   int
}

// newLowest returns a lowest with nothing offered.
func newLowest() lowest { return lowest{best: math.MaxInt32, choice: -1} }

// offer considers index i at score. The common case, a worse score, is
// the inlined test; take does the rest.
func (l *lowest) offer(rng *rand.Rand, i int, score int32) {
	if score <= l.best {
		l.take(rng, i, score)
	}
}

// take records i at a score no worse than the best so far.
func (l *lowest) take(rng *rand.Rand, i int, score int32) {
	if score < l.best {
		l.best, l.choice, l.ties = score, i, 1
		return
	}
	l.ties++
	if rng.Intn(l.ties) == 0 {
		l.choice = i
	}
}
