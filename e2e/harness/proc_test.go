package harness

import (
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sh starts a shell script as a Proc.
func sh(t *testing.T, script string) *Proc {
	t.Helper()
	return Start(Context(t, 30*time.Second), t, "sh", "/bin/sh", "-c", script)
}

// TestProcListenAddrAndKill checks that a process's address is read from
// its stderr as it appears, and that Kill ends a process that would
// otherwise outlive the test.
func TestProcListenAddrAndKill(t *testing.T) {
	ctx := Context(t, 30*time.Second)
	p := sh(t, `echo noise; echo "x listening on 127.0.0.1:4711." >&2; exec sleep 60`)
	if got := p.ListenAddr(ctx, t); got != "127.0.0.1:4711" {
		t.Fatalf("ListenAddr = %q, want 127.0.0.1:4711", got)
	}
	if p.Exited() || p.Err() != nil {
		t.Fatalf("process ended early: %v", p.Err())
	}
	if err := p.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if !p.Exited() || !errors.As(p.Err(), &ee) {
		t.Fatalf("after Kill: exited %v, err %v", p.Exited(), p.Err())
	}
	if got := p.Stdout().String(); got != "noise\n" {
		t.Fatalf("stdout = %q, want only the stdout line", got)
	}
}

// TestProcWaitStderrSeesExit checks that waiting for a line that never
// comes ends when the process exits, and that output written just before
// the exit is still matched.
func TestProcWaitStderrSeesExit(t *testing.T) {
	ctx := Context(t, 30*time.Second)
	p := sh(t, `echo last words >&2; exit 3`)
	if err := p.WaitStderr(ctx, "never", func(string) bool { return false }); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("WaitStderr on an exited process: %v", err)
	}
	if m := p.WaitMatch(ctx, t, regexp.MustCompile(`last (\w+)`)); m[1] != "words" {
		t.Fatalf("WaitMatch = %q", m)
	}
	var ee *exec.ExitError
	if err := p.Wait(ctx); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("Wait = %v, want exit status 3", err)
	}
}

// TestProcWaitHonoursContext checks that waits give up when their context
// ends while the process lives on.
func TestProcWaitHonoursContext(t *testing.T) {
	p := sh(t, `exec sleep 60`)
	short := Context(t, 50*time.Millisecond)
	if err := p.Wait(short); err == nil {
		t.Fatal("Wait returned nil for a running process")
	}
	if err := p.WaitStderr(short, "nothing", func(string) bool { return false }); err == nil {
		t.Fatal("WaitStderr returned nil after its context ended")
	}
}

// TestOutputTail pins the line selection used in failure logs.
func TestOutputTail(t *testing.T) {
	o := NewOutput()
	o.Write([]byte("a\nb\nc\n"))
	if got := o.Tail(2); got != "b\nc" {
		t.Fatalf("Tail(2) = %q", got)
	}
	if got := o.Tail(10); got != "a\nb\nc" {
		t.Fatalf("Tail(10) = %q", got)
	}
}
