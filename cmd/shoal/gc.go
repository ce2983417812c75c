package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
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

// oneProcRate is the most bytes per second, upload and download limits
// together, for which a peer-running command uses one scheduler slot
// (GOMAXPROCS=1) unless GOMAXPROCS is set in the environment.
//
// Why: a process held to such limits needs a fraction of one core (about
// 5 CPU s/GB at 10 MB/s, so 5% of a core), but with two or more slots the Go
// runtime wakes another thread for nearly every hand-off between
// goroutines (the writer, the reader, the loop, the timers), and those
// wake-ups are most of what a rate-limited host costs. Measured with shoal
// bench --peers 30 --size 64MB --link 10MB (interleaved pairs, load 26-51,
// every host's environment with and without GOMAXPROCS=1): 5.45 and 5.58
// CPU s/GB against 4.78 and 4.86, futex calls per GB about 70k against
// 10k, T_last unchanged (docs/BENCHMARKS.md, Data path, session 3). An
// unlimited or fast host keeps every core: hashing and the socket work of
// 1 GB/s need more than one.
const oneProcRate = 100e6

// oneProc reports whether a process with these limits (0: none) should run
// on one scheduler slot; downloads says whether it downloads at all (a
// seeder's download limit does not matter).
func oneProc(up, down float64, downloads bool) bool {
	if up <= 0 || (downloads && down <= 0) {
		return false // some traffic is unlimited
	}
	total := up
	if downloads {
		total += down
	}
	return total <= oneProcRate
}

// shapedLinkEnv names the environment variable that tells a peer-running
// command the speed of its link, in bytes per second each way, when
// something outside the process shapes it: `shoal bench --netns` sets it
// for its Shoal hosts, whose links tc shapes while their own limiters stay
// off. tuneProcs takes it in place of a missing limit; it limits nothing.
const shapedLinkEnv = "SHOAL_SHAPED_LINK"

// shapedLink returns the rate in shapedLinkEnv, or 0 when it is unset or
// not a positive number.
func shapedLink() float64 {
	v, err := strconv.ParseFloat(os.Getenv(shapedLinkEnv), 64)
	if err != nil || v <= 0 {
		return 0
	}
	return v
}

// tuneProcs sets GOMAXPROCS=1 for a process that oneProc says is slow
// enough, its limits or else its shaped link (shapedLinkEnv) counted,
// unless GOMAXPROCS is set in the environment.
func tuneProcs(up, down float64, downloads bool) {
	if link := shapedLink(); link > 0 {
		if up <= 0 {
			up = link
		}
		if down <= 0 {
			down = link
		}
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); set || !oneProc(up, down, downloads) {
		return
	}
	runtime.GOMAXPROCS(1)
}
