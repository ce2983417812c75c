package agent

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestPublishOfUnreadablePath: a path the agent may not read (another
// user's file, a folder with one such file inside) is a 400 naming the
// permission, and leaves nothing in the store. As root, the test runs
// itself again as nobody (root reads everything).
func TestPublishOfUnreadablePath(t *testing.T) {
	dir := os.Getenv("SHOAL_TEST_UNREADABLE_DIR")
	if dir == "" {
		dir = t.TempDir()
		os.Chmod(filepath.Dir(dir), 0o755)
		os.Chmod(dir, 0o755)
		writeRandom(t, filepath.Join(dir, "secret.bin"), 4096, 1)
		writeRandom(t, filepath.Join(dir, "tree", "ok.bin"), 4096, 2)
		writeRandom(t, filepath.Join(dir, "tree", "secret.bin"), 4096, 3)
		for _, p := range []string{"secret.bin", "tree/secret.bin"} {
			os.Chmod(filepath.Join(dir, p), 0o600)
		}
		if os.Geteuid() == 0 {
			runAsNobody(t, dir)
			return
		}
	}
	mt := newMemTracker("k")
	a := startAgent(t, Config{ChannelTrackers: []ChannelTracker{mt}, Trackers: []string{"http://127.0.0.1:1/announce"}})
	for _, p := range []string{"secret.bin", "tree"} {
		body, _ := json.Marshal(PublishRequest{Path: filepath.Join(dir, p), Key: "k"})
		var eb ErrorBody
		if code := call(t, "POST", a.api+"/v1/channels/build/releases", "", body, &eb); code != 400 || !strings.Contains(eb.Error, "permission denied") {
			t.Errorf("publish of unreadable %s: %d %q, want 400 naming the permission", p, code, eb.Error)
		}
		body, _ = json.Marshal(AddRequest{Path: filepath.Join(dir, p)})
		if code := call(t, "POST", a.api+"/v1/torrents", "", body, &eb); code != 400 || !strings.Contains(eb.Error, "permission denied") {
			t.Errorf("seed of unreadable %s: %d %q, want 400 naming the permission", p, code, eb.Error)
		}
	}
	if ts := a.Torrents(); len(ts) != 0 {
		t.Errorf("torrents after refused requests: %+v", ts)
	}
	if ents, _ := os.ReadDir(filepath.Join(a.Dir(), "content")); len(ents) != 0 {
		t.Errorf("%d entries left in the content folder", len(ents))
	}
}

// runAsNobody runs the calling test again in a copy of the test binary as
// uid/gid 65534, with dir prepared.
func runAsNobody(t *testing.T, dir string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "agent.test")
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(out, in)
	in.Close()
	out.Close()
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "SHOAL_TEST_UNREADABLE_DIR="+dir, "HOME=/tmp", "TMPDIR=/tmp")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "--- PASS: "+t.Name()) {
		t.Fatalf("as nobody: %v\n%s", err, b)
	}
}
