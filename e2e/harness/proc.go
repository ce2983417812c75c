package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a process has between SIGTERM and SIGKILL.
const stopGrace = 5 * time.Second

// Proc is a child process whose stdout and stderr are captured. It is
// stopped (SIGTERM, then SIGKILL after a grace period) when its context
// ends or the test ends, and its output tail is logged if the test failed.
type Proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *Output
	stderr *Output
	done   chan struct{} // closed once the process has exited
	err    error         // exit status; valid after done is closed
}

// Start starts path with args under the display name name. The process is
// bound to ctx: when ctx ends it gets SIGTERM and, 5 s later, SIGKILL. A
// process that cannot be started fails the test.
func Start(ctx context.Context, t testing.TB, name, path string, args ...string) *Proc {
	t.Helper()
	pctx, cancel := context.WithCancel(ctx)
	p := &Proc{name: name, stdout: NewOutput(), stderr: NewOutput(), done: make(chan struct{})}
	p.cmd = exec.CommandContext(pctx, path, args...)
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGTERM) }
	p.cmd.WaitDelay = stopGrace
	t.Logf("start %s: %s %s", name, filepath.Base(path), strings.Join(args, " "))
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
		if t.Failed() {
			t.Logf("---- %s (exit: %v) stderr tail ----\n%s", name, p.err, p.stderr.Tail(40))
			if s := p.stdout.Tail(10); s != "" {
				t.Logf("---- %s stdout tail ----\n%s", name, s)
			}
		}
	})
	return p
}

// Name is the display name the process was started with.
func (p *Proc) Name() string { return p.name }

// Stdout is the process's captured standard output.
func (p *Proc) Stdout() *Output { return p.stdout }

// Stderr is the process's captured standard error.
func (p *Proc) Stderr() *Output { return p.stderr }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err returns the exit status once the process has exited, and nil while
// it runs.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s to %s: %w", sig, p.name, err)
	}
	return nil
}

// Wait blocks until the process exits or ctx ends, and returns its exit
// status.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("%s still running: %w", p.name, ctx.Err())
	}
}

// MustFinish fails the test unless the process exits 0 before ctx ends.
func (p *Proc) MustFinish(ctx context.Context, t testing.TB) {
	t.Helper()
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("%s did not finish cleanly: %v", p.name, err)
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill(ctx context.Context) error {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s survived SIGKILL: %w", p.name, ctx.Err())
	}
}

// WaitFor blocks until match(o.String()) reports true, the process exits
// (o is checked once more after exit) or ctx ends. o is normally the
// process's own Stdout or Stderr; what names the awaited text in errors.
func (p *Proc) WaitFor(ctx context.Context, o *Output, what string, match func(string) bool) error {
	for {
		if match(o.String()) {
			return nil
		}
		select {
		case <-o.notify:
		case <-p.done:
			if match(o.String()) {
				return nil
			}
			return fmt.Errorf("%s exited (%v) before %s", p.name, p.err, what)
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w", p.name, what, ctx.Err())
		}
	}
}

// WaitStderr is WaitFor on the process's stderr.
func (p *Proc) WaitStderr(ctx context.Context, what string, match func(string) bool) error {
	return p.WaitFor(ctx, p.stderr, what, match)
}

// WaitMatch waits until re matches the process's stderr and returns the
// submatches; it fails the test if the process exits or ctx ends first.
func (p *Proc) WaitMatch(ctx context.Context, t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	err := p.WaitStderr(ctx, fmt.Sprintf("%q", re), func(s string) bool {
		m = re.FindStringSubmatch(s)
		return m != nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var listeningRE = regexp.MustCompile(`listening on (\S+:\d+)`)

// ListenAddr waits for the first "listening on HOST:PORT" line on stderr
// (the CLI contract shared by shoal and the libtorrent scripts) and
// returns HOST:PORT; it fails the test if none comes.
func (p *Proc) ListenAddr(ctx context.Context, t testing.TB) string {
	t.Helper()
	return p.WaitMatch(ctx, t, listeningRE)[1] // the pattern ends at the port's digits
}
