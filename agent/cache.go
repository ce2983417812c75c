package agent

import (
	"os"

	"github.com/shoal-p2p/shoal/metainfo"
	"golang.org/x/sys/unix"
)

// Page cache of superseded releases. Once a channel switched to a newer
// release, the older ones are only seeded to stragglers: their pages are
// dropped from the page cache (POSIX_FADV_DONTNEED; they are clean, synced
// at completion), so the memory they held is reused for the next release
// instead of the page cache growing by a release each time. Measured here
// (docs/BENCHMARKS.md): writing into a page cache that keeps growing costs
// about ten times the system CPU per byte of writing into memory freed
// before (a VM whose guest memory is backed lazily pays a host fault per
// new page), which made each later release of the fleet benchmark slower.
// Reads of a dropped release come from disk, as after any eviction.

// dropCache advises the kernel that the files' cached pages are not needed.
// Errors are ignored: it is advice.
func dropCache(paths []string) {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
	}
}

// dropSuperseded drops the page cache of the releases of channel ch older
// than current (the store's copies only: never the user's own files).
func (a *Agent) dropSuperseded(ch string, current uint64) {
	a.mu.Lock()
	var recs []torrentRecord
	for _, e := range a.entries {
		if e.rec.Channel == ch && e.rec.Seq < current && !e.local() && e.isComplete() && len(e.rec.Info) > 0 {
			recs = append(recs, e.rec)
		}
	}
	a.mu.Unlock()
	for _, rec := range recs {
		info, err := metainfo.ParseInfo(rec.Info)
		if err != nil {
			continue
		}
		if paths, _, err := a.filePaths(rec, info); err == nil {
			dropCache(paths)
		}
	}
}
