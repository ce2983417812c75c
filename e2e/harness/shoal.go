package harness

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// shoalPkg is the import path of the command under test; building it by
// import path works from any package directory inside the module.
const shoalPkg = "github.com/shoal-p2p/shoal/cmd/shoal"

// Binary is a shoal binary built once for a whole test binary by Main,
// called from TestMain. A failed build is kept, not fatal, so every test
// that needs the binary fails with the compiler's output while the others
// still run.
type Binary struct {
	built bool
	path  string
	err   error
}

// Main builds ./cmd/shoal into a fresh temporary directory, runs the
// tests, removes the binary and returns the exit code for os.Exit:
//
//	var shoal harness.Binary
//
//	func TestMain(m *testing.M) { os.Exit(shoal.Main(m)) }
func (b *Binary) Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "shoal-e2e-bin-")
	b.built = true
	if err != nil {
		b.err = fmt.Errorf("temp dir for the shoal binary: %w", err)
		return m.Run()
	}
	defer os.RemoveAll(dir)
	b.path = filepath.Join(dir, "shoal")
	cmd := exec.Command("go", "build", "-o", b.path, shoalPkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.err = fmt.Errorf("go build %s: %w\n%s", shoalPkg, err, out)
	}
	return m.Run()
}

// Path returns the binary's path, failing the test if it could not be
// built.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	if !b.built {
		t.Fatal("no shoal binary: TestMain must call Binary.Main")
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Start starts `shoal args...` as Start does for any program.
func (b *Binary) Start(ctx context.Context, t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	return Start(ctx, t, name, b.Path(t), args...)
}

// Run runs `shoal args...` to completion and returns its stdout; a
// non-zero exit fails the test.
func (b *Binary) Run(ctx context.Context, t testing.TB, args ...string) string {
	t.Helper()
	p := b.Start(ctx, t, "shoal "+args[0], args...)
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("shoal %s: %v\nstderr:\n%s", strings.Join(args, " "), err, p.stderr.Tail(40))
	}
	return p.stdout.String()
}

var infoHashRE = regexp.MustCompile(`\b[0-9a-fA-F]{40}\b`)

// CreateTorrent runs `shoal create` for content with the given piece
// length and trackers, writing out, and returns the info hash it printed.
func (b *Binary) CreateTorrent(ctx context.Context, t testing.TB, content, out string, pieceLen int, trackers ...string) [20]byte {
	t.Helper()
	args := []string{"create", "-o", out, "--piece-length", fmt.Sprint(pieceLen)}
	for _, tr := range trackers {
		args = append(args, "--tracker", tr)
	}
	stdout := b.Run(ctx, t, append(args, content)...)
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

var seedingRE = regexp.MustCompile(`(?m)^seeding \S`)

// StartSeeder starts `shoal seed` on an ephemeral loopback port, waits
// until it serves the torrent, and returns it with its address. content
// is the same path that was given to create; extra flags go before the
// positional arguments.
func (b *Binary) StartSeeder(ctx context.Context, t testing.TB, name, torrent, content string, extra ...string) (*Proc, string) {
	t.Helper()
	args := append([]string{"seed", "--listen", "127.0.0.1:0"}, extra...)
	p := b.Start(ctx, t, name, append(args, torrent, content)...)
	addr := p.ListenAddr(ctx, t)
	// The seeder listens before it has verified its data; peers that dial
	// in that window are turned away, and libtorrent then backs off for
	// seconds. Wait for the line it prints once the torrent is being served.
	if err := p.WaitStderr(ctx, `"seeding NAME" ready line`, seedingRE.MatchString); err != nil {
		t.Fatal(err)
	}
	return p, addr
}

// StartGetter starts `shoal get` of what (a .torrent path or a magnet
// link) on an ephemeral loopback port, writing into outDir.
func (b *Binary) StartGetter(ctx context.Context, t testing.TB, name, what, outDir string, extra ...string) *Proc {
	t.Helper()
	args := append([]string{"get", "--listen", "127.0.0.1:0", "-o", outDir}, extra...)
	return b.Start(ctx, t, name, append(args, what)...)
}
