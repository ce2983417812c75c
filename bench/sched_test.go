package bench

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseLoad1(t *testing.T) {
	if v, err := parseLoad1([]byte("12.50 9.36 4.73 3/812 28306\n")); err != nil || v != 12.5 {
		t.Errorf("parseLoad1 = %v, %v; want 12.5", v, err)
	}
	for _, bad := range []string{"", "x 1 2"} {
		if _, err := parseLoad1([]byte(bad)); err == nil {
			t.Errorf("parseLoad1(%q): no error", bad)
		}
	}
}

func TestOtherRunnableGroups(t *testing.T) {
	root := t.TempDir()
	// pid, autogroup (empty: a kernel thread), thread states
	procs := []struct {
		pid, group string
		states     []string
	}{
		{"10", "/autogroup-1", []string{"R"}},      // ours, running: not counted
		{"11", "/autogroup-1", []string{"S"}},      // ours
		{"20", "/autogroup-2", []string{"S", "R"}}, // another session, one thread runnable
		{"21", "/autogroup-2", []string{"R"}},      // the same session again: counted once
		{"30", "/autogroup-3", []string{"S", "D"}}, // another session, nothing runnable
		{"40", "/autogroup-4", []string{"R"}},      // a third, runnable
		{"50", "", []string{"R"}},                  // kernel thread: no autogroup
	}
	for _, p := range procs {
		dir := filepath.Join(root, p.pid)
		if p.group != "" {
			write(t, filepath.Join(dir, "autogroup"), p.group+" nice 0\n")
		}
		for i, st := range p.states {
			// a command name with a space and a parenthesis, as stat allows
			write(t, filepath.Join(dir, "task", p.pid+string(rune('0'+i)), "stat"), p.pid+" (sim (x) 1) "+st+" 1 2 3\n")
		}
	}
	write(t, filepath.Join(root, "self-not-a-pid", "autogroup"), "/autogroup-9 nice 0\n")
	n, err := otherRunnableGroups(root, "10")
	if err != nil || n != 2 {
		t.Errorf("otherRunnableGroups = %d, %v; want 2 (autogroups 2 and 4)", n, err)
	}
	if _, err := otherRunnableGroups(root, "50"); err == nil {
		t.Error("a process without an autogroup: no error")
	}
}

func TestStatState(t *testing.T) {
	for stat, want := range map[string]byte{
		"1 (a) R 0":    'R',
		"1 (a) b) S 0": 'S',
		"1 (no state)": 0,
		"garbage":      0,
	} {
		if got := statState([]byte(stat)); got != want {
			t.Errorf("statState(%q) = %q, want %q", stat, got, want)
		}
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
