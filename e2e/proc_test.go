package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// shoalBin is the path of the binary TestMain built, and buildErr what went
// wrong if it could not be built; every test asks for the binary through
// needShoal so a broken build fails the tests that need it, with the
// compiler's output.
var (
	shoalBin string
	buildErr error
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "shoal-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	shoalBin = filepath.Join(dir, "shoal")
	cmd := exec.Command("go", "build", "-o", shoalBin, "./cmd/shoal")
	cmd.Dir = ".." // module root: e2e tests run with the package dir as cwd
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build ./cmd/shoal: %w\n%s", err, out)
	}
	return m.Run()
}

// needShoal fails the test when the shoal binary could not be built.
func needShoal(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return shoalBin
}

// testContext returns a context that ends at the test's overall deadline
// (or the go test -timeout, whichever is sooner).
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	if dl, ok := t.Deadline(); ok && time.Until(dl)-5*time.Second < d {
		d = time.Until(dl) - 5*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// output is a goroutine-safe buffer that wakes waiters on every write, so
// tests wait for a line to appear without sleeping.
type output struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{} // capacity 1: "something was written"
}

func newOutput() *output { return &output{notify: make(chan struct{}, 1)} }

// Write appends p and signals a waiter.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	n, err := o.buf.Write(p)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return n, err
}

// String returns everything written so far.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// tail returns the last n lines written.
func (o *output) tail(n int) string {
	lines := strings.Split(strings.TrimRight(o.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// proc is a child process whose stdout and stderr are captured. It is
// stopped (SIGTERM, then SIGKILL after a grace period) when the test ends,
// and its stderr tail is logged if the test failed.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *output
	stderr *output
	done   chan struct{} // closed once the process has exited
	err    error         // exit status; valid after done is closed
}

// startProc starts path with args. The process is bound to ctx: when ctx
// ends it gets SIGTERM and, 5 s later, SIGKILL.
func startProc(ctx context.Context, t *testing.T, name, path string, args ...string) *proc {
	t.Helper()
	pctx, cancel := context.WithCancel(ctx)
	p := &proc{name: name, stdout: newOutput(), stderr: newOutput(), done: make(chan struct{})}
	p.cmd = exec.CommandContext(pctx, path, args...)
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGTERM) }
	p.cmd.WaitDelay = 5 * time.Second
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
			t.Logf("---- %s (exit: %v) stderr tail ----\n%s", name, p.err, p.stderr.tail(40))
			if s := p.stdout.tail(10); s != "" {
				t.Logf("---- %s stdout tail ----\n%s", name, s)
			}
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait blocks until the process exits or ctx ends, and returns its exit
// status.
func (p *proc) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("%s still running: %w", p.name, ctx.Err())
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(ctx context.Context) error {
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

// waitStderr blocks until match(stderr) reports true, the process exits
// (checked once more after exit) or ctx ends.
func (p *proc) waitStderr(ctx context.Context, what string, match func(string) bool) error {
	for {
		if match(p.stderr.String()) {
			return nil
		}
		select {
		case <-p.stderr.notify:
		case <-p.done:
			if match(p.stderr.String()) {
				return nil
			}
			return fmt.Errorf("%s exited (%v) before %s", p.name, p.err, what)
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w", p.name, what, ctx.Err())
		}
	}
}

var listeningRE = regexp.MustCompile(`listening on (\S+:\d+)`)

// listenAddr waits for the contract's "listening on HOST:PORT" line and
// returns HOST:PORT.
func (p *proc) listenAddr(ctx context.Context, t *testing.T) string {
	t.Helper()
	var addr string
	err := p.waitStderr(ctx, `"listening on" line`, func(s string) bool {
		m := listeningRE.FindStringSubmatch(s)
		if m == nil {
			return false
		}
		addr = strings.TrimRight(m[1], ".,;)")
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// runShoal runs the shoal binary to completion and returns its stdout;
// a non-zero exit fails the test.
func runShoal(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	p := startProc(ctx, t, "shoal "+args[0], needShoal(t), args...)
	if err := p.wait(ctx); err != nil {
		t.Fatalf("shoal %s: %v\nstderr:\n%s", strings.Join(args, " "), err, p.stderr.tail(40))
	}
	return p.stdout.String()
}

var infoHashRE = regexp.MustCompile(`\b[0-9a-fA-F]{40}\b`)

// createTorrent runs `shoal create` for content and returns the info hash
// it printed.
func createTorrent(ctx context.Context, t *testing.T, content, out string, pieceLen int, trackers ...string) [20]byte {
	t.Helper()
	args := []string{"create", "-o", out, "--piece-length", fmt.Sprint(pieceLen)}
	for _, tr := range trackers {
		args = append(args, "--tracker", tr)
	}
	stdout := runShoal(ctx, t, append(args, content)...)
	m := infoHashRE.FindString(stdout)
	if m == "" {
		t.Fatalf("shoal create printed no hex info hash on stdout: %q", stdout)
	}
	var ih [20]byte
	if _, err := hex.Decode(ih[:], []byte(m)); err != nil {
		t.Fatalf("parse info hash %q: %v", m, err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("shoal create did not write %s: %v", out, err)
	}
	return ih
}

// startSeeder starts `shoal seed` on an ephemeral loopback port and returns
// it with its address. content is the same path that was given to create.
func startSeeder(ctx context.Context, t *testing.T, name, torrent, content string, extra ...string) (*proc, string) {
	t.Helper()
	args := append([]string{"seed", "--listen", "127.0.0.1:0"}, extra...)
	p := startProc(ctx, t, name, needShoal(t), append(args, torrent, content)...)
	addr := p.listenAddr(ctx, t)
	// The seeder listens before it has verified its data; peers that dial
	// in that window are turned away, and libtorrent then backs off for
	// seconds. Wait for the line it prints once the torrent is being served.
	if err := p.waitStderr(ctx, `"seeding NAME" ready line`, seedingRE.MatchString); err != nil {
		t.Fatal(err)
	}
	return p, addr
}

var seedingRE = regexp.MustCompile(`(?m)^seeding \S`)

// startGetter starts `shoal get` writing into outDir.
func startGetter(ctx context.Context, t *testing.T, name, torrent, outDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"get", "--listen", "127.0.0.1:0", "-o", outDir}, extra...)
	return startProc(ctx, t, name, needShoal(t), append(args, torrent)...)
}

// mustFinish waits for a getter to exit 0.
func mustFinish(ctx context.Context, t *testing.T, p *proc) {
	t.Helper()
	if err := p.wait(ctx); err != nil {
		t.Fatalf("%s did not finish cleanly: %v", p.name, err)
	}
}
