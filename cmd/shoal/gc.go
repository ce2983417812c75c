package main

import (
	"os"
	"runtime/debug"
	"sync"
)

// gcPercent is the collector's target that the commands running peers
// (seed, get, agent, publish, demo, bench) set for their process
// (GOGC=400: the heap may grow to five times what is live before a
// collection, instead of twice) unless GOGC is set in the environment.
//
// Why: the block buffers live outside the Go heap (bufpool.go), so a
// client's heap is small (a few MB live) and, at the default, is collected
// every few MB allocated: at start-up, as every connection takes its read
// buffer and batches, many times a second. Each cycle costs every process
// the same fixed work (stacks, roots, assist and sweep), and a bench host
// is one of 31 processes on two cores. Measured with shoal bench --peers 30
// --size 64MB --link 1GB (3 interleaved pairs, load 28-41): 2.35 CPU s/GB
// (2.23, 2.35, 2.43) at the default, 2.15 (2.15, 2.13, 2.18) at 400, peak
// receiver RSS unchanged within the run-to-run spread (see
// docs/BENCHMARKS.md, Data path). It is the program's choice, not the
// client library's: `shoal sim`, whose heap is gigabytes of live state, and
// the tracker keep Go's default, and GOGC in the environment wins.
const gcPercent = 400

var tuneGCOnce sync.Once

// tuneGC applies gcPercent once per process, if GOGC is not set.
func tuneGC() {
	tuneGCOnce.Do(func() {
		if _, set := os.LookupEnv("GOGC"); !set {
			debug.SetGCPercent(gcPercent)
		}
	})
}
