package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-p2p/shoal/metainfo"
)

// TestReadOnlyStore: the store's filesystem turning read-only (an ext4
// error remount, an operator's mistake) makes an add fail with 507 saying
// so and leaves the agent running; once writable again, adds work. A start
// on a read-only folder is a clear error. Needs root for tmpfs mounts.
func TestReadOnlyStore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mount := func(dir string, opts ...string) {
		os.MkdirAll(dir, 0o755)
		args := []string{"-t", "tmpfs", "-o", strings.Join(append([]string{"size=8m"}, opts...), ","),
			fmt.Sprintf("shoal-ro-%d", os.Getpid()), dir}
		if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
			t.Skipf("mount tmpfs: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	}
	remount := func(dir, mode string) {
		if out, err := exec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
			t.Fatalf("remount %s: %v %s", mode, err, out)
		}
	}
	// The content folder is its own filesystem (nothing open in it, so
	// it can be remounted read-only under the running agent).
	dir := t.TempDir()
	content := filepath.Join(dir, "content")
	mount(content)
	a := startAgent(t, Config{Dir: dir})
	remount(content, "ro")
	src := filepath.Join(t.TempDir(), "new.bin")
	writeRandom(t, src, 64<<10, 96)
	mi, _ := metainfo.Create(src, metainfo.CreateOptions{})
	tb, _ := mi.Marshal()
	var eb ErrorBody
	if code := call(t, "POST", a.api+"/v1/torrents", "", tb, &eb); code != 507 || !strings.Contains(eb.Error, "read-only") {
		t.Fatalf("add on a read-only store: %d %q, want 507 saying read-only", code, eb.Error)
	}
	if _, ok := a.Torrent(mi.InfoHash); ok {
		t.Fatal("the refused torrent is listed")
	}
	if code := call(t, "GET", a.api+"/healthz", "", nil, nil); code != 200 {
		t.Fatalf("healthz after the refusal: %d", code)
	}
	remount(content, "rw")
	if code := call(t, "POST", a.api+"/v1/torrents", "", tb, &eb); code != 201 {
		t.Fatalf("add once writable again: %d %q", code, eb.Error)
	}

	ro := filepath.Join(t.TempDir(), "ro")
	mount(ro, "ro")
	if _, err := New(Config{Dir: filepath.Join(ro, "data"), ListenAddr: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("start on a read-only folder: %v, want an error saying read-only", err)
	}
}

// TestPublishOntoAFullStore: a publish whose copy into the store runs out
// of space midway is 507 naming the full disk, leaves no partial copy
// behind, and the store keeps working. Needs root for a tmpfs.
func TestPublishOntoAFullStore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "small")
	os.MkdirAll(dir, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", fmt.Sprintf("shoal-full-%d", os.Getpid()), dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	mt := newMemTracker("k")
	a := startAgent(t, Config{Dir: filepath.Join(dir, "data"), ChannelTrackers: []ChannelTracker{mt}, Trackers: []string{"http://127.0.0.1:1/announce"}})
	big := filepath.Join(t.TempDir(), "big.bin")
	writeRandom(t, big, 8<<20, 5)
	body := []byte(fmt.Sprintf(`{"path": %q, "key": "k"}`, big))
	var eb ErrorBody
	if code := call(t, "POST", a.api+"/v1/channels/build/releases", "", body, &eb); code != 507 || !strings.Contains(eb.Error, "disk full") {
		t.Fatalf("publish onto a full store: %d %q, want 507 naming the full disk", code, eb.Error)
	}
	if ents, _ := os.ReadDir(filepath.Join(a.Dir(), "content")); len(ents) != 0 {
		t.Fatalf("%d entries left in the content folder (a partial copy)", len(ents))
	}
	small := filepath.Join(t.TempDir(), "small.bin")
	writeRandom(t, small, 1<<20, 6)
	body = []byte(fmt.Sprintf(`{"path": %q, "key": "k"}`, small))
	if code := call(t, "POST", a.api+"/v1/channels/build/releases", "", body, &eb); code != 201 {
		t.Fatalf("publish that fits, after the full one: %d %q", code, eb.Error)
	}
}
