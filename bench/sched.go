package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The share of the cores a bench gets. With the kernel's autogroup on
// (kernel.sched_autogroup_enabled = 1, this VM's setting), the scheduler
// first splits the cores evenly between sessions (autogroups) with
// runnable threads, and only then between the threads of one session by
// their nice values: a simulation started at nice 19 from another shell
// takes as much of the machine as a bench at nice 0 from this one. The
// 1-minute load does not show that; the count of other sessions with a
// runnable thread does.

// SchedSample is the scheduler's view at one moment.
type SchedSample struct {
	// Load1 is the 1-minute load average (/proc/loadavg).
	Load1 float64
	// Autogroup is whether the scheduler splits the cores between
	// sessions first (/proc/sys/kernel/sched_autogroup_enabled).
	Autogroup bool
	// OtherGroups counts the autogroups other than this process's own with
	// a runnable thread; -1 if autogroup is off or unknown.
	OtherGroups int
}

// SampleSched reads the load, the autogroup setting and the other runnable
// sessions; what it cannot read it leaves at zero (OtherGroups -1).
func SampleSched() SchedSample {
	s := SchedSample{OtherGroups: -1}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		s.Load1, _ = parseLoad1(data)
	}
	if data, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled"); err == nil {
		s.Autogroup = strings.TrimSpace(string(data)) == "1"
	}
	if s.Autogroup {
		if n, err := otherRunnableGroups("/proc", strconv.Itoa(os.Getpid())); err == nil {
			s.OtherGroups = n
		}
	}
	return s
}

// parseLoad1 reads the first field of /proc/loadavg.
func parseLoad1(data []byte) (float64, error) {
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, errors.New("empty loadavg")
	}
	return strconv.ParseFloat(f[0], 64)
}

// otherRunnableGroups counts the distinct autogroups, other than that of
// process self, holding a thread in state R, from a /proc tree at root
// (root/PID/autogroup: "/autogroup-N nice K"; root/PID/task/TID/stat: the
// state after the parenthesised command name). Kernel threads have no
// autogroup file and are not counted.
func otherRunnableGroups(root, self string) (int, error) {
	mine, err := autogroupOf(root, self)
	if err != nil {
		return 0, err
	}
	pids, err := os.ReadDir(root)
	if err != nil {
		return 0, err
	}
	groups := map[string]bool{}
	for _, p := range pids {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		g, err := autogroupOf(root, p.Name())
		if err != nil || g == mine || groups[g] {
			continue
		}
		tasks, _ := filepath.Glob(filepath.Join(root, p.Name(), "task", "*", "stat"))
		for _, t := range tasks {
			if data, err := os.ReadFile(t); err == nil && statState(data) == 'R' {
				groups[g] = true
				break
			}
		}
	}
	return len(groups), nil
}

// autogroupOf returns the name of a process's autogroup.
func autogroupOf(root, pid string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, pid, "autogroup"))
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "", errors.New("empty autogroup")
	}
	return f[0], nil
}

// statState returns the state letter of a /proc/.../stat line, or 0.
func statState(stat []byte) byte {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0
	}
	return s[i+2]
}

// schedLine says what the run shared the cores with.
func (r Result) schedLine() string {
	line := fmt.Sprintf("sched: 1-minute load %.1f at the start, %.1f at the end", r.Load1[0], r.Load1[1])
	if r.Autogroup {
		line += fmt.Sprintf("; autogroup on: %d and %d other sessions runnable, each with an even share of the cores whatever its nice value",
			r.OtherGroups[0], r.OtherGroups[1])
	}
	return line
}
