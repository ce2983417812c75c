package tracker

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkHandoutFleetStart measures DefaultPolicy.Handout the way the
// simulator drives it at a fleet's start: n hosts announce one after the
// other, each a newcomer handed 50 of every host registered before it
// (the origin, a seeder, first), with the simulator's handout budget. One
// op is the whole start (n announces). It reports figures, not pass/fail:
//
//	go test ./tracker -run '^$' -bench HandoutFleetStart -benchmem
func BenchmarkHandoutFleetStart(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("hosts=%dk", n/1000), func(b *testing.B) {
			all := make([]Peer, n)
			for i := range all {
				all[i] = Peer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881), Left: 1 << 30}
				all[i].ID[0], all[i].ID[1], all[i].ID[2] = byte(i>>16), byte(i>>8), byte(i)
			}
			all[0].Left = 0
			now := time.Unix(1_700_000_000, 0)
			cands := make([]Peer, 0, n)
			b.ResetTimer()
			for range b.N {
				d := NewDefaultPolicy(rand.New(rand.NewPCG(1, 2)), NewHandoutBudget(4*DefaultMaxNumWant, DefaultInterval, 0))
				for i := 1; i < n; i++ {
					cands = append(cands[:0], all[:i]...)
					d.Handout(now, all[i], cands, DefaultMaxNumWant)
				}
			}
		})
	}
}
