package harness

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Python is the interpreter that sees Debian's python3-libtorrent (a
// virtualenv's python3 earlier on PATH would not).
const Python = "/usr/bin/python3"

// NeedLibtorrent skips the test unless Python can import libtorrent, and
// returns the absolute path of script, a libtorrent driver script named
// relative to the test's working directory (its package directory).
func NeedLibtorrent(t testing.TB, script string) string {
	t.Helper()
	out, err := exec.Command(Python, "-c", "import libtorrent as lt; print(lt.__version__)").CombinedOutput()
	if err != nil {
		t.Skipf("libtorrent interop needs %s with python3-libtorrent (apt-get install -y python3-libtorrent): %v: %s", Python, err, out)
	}
	t.Logf("libtorrent %s", strings.TrimSpace(string(out)))
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatalf("libtorrent script %s: %v", script, err)
	}
	return abs
}

// NeedProgram returns the path of program name, or skips the test naming
// the Debian package debPkg that provides it.
func NeedProgram(t testing.TB, name, debPkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package %s); skipping", name, debPkg)
	}
	return p
}
