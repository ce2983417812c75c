package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A run on one machine can be bound by the links it models, by the CPUs of
// the machine or by its disk: every host of a bench or demo shares both.
// This file measures the machine over a run (from /proc, so every process
// counts, ours and others') so a report can say which one set the time.

// MachineSample is the machine's counters at one moment.
type MachineSample struct {
	At    time.Time
	cpu   cpuTicks
	disk  diskCounters
	Disk  string // the block device holding the folder sampled, "" if unknown
	Cores int
}

// cpuTicks are the aggregate counters of /proc/stat's "cpu" line; softirq
// is also in busy.
type cpuTicks struct{ busy, idle, iowait, softirq uint64 }

// diskCounters are one /proc/diskstats line's counters we use.
type diskCounters struct {
	sectorsWritten uint64
	ioTicksMS      uint64 // time with I/O in flight
}

// MachineUsage is what the machine did between two samples.
type MachineUsage struct {
	WallS float64 `json:"wall_s"`
	Cores int     `json:"cores"`
	// CPUBusy is the fraction of all cores' time spent running anything
	// (every process on the machine), IOWait the fraction spent idle with
	// I/O outstanding.
	CPUBusy float64 `json:"cpu_busy"`
	IOWait  float64 `json:"iowait"`
	// SoftIRQ is the fraction of all cores' time (in CPUBusy) the kernel
	// spent in software interrupts: the packet processing that no process's
	// CPU time includes. Under --netns it is every packet's trip through
	// tbf and the bridge, which the hosts' CPU s/GB does not show.
	SoftIRQ float64 `json:"softirq"`
	// Disk is the device holding the work folder; DiskBusy the fraction of
	// the wall time it had I/O in flight; DiskWriteBytes what was written.
	Disk           string  `json:"disk,omitempty"`
	DiskBusy       float64 `json:"disk_busy"`
	DiskWriteBytes int64   `json:"disk_write_bytes"`
}

// SampleMachine reads the CPU counters and those of the disk holding dir.
// On systems without /proc it returns an error; callers report without.
func SampleMachine(dir string) (MachineSample, error) {
	s := MachineSample{At: time.Now(), Cores: runtime.NumCPU()}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, fmt.Errorf("machine: %w", err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	if s.cpu, err = parseCPULine(string(line)); err != nil {
		return s, err
	}
	s.Disk, s.disk, err = diskOf(dir)
	return s, err
}

// parseCPULine reads /proc/stat's aggregate "cpu" line: user, nice,
// system, idle, iowait, irq, softirq, steal, guest, guest_nice ticks.
func parseCPULine(line string) (cpuTicks, error) {
	var t cpuTicks
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return t, errors.New("machine: unexpected /proc/stat")
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		switch i {
		case 3:
			t.idle = n
		case 4:
			t.iowait = n
		case 8, 9: // guest time is already in user time
		default:
			if i == 6 {
				t.softirq = n
			}
			t.busy += n
		}
	}
	return t, nil
}

// diskOf finds the block device holding dir and reads its counters.
func diskOf(dir string) (string, diskCounters, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return "", diskCounters{}, fmt.Errorf("machine: %w", err)
	}
	major, minor := uint64(unix.Major(st.Dev)), uint64(unix.Minor(st.Dev))
	f, err := os.Open("/proc/diskstats")
	if err != nil {
		return "", diskCounters{}, fmt.Errorf("machine: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 13 || fs[0] != strconv.FormatUint(major, 10) || fs[1] != strconv.FormatUint(minor, 10) {
			continue
		}
		sectors, _ := strconv.ParseUint(fs[9], 10, 64)
		ticks, _ := strconv.ParseUint(fs[12], 10, 64)
		return fs[2], diskCounters{sectorsWritten: sectors, ioTicksMS: ticks}, nil
	}
	return "", diskCounters{}, nil // tmpfs and the like: no disk to count
}

// Until is the usage from s to a later sample.
func (s MachineSample) Until(e MachineSample) MachineUsage {
	u := MachineUsage{WallS: e.At.Sub(s.At).Seconds(), Cores: s.Cores, Disk: s.Disk}
	busy, idle, iow := e.cpu.busy-s.cpu.busy, e.cpu.idle-s.cpu.idle, e.cpu.iowait-s.cpu.iowait
	if total := busy + idle + iow; total > 0 {
		u.CPUBusy = float64(busy) / float64(total)
		u.IOWait = float64(iow) / float64(total)
		u.SoftIRQ = float64(e.cpu.softirq-s.cpu.softirq) / float64(total)
	}
	if s.Disk != "" && s.Disk == e.Disk && u.WallS > 0 {
		u.DiskBusy = min(1, float64(e.disk.ioTicksMS-s.disk.ioTicksMS)/1e3/u.WallS)
		u.DiskWriteBytes = int64(e.disk.sectorsWritten-s.disk.sectorsWritten) * 512
	}
	return u
}

// Bound names what set the time of a run: "disk" when the disk had I/O in
// flight most of the time, "CPU" when the cores were mostly busy, else
// "links" when the run came close to its floor and "waits" when nothing was
// saturated and it still did not (time lost between hosts: requests,
// scheduling). efficiency is T_min/T_last.
func (u MachineUsage) Bound(efficiency float64) string {
	switch {
	case u.WallS <= 0:
		return "unknown"
	case u.DiskBusy >= 0.8:
		return "disk"
	case u.CPUBusy >= 0.85:
		return "CPU"
	case efficiency >= 0.8:
		return "links"
	}
	return "waits"
}

// ProbeDisk measures how fast the disk holding dir takes a write that must
// reach it: size bytes of random data written then fdatasync'd, in a file
// that is removed afterwards. The figure sets the disk's part of a run's
// floor (every host's copy has to be written and synced). On a VM whose
// disk is backed by a sparse file, blocks written for the first time can be
// several times slower than blocks written before: the probe measures what
// the folder gets now.
func ProbeDisk(dir string, size int64) (float64, error) {
	f, err := os.CreateTemp(dir, ".disk-probe-*")
	if err != nil {
		return 0, fmt.Errorf("disk probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1<<20)
	rng := rand.NewChaCha8([32]byte{'p', 'r', 'o', 'b', 'e'})
	_, _ = rng.Read(buf) // random: a disk (or its host) may compress zeros
	start := time.Now()
	for left := size; left > 0; left -= int64(len(buf)) {
		n := min(int64(len(buf)), left)
		buf[0]++
		if _, err := f.Write(buf[:n]); err != nil {
			return 0, fmt.Errorf("disk probe: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("disk probe: %w", err)
	}
	d := time.Since(start)
	if d <= 0 {
		return 0, errors.New("disk probe: no time measured")
	}
	return float64(size) / d.Seconds(), nil
}

// ProcessCPU is the user plus system CPU time the calling process has used
// so far, all its threads included: the demo, which runs every host in one
// process, reports it.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RSSOf reads a running process's resident set size in bytes from
// /proc/PID/status; 0 if it is gone or unknown.
func RSSOf(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
