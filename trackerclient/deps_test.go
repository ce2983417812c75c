package trackerclient

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestAnnouncersLinkNoServer: a program that only announces (this package,
// and the peer runtime in package client, which announces through it)
// must not link the tracker server, its Redis store or its Prometheus
// metrics. It reads the import graph with `go list -deps`.
func TestAnnouncersLinkNoServer(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := exec.LookPath(gobin); err != nil {
		t.Skipf("no go command at %s: %v", gobin, err)
	}
	for _, pkg := range []string{"github.com/shoal-p2p/shoal/trackerclient", "github.com/shoal-p2p/shoal/client"} {
		out, err := exec.Command(gobin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %v", pkg, deps)
		}
		for _, d := range deps {
			if d == "github.com/shoal-p2p/shoal/tracker" || strings.HasPrefix(d, "github.com/redis/") ||
				strings.HasPrefix(d, "github.com/prometheus/") {
				t.Errorf("%s links %s", pkg, d)
			}
		}
	}
}
