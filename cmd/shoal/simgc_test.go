package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// gcSettings returns the current GOGC and memory limit without changing
// them.
func gcSettings() (percent int, limit int64) {
	percent = debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

func TestSimGCSettings(t *testing.T) {
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Cleanup(func() { os.Setenv(k, v) })
			os.Unsetenv(k)
		}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	g := tuneSimGC()
	if p, l := gcSettings(); p != simGCPercent || l != simMemoryLimit {
		t.Fatalf("after tuneSimGC: GOGC %d, limit %d; want %d, %d", p, l, simGCPercent, simMemoryLimit)
	}
	g.watch(simMemoryLimit/2 - 1)
	if p, l := gcSettings(); p != simGCPercent || l != simMemoryLimit {
		t.Fatalf("below half the limit live: GOGC %d, limit %d; want the simulator's settings", p, l)
	}
	g.watch(simMemoryLimit / 2)
	if p, l := gcSettings(); p != 100 || l != math.MaxInt64 {
		t.Fatalf("half the limit live: GOGC %d, limit %d; want the default", p, l)
	}
	g.watch(0) // stays at the default once switched
	if p, _ := gcSettings(); p != 100 {
		t.Fatalf("GOGC back to %d after switching to the default", p)
	}

	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	g = tuneSimGC()
	g.watch(simMemoryLimit)
	g.off()
	if p, l := gcSettings(); p != 150 || l != math.MaxInt64 {
		t.Fatalf("with GOGC set: GOGC %d, limit %d; want the environment's, untouched", p, l)
	}
}
