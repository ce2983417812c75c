package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// failure runs `shoal args...` to its end and returns its exit code and
// stderr; it fails the test if the command succeeded.
func failure(t *testing.T, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx := harness.Context(t, timeout)
	p := shoal.Start(ctx, t, "shoal "+args[0], args...)
	err := p.Wait(ctx)
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("shoal %s: want a non-zero exit, got %v\nstderr:\n%s", strings.Join(args, " "), err, p.Stderr().Tail(20))
	}
	return ee.ExitCode(), p.Stderr().String()
}

// errorLines returns the stderr lines that report the command's error.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "shoal get: ") {
			out = append(out, l)
		}
	}
	return out
}

// TestGetFailuresAreOneClearLine checks the contract for `shoal get`: every
// failure is one line on stderr naming the problem, and a non-zero exit.
func TestGetFailuresAreOneClearLine(t *testing.T) {
	dir := t.TempDir()
	payload := filepath.Join(dir, "payload.bin")
	harness.WriteRandomFile(t, payload, 1<<20, 7)
	ctx := harness.Context(t, time.Minute)
	noTracker := filepath.Join(dir, "notracker.torrent")
	shoal.CreateTorrent(ctx, t, payload, noTracker, 1<<16)
	deadTracker := filepath.Join(dir, "deadtracker.torrent")
	shoal.CreateTorrent(ctx, t, payload, deadTracker, 1<<16, "http://127.0.0.1:1/announce")
	garbage := filepath.Join(dir, "garbage.torrent")
	if err := os.WriteFile(garbage, []byte("this is not bencode"), 0o644); err != nil {
		t.Fatal(err)
	}
	unsafe := filepath.Join(dir, "unsafe.torrent")
	// A multi-file torrent whose one file climbs out of the download folder.
	info := "d5:filesld6:lengthi10e4:pathl2:..2:..3:etc6:passwdeee4:name1:x12:piece lengthi16384e6:pieces20:" + strings.Repeat("\x00", 20) + "e"
	if err := os.WriteFile(unsafe, []byte("d8:announce27:http://127.0.0.1:1/announce4:info"+info+"e"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		args    []string
		want    *regexp.Regexp
		timeout time.Duration
		long    bool
	}{
		{name: "missing torrent", args: []string{filepath.Join(dir, "nope.torrent")}, want: regexp.MustCompile(`nope\.torrent.*no such file`)},
		{name: "not a torrent", args: []string{garbage}, want: regexp.MustCompile(`garbage\.torrent.*invalid`)},
		{name: "bad magnet", args: []string{"magnet:?xt=urn:btih:zzz"}, want: regexp.MustCompile(`invalid magnet`)},
		{name: "unsafe path", args: []string{unsafe}, want: regexp.MustCompile(`unsafe file path "\.\./\.\./etc/passwd"`)},
		{name: "no tracker, no peers", args: []string{noTracker}, want: regexp.MustCompile(`no way to find peers`)},
		// The tracker is retried until the stall timeout, then the last
		// announce error is the reason.
		{name: "unreachable tracker", args: []string{"--stall-timeout", "3s", deadTracker}, want: regexp.MustCompile(`no peers for 3s; .*127\.0\.0\.1:1.*refused`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.long && testing.Short() {
				t.Skip("waits for tracker retries; skipped in -short mode")
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 20 * time.Second
			}
			out := filepath.Join(t.TempDir(), "out")
			code, stderr := failure(t, timeout, append([]string{"get", "--listen", "127.0.0.1:0", "-o", out}, tt.args...)...)
			if code == 0 {
				t.Fatalf("exit code 0")
			}
			lines := errorLines(stderr)
			if len(lines) != 1 {
				t.Fatalf("want exactly one error line, got %d:\n%s", len(lines), stderr)
			}
			if !tt.want.MatchString(lines[0]) {
				t.Fatalf("error line %q does not match %q", lines[0], tt.want)
			}
		})
	}
}

// TestGetDiskFull checks that a download into a too-small filesystem stops
// at once with a "no space left" line.
func TestGetDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	payload := filepath.Join(dir, "big.bin")
	harness.WriteRandomFile(t, payload, 3<<20, 9)
	ctx := harness.Context(t, time.Minute)
	tor := filepath.Join(dir, "big.torrent")
	shoal.CreateTorrent(ctx, t, payload, tor, 1<<16)
	small := filepath.Join(dir, "small")
	if err := os.Mkdir(small, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", small, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(small, 0) })
	_, stderr := failure(t, 20*time.Second, "get", "--listen", "127.0.0.1:0", "-o", small, "--peer", "127.0.0.1:9", tor)
	lines := errorLines(stderr)
	if len(lines) != 1 || !strings.Contains(lines[0], "no space left on device") {
		t.Fatalf("want one 'no space left on device' line, got:\n%s", stderr)
	}
}

// TestGetInterruptKeepsVerifiedPieces sends SIGINT to a slow download: it
// exits 130 with a resume hint, and a second run finishes from where the
// first stopped.
func TestGetInterruptKeepsVerifiedPieces(t *testing.T) {
	if testing.Short() {
		t.Skip("slow download; skipped in -short mode")
	}
	dir := t.TempDir()
	payload := filepath.Join(dir, "data.bin")
	harness.WriteRandomFile(t, payload, 8<<20, 11)
	ctx := harness.Context(t, 2*time.Minute)
	tor := filepath.Join(dir, "data.torrent")
	shoal.CreateTorrent(ctx, t, payload, tor, 1<<16)
	_, seedAddr := shoal.StartSeeder(ctx, t, "seeder", tor, payload)
	out := filepath.Join(dir, "out")
	g := shoal.StartGetter(ctx, t, "getter", tor, out, "--peer", seedAddr, "--down-limit", "2MB")
	progress := regexp.MustCompile(`\((\d+)/\d+ pieces\)`)
	if err := g.WaitStderr(ctx, "some progress", func(s string) bool {
		for _, m := range progress.FindAllStringSubmatch(s, -1) {
			if m[1] != "0" {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	if err := g.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := g.Wait(ctx)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("want exit code 130 after SIGINT, got %v", err)
	}
	if !strings.Contains(g.Stderr().String(), "verified pieces are kept") {
		t.Fatalf("no resume hint after SIGINT:\n%s", g.Stderr().Tail(5))
	}
	g2 := shoal.StartGetter(ctx, t, "getter-again", tor, out, "--peer", seedAddr)
	g2.MustFinish(ctx, t)
	had := regexp.MustCompile(`had (\d+) pieces`).FindStringSubmatch(g2.Stderr().String())
	if had == nil || had[1] == "0" {
		t.Fatalf("second run did not resume from verified pieces:\n%s", g2.Stderr().Tail(5))
	}
	harness.SameTree(t, payload, filepath.Join(out, "data.bin"))
}

// TestGetTruncatesAppendedJunk: 1 MiB appended to a finished download is
// cut off by the next `shoal get`, which says so and exits 0 with a file
// of the right size. Before, it reported the download complete and left
// the junk in place (no piece covers bytes past a file's length).
func TestGetTruncatesAppendedJunk(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	harness.WriteTree(t, src, 13, harness.FileSpec{Path: "data.bin", Size: 8 << 20})
	ctx := harness.Context(t, time.Minute)
	tor := filepath.Join(dir, "data.torrent")
	shoal.CreateTorrent(ctx, t, filepath.Join(src, "data.bin"), tor, 256<<10)
	_, seedAddr := shoal.StartSeeder(ctx, t, "seed", tor, filepath.Join(src, "data.bin"))
	out := filepath.Join(dir, "out")
	shoal.StartGetter(ctx, t, "get", tor, out, "--peer", seedAddr).MustFinish(ctx, t)
	harness.SameTree(t, src, out)

	f, err := os.OpenFile(filepath.Join(out, "data.bin"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	again := shoal.StartGetter(ctx, t, "get again", tor, out, "--peer", seedAddr)
	again.MustFinish(ctx, t)
	harness.SameTree(t, src, out)
	if want := "truncated data.bin from 9437184 to 8388608 bytes"; !strings.Contains(again.Stderr().String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, again.Stderr().Tail(10))
	}
}

// TestNamesWithControlCharactersAreEscaped: a torrent whose name holds a
// terminal escape sequence (here one that would set the window title and
// clear the screen) is created, seeded and fetched; no command writes the
// raw bytes, they show as \x1b escapes.
func TestNamesWithControlCharactersAreEscaped(t *testing.T) {
	dir := t.TempDir()
	name := "evil\x1b]0;pwned\x07\x1b[2J.bin"
	src := filepath.Join(dir, "src")
	harness.WriteRandomFile(t, filepath.Join(src, name), 256<<10, 17)
	ctx := harness.Context(t, time.Minute)
	tor := filepath.Join(dir, "evil.torrent")
	shoal.CreateTorrent(ctx, t, filepath.Join(src, name), tor, 64<<10)
	seeder, seedAddr := shoal.StartSeeder(ctx, t, "seed", tor, filepath.Join(src, name))
	getter := shoal.StartGetter(ctx, t, "get", tor, filepath.Join(dir, "out"), "--peer", seedAddr)
	getter.MustFinish(ctx, t)
	harness.SameTree(t, src, filepath.Join(dir, "out"))
	for _, p := range []*harness.Proc{seeder, getter} {
		out := p.Stderr().String()
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s wrote raw control characters: %q", p.Name(), out)
		}
		if !strings.Contains(out, `evil\x1b]0;pwned\x07\x1b[2J.bin`) {
			t.Errorf("%s does not show the escaped name:\n%s", p.Name(), out)
		}
	}
}
