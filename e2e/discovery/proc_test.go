package discovery

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
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

// shoalBin is the binary TestMain built; buildErr says why it could not be.
var (
	shoalBin string
	buildErr error
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "shoal-discovery-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "discovery: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	shoalBin = filepath.Join(dir, "shoal")
	cmd := exec.Command("go", "build", "-o", shoalBin, "./cmd/shoal")
	cmd.Dir = "../.." // module root
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build ./cmd/shoal: %w\n%s", err, out)
	}
	return m.Run()
}

// needShoal fails the test when the binary could not be built.
func needShoal(t *testing.T) string {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return shoalBin
}

// testContext ends at d or shortly before the test's deadline.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	if dl, ok := t.Deadline(); ok && time.Until(dl)-5*time.Second < d {
		d = time.Until(dl) - 5*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// output is a goroutine-safe buffer that wakes a waiter on every write.
type output struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{}
}

func newOutput() *output { return &output{notify: make(chan struct{}, 1)} }

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

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *output) tail(n int) string {
	lines := strings.Split(strings.TrimRight(o.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// proc is a child process with captured stderr, stopped (SIGTERM, then
// SIGKILL) when the test ends.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr *output
	done   chan struct{}
	err    error
}

func startProc(ctx context.Context, t *testing.T, name, path string, args ...string) *proc {
	t.Helper()
	pctx, cancel := context.WithCancel(ctx)
	p := &proc{name: name, stderr: newOutput(), done: make(chan struct{})}
	p.cmd = exec.CommandContext(pctx, path, args...)
	p.cmd.Stderr = p.stderr
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGTERM) }
	p.cmd.WaitDelay = 5 * time.Second
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
			t.Logf("---- %s (exit: %v) stderr tail ----\n%s", name, p.err, p.stderr.tail(25))
		}
	})
	return p
}

// wait blocks until the process exits or ctx ends.
func (p *proc) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("%s still running: %w", p.name, ctx.Err())
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// waitMatch waits until re matches stderr and returns the submatches.
func (p *proc) waitMatch(ctx context.Context, t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	for {
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			return m
		}
		select {
		case <-p.stderr.notify:
		case <-p.done:
			if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) before printing %q", p.name, p.err, re)
		case <-ctx.Done():
			t.Fatalf("%s: waiting for %q: %v", p.name, re, ctx.Err())
		}
	}
}

var (
	listeningRE = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
	magnetRE    = regexp.MustCompile(`magnet link: (magnet:\S+)`)
	seedingRE   = regexp.MustCompile(`(?m)^seeding \S`)
	discoveryRE = regexp.MustCompile(`discovery: first peer after ([\d.]+)s, metadata after ([\d.]+)s, complete after ([\d.]+)s`)
)

// startDHTNode runs `shoal dht` on loopback and returns its address.
func startDHTNode(ctx context.Context, t *testing.T) string {
	t.Helper()
	p := startProc(ctx, t, "dht-node", needShoal(t), "dht", "--listen", "127.0.0.1:0")
	return p.waitMatch(ctx, t, listeningRE)[1]
}

// startSeed runs `shoal seed` for torrent and content, waits until it
// serves, and returns it with its TCP address and magnet link.
func startSeed(ctx context.Context, t *testing.T, torrent, content string, extra ...string) (*proc, string, string) {
	t.Helper()
	args := append([]string{"seed", "--listen", "127.0.0.1:0"}, extra...)
	p := startProc(ctx, t, "seeder", needShoal(t), append(args, torrent, content)...)
	addr := p.waitMatch(ctx, t, listeningRE)[1]
	p.waitMatch(ctx, t, seedingRE)
	return p, addr, p.waitMatch(ctx, t, magnetRE)[1]
}

// startGet runs `shoal get` of what (a .torrent or a magnet) into out.
func startGet(ctx context.Context, t *testing.T, name, what, out string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"get", "--listen", "127.0.0.1:0", "-o", out, "--stall-timeout", "90s"}, extra...)
	return startProc(ctx, t, name, needShoal(t), append(args, what)...)
}

// payload writes size pseudo-random bytes to path and returns them.
func payload(t *testing.T, path string, size int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0xd15c))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// create runs `shoal create` and returns the torrent's path.
func create(ctx context.Context, t *testing.T, content, out string, trackers ...string) string {
	t.Helper()
	args := []string{"create", "-o", out, "--piece-length", "262144"}
	for _, tr := range trackers {
		args = append(args, "--tracker", tr)
	}
	p := startProc(ctx, t, "create", needShoal(t), append(args, content)...)
	if err := p.wait(ctx); err != nil {
		t.Fatalf("shoal create: %v\n%s", err, p.stderr.tail(10))
	}
	return out
}

// sameFile fails the test unless path holds want.
func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the original (%d vs %d bytes)", path, len(got), len(want))
	}
}
