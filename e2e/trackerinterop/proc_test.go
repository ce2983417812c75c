package trackerinterop

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// shoalBin is the binary TestMain built; buildErr why it could not be.
var (
	shoalBin string
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shoal-trackerinterop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shoalBin = filepath.Join(dir, "shoal")
	cmd := exec.Command("go", "build", "-o", shoalBin, "./cmd/shoal")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build ./cmd/shoal: %w\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needShoal(t testing.TB) string {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return shoalBin
}

// needProgram returns the path of a program or skips, naming its package.
func needProgram(t testing.TB, name, debPkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package %s); skipping", name, debPkg)
	}
	return p
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// syncBuf is a goroutine-safe output buffer that wakes waiters on writes.
type syncBuf struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{}
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a started process whose output is captured.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuf
	done chan struct{}
	err  error
}

// start runs a program until the test ends (killed then) or it exits.
func start(t testing.TB, name string, path string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &syncBuf{notify: make(chan struct{}, 1)}, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(p.out.String(), 30))
		}
	})
	return p
}

// wait waits for the process to exit and returns its error.
func (p *proc) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("%s still running: %w", p.name, ctx.Err())
	}
}

// await waits until re matches the output and returns the first group.
func (p *proc) await(ctx context.Context, t testing.TB, re *regexp.Regexp) string {
	t.Helper()
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-p.out.notify:
		case <-p.done:
			if m := re.FindStringSubmatch(p.out.String()); m != nil {
				return m[len(m)-1]
			}
			t.Fatalf("%s exited (%v) before printing %s:\n%s", p.name, p.err, re, tail(p.out.String(), 30))
		case <-ctx.Done():
			t.Fatalf("%s: waiting for %s: %v\n%s", p.name, re, ctx.Err(), tail(p.out.String(), 30))
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	listeningRE = regexp.MustCompile(`listening on (\S+:\d+)`)
	seedingRE   = regexp.MustCompile(`(?m)^seeding \S`)
	infoHashRE  = regexp.MustCompile(`\b([0-9a-fA-F]{40})\b`)
)

// startTracker runs `shoal tracker` on a loopback port and returns its
// host:port (HTTP on TCP and BEP 15 on UDP share it).
func startTracker(ctx context.Context, t testing.TB, name string, extra ...string) string {
	t.Helper()
	p := start(t, name, needShoal(t), append([]string{"tracker", "--listen", "127.0.0.1:0"}, extra...)...)
	addr := p.await(ctx, t, listeningRE)
	p.await(ctx, t, regexp.MustCompile(`udp listening on (\S+)`))
	return addr
}

// runShoal runs shoal to completion and returns its output.
func runShoal(ctx context.Context, t testing.TB, args ...string) string {
	t.Helper()
	p := start(t, "shoal "+args[0], needShoal(t), args...)
	if err := p.wait(ctx); err != nil {
		t.Fatalf("shoal %s: %v\n%s", strings.Join(args, " "), err, tail(p.out.String(), 30))
	}
	return p.out.String()
}

// makePayload writes size pseudo-random bytes to dir/name.
func makePayload(t testing.TB, dir, name string, size int) string {
	t.Helper()
	b := make([]byte, size)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// createTorrent runs shoal create and returns the info hash in hex.
func createTorrent(ctx context.Context, t testing.TB, content, out string, trackers ...string) string {
	t.Helper()
	args := []string{"create", "-o", out, "--piece-length", "65536"}
	for _, tr := range trackers {
		args = append(args, "--tracker", tr)
	}
	m := infoHashRE.FindStringSubmatch(runShoal(ctx, t, append(args, content)...))
	if m == nil {
		t.Fatal("shoal create printed no info hash")
	}
	return strings.ToLower(m[1])
}

// startSeeder runs shoal seed and waits until it serves the torrent.
func startSeeder(ctx context.Context, t testing.TB, torrent, content string, extra ...string) {
	t.Helper()
	args := append([]string{"seed", "--listen", "127.0.0.1:0"}, extra...)
	p := start(t, "shoal seed", needShoal(t), append(args, torrent, content)...)
	p.await(ctx, t, seedingRE)
}

// freePort returns a loopback port free for both TCP and UDP right now.
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// sameFile fails the test unless a and b have equal contents.
func sameFile(t testing.TB, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatalf("%s differs from %s (%d vs %d bytes)", b, a, len(y), len(x))
	}
}
