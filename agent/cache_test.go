package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of a file in the page cache (mincore).
func resident(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestSupersededReleaseLeavesThePageCache: once a channel switched to a
// newer release, the older one's pages are dropped from the page cache
// (it stays on disk and is still served), so the cache does not grow by a
// release each time.
func TestSupersededReleaseLeavesThePageCache(t *testing.T) {
	r := newChannelRig(t, Config{Keep: 3})
	r.publish(1)
	ih1, _ := r.releaseIH(1)
	old := filepath.Join(r.sub.contentDir(ih1), "rel", "a")
	if resident(t, old) == 0 {
		t.Skip("release 1 is not in the page cache right after its download (a filesystem without one?)")
	}
	r.publish(2)
	ih2, _ := r.releaseIH(2)
	// The drop follows the switch that publish waited for; under load it
	// may come a moment after the channel reports the new release.
	waitUntil(t, 10*time.Second, "release 1's pages to leave the page cache after the switch to release 2", func() bool {
		return resident(t, old) == 0
	})
	if resident(t, filepath.Join(r.sub.contentDir(ih2), "rel", "a")) == 0 {
		t.Fatal("the current release's pages were dropped too")
	}
	if _, ok := r.releaseIH(1); !ok {
		t.Fatal("release 1 left the store (keep 3)")
	}
}
