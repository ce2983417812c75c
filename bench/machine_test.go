package bench

import (
	"os"
	"testing"
	"time"
)

func TestMachineUsage(t *testing.T) {
	dir := t.TempDir()
	m0, err := SampleMachine(dir)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	rate, err := ProbeDisk(dir, 4<<20)
	if err != nil || rate <= 0 {
		t.Fatalf("ProbeDisk: %v, %v", rate, err)
	}
	// Some CPU for the counters to see: /proc/stat counts in 10 ms ticks,
	// so spin for 200 ms of wall time, not a fixed count of iterations
	// (20 M iterations took 15 ms on a fast core and the counters showed
	// one tick, of I/O wait).
	x := 0
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		for i := range 100_000 {
			x += i ^ x
		}
	}
	m1, err := SampleMachine(dir)
	if err != nil {
		t.Fatal(err)
	}
	u := m0.Until(m1)
	if u.WallS <= 0 || u.Cores < 1 || u.CPUBusy <= 0 || u.CPUBusy > 1 || u.IOWait < 0 || u.DiskBusy < 0 || u.DiskBusy > 1 ||
		u.SoftIRQ < 0 || u.SoftIRQ > u.CPUBusy {
		t.Fatalf("implausible usage %+v (x %d)", u, x)
	}
	if m0.Disk != "" && u.DiskWriteBytes < 4<<20 {
		t.Errorf("the probe synced 4 MiB to %s but the disk counters show %d bytes written", m0.Disk, u.DiskWriteBytes)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("the probe left %d files behind", len(entries))
	}
	if rss := RSSOf(os.Getpid()); rss <= 0 {
		t.Errorf("RSSOf(self) = %d", rss)
	}
	if RSSOf(1<<30) != 0 {
		t.Error("RSSOf(a pid that cannot exist) is not 0")
	}
}

func TestBound(t *testing.T) {
	for _, c := range []struct {
		u    MachineUsage
		eff  float64
		want string
	}{
		{MachineUsage{WallS: 1, DiskBusy: 0.95, CPUBusy: 0.99}, 0.2, "disk"},
		{MachineUsage{WallS: 1, DiskBusy: 0.1, CPUBusy: 0.97}, 0.2, "CPU"},
		{MachineUsage{WallS: 1, DiskBusy: 0.1, CPUBusy: 0.5}, 0.9, "links"},
		{MachineUsage{WallS: 1, DiskBusy: 0.1, CPUBusy: 0.5}, 0.3, "waits"},
		{MachineUsage{}, 0.9, "unknown"},
	} {
		if got := c.u.Bound(c.eff); got != c.want {
			t.Errorf("%+v eff %.1f: bound %q, want %q", c.u, c.eff, got, c.want)
		}
	}
}

// TestParseCPULine: busy is every counter but idle, iowait and the guest
// times (already in user), and softirq is its own column within busy.
func TestParseCPULine(t *testing.T) {
	got, err := parseCPULine("cpu  3 1848 617 50 7 2 462 14 9 1")
	if want := (cpuTicks{busy: 3 + 1848 + 617 + 2 + 462 + 14, idle: 50, iowait: 7, softirq: 462}); err != nil || got != want {
		t.Errorf("parseCPULine = %+v, %v; want %+v", got, err, want)
	}
	if _, err := parseCPULine("intr 1 2 3 4 5 6"); err == nil {
		t.Error("parseCPULine accepted a line that is not the cpu line")
	}
}
