package sim

import (
	"os"
	"testing"
)

// TestMain runs every test of the package with checkMgrSkips on, so each
// simulated run also checks that process and armWake skip a host's peer
// manager only when it has nothing new (every event method's call is
// marked with host.stepped).
func TestMain(m *testing.M) {
	checkMgrSkips = true
	os.Exit(m.Run())
}
