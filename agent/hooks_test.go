package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHangingHookIsKilledAndTheNextRuns: a hook that hangs (and leaves a
// child holding its output) is killed with its children after
// HookTimeout, counted as a timeout, and the next release's hook runs; a
// failing hook is counted as failed and does not stop the next either.
func TestHangingHookIsKilledAndTheNextRuns(t *testing.T) {
	announce := testTracker(t)
	mt := newMemTracker("k")
	work := t.TempDir()
	hookLog, childPid := filepath.Join(work, "hooks"), filepath.Join(work, "child.pid")
	origin := startAgent(t, Config{Name: "origin", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt}})
	hook := fmt.Sprintf(`case $SHOAL_SEQ in
1) sleep 300 & echo $! > %[2]s; sleep 300;;
2) echo "2 failing" >> %[1]s; exit 3;;
*) echo "$SHOAL_SEQ ran" >> %[1]s;;
esac`, hookLog, childPid)
	sub := startAgent(t, Config{Name: "sub", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt},
		Subscribe: []string{"build"}, OnComplete: hook, HookTimeout: 300 * time.Millisecond})
	src := filepath.Join(work, "build.bin")
	for k := 1; k <= 3; k++ {
		writeRandom(t, src, 64<<10, uint64(50+k))
		if _, err := origin.Publish(context.Background(), "build", PublishRequest{Path: src, Key: "k", PieceLength: 16 << 10}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, "subscriber on the release", func() bool {
			st, _ := sub.Channel("build")
			return st.Current == uint64(k)
		})
	}
	waitUntil(t, 30*time.Second, "hooks 2 and 3 ran", func() bool {
		b, _ := os.ReadFile(hookLog)
		return string(b) == "2 failing\n3 ran\n"
	})
	b, _ := os.ReadFile(childPid)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("hook 1 left no child pid: %q", b)
	}
	waitUntil(t, 10*time.Second, "hook 1's child killed", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
	resp, err := http.Get(sub.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`shoal_agent_hooks_total{result="timeout"} 1`, `shoal_agent_hooks_total{result="failed"} 1`, `shoal_agent_hooks_total{result="ok"} 1`} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestHookOutputIsBounded(t *testing.T) {
	b := &boundedBuffer{max: 10}
	b.Write([]byte("0123456"))
	b.Write([]byte("789abcdef"))
	b.Write(make([]byte, 1<<20))
	if got, want := b.String(), "0123456789... (1048582 more bytes not kept)"; got != want {
		t.Fatalf("bounded output %q, want %q", got, want)
	}
}
