package main

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// The collector's settings for `shoal sim` (unless GOGC or GOMEMLIMIT is
// set in the environment): GOGC=simGCPercent under a memory limit of
// simMemoryLimit, until the live heap reaches half the limit; from then on
// Go's default (GOGC=100, no limit).
//
// Why: a large simulation's heap is its live state (every host's core,
// connections and queues), which grows during the run, and the collector's
// work is about one pass over the live heap per cycle. At the default a
// cycle starts each time the program allocated as much as is live, so
// while the state is small (the start of a run, and every run of a few
// hundred hosts) it collects often. Under the limit the heap may grow to
// the limit first, so the run collects less often; once half the limit is
// live, the limit would make collections more frequent than the default,
// so the default takes over and the heap grows as it did before. The
// limit is below the 4 GB that issue 10 allows a 10,000-host run. The
// simulated outputs do not depend on it (the run is deterministic); only
// its CPU time and peak heap do.
const (
	simGCPercent   = 400
	simMemoryLimit = 3_500_000_000 // bytes
)

// simGC applies the simulator's collector settings; watch, called with
// the live heap in bytes (from a sampler such as heapPeak's), returns to
// the default once the live heap reaches half the limit. Both are no-ops
// when the environment sets GOGC or GOMEMLIMIT.
type simGC struct {
	on bool
}

// tuneSimGC applies the settings for one simulation run.
func tuneSimGC() *simGC {
	g := &simGC{}
	_, gogc := os.LookupEnv("GOGC")
	_, limit := os.LookupEnv("GOMEMLIMIT")
	if gogc || limit {
		return g
	}
	debug.SetGCPercent(simGCPercent)
	debug.SetMemoryLimit(simMemoryLimit)
	g.on = true
	return g
}

// watch takes a sample of the live heap.
func (g *simGC) watch(live uint64) {
	if g.on && live >= simMemoryLimit/2 {
		g.off()
	}
}

// off restores Go's default settings.
func (g *simGC) off() {
	if !g.on {
		return
	}
	g.on = false
	debug.SetMemoryLimit(math.MaxInt64)
	debug.SetGCPercent(100)
}

// liveHeapMetric is the runtime metric simGC watches: the heap that
// survived the last collection.
const liveHeapMetric = "/gc/heap/live:bytes"

// readLiveHeap returns the live heap as of the last collection, or 0.
func readLiveHeap(s []metrics.Sample) uint64 {
	for _, x := range s {
		if x.Name == liveHeapMetric && x.Value.Kind() == metrics.KindUint64 {
			return x.Value.Uint64()
		}
	}
	return 0
}
