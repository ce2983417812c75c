package fleet

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeployFiles runs deploy/check.sh: systemd-analyze verify of the
// units and the Dockerfile's build steps as a shell script.
func TestDeployFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the static binary; skipped with -short")
	}
	cmd := exec.Command("../../deploy/check.sh")
	cmd.Env = append(cmd.Environ(), "SHOAL_BIN="+shoal.Path(t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deploy/check.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Dockerfile build steps ran") {
		t.Fatalf("deploy/check.sh printed %q", out)
	}
	t.Logf("%s", out)
}
