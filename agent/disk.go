package agent

import (
	"crypto/sha1"
	"fmt"
	"syscall"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
)

// statDisk reports the size and use of the filesystem holding dir.
func statDisk(dir string) (Disk, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Disk{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	bs := int64(st.Bsize)
	return Disk{Total: int64(st.Blocks) * bs, Used: int64(st.Blocks-st.Bfree) * bs}, nil
}

// gcLoop applies the disk watermarks and the channels' keep bound every
// GCEvery and whenever something completed.
func (a *Agent) gcLoop() {
	defer a.wg.Done()
	tick := time.NewTicker(a.cfg.GCEvery)
	defer tick.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-tick.C:
		case <-a.gcKick:
		}
		a.collect(0, "")
	}
}

// kickGC asks gcLoop for a pass soon.
func (a *Agent) kickGC() {
	select {
	case a.gcKick <- struct{}{}:
	default:
	}
}

// makeRoom runs the collector as if need more bytes were already used,
// before a torrent of that size is added (except the one being added).
func (a *Agent) makeRoom(need int64, adding string) { a.collect(need, adding) }

// collect deletes the oldest collectable content while the disk (plus
// need bytes about to be written) is above the high watermark, until it is
// at or below the low one.
func (a *Agent) collect(need int64, adding string) {
	d, err := a.cfg.Disk()
	if err != nil {
		a.log.Warn("disk watermarks", "err", err)
		return
	}
	d.Used += need
	a.mu.Lock()
	cs := make([]Content, 0, len(a.entries))
	for ih, e := range a.entries {
		id := ih.String()
		if id == adding {
			continue
		}
		cs = append(cs, Content{
			ID: id, Size: e.rec.Size, Order: e.rec.Order, Added: e.rec.Added, Pinned: e.rec.Pinned,
			Current: a.isCurrentLocked(e.rec.Channel, id),
			Busy:    e.readers > 0 || e.busy || (!e.isComplete() && e.rec.Channel != ""),
			Local:   e.local(),
		})
	}
	a.mu.Unlock()
	ev := ChooseEvictions(cs, d, a.cfg.DiskHigh, a.cfg.DiskLow)
	for _, id := range ev.IDs {
		ih, _ := metainfo.ParseInfoHash(id)
		if err := a.remove(ih, "disk-watermark", true); err != nil {
			a.log.Error("disk watermark: delete", "infohash", id, "err", err)
		}
	}
	if len(ev.IDs) > 0 || ev.Short {
		a.log.Warn("disk above high watermark", "used", formatSize(d.Used), "total", formatSize(d.Total),
			"deleted", len(ev.IDs), "still_above_low", ev.Short)
	}
	a.trimChannels()
}

// formatSize renders bytes with a binary unit.
func formatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func sha1Sum(b []byte) [20]byte { return sha1.Sum(b) }

// sampleLoop measures each torrent's rates once a second.
func (a *Agent) sampleLoop() {
	defer a.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-a.ctx.Done():
			return
		case now := <-tick.C:
			dt := now.Sub(last).Seconds()
			last = now
			a.mu.Lock()
			for _, e := range a.entries {
				if e.t == nil || dt <= 0 {
					continue
				}
				st := e.t.Stats()
				e.downRate = ewma(e.downRate, float64(st.Downloaded-e.lastDown)/dt)
				e.upRate = ewma(e.upRate, float64(st.Uploaded-e.lastUp)/dt)
				e.lastDown, e.lastUp = st.Downloaded, st.Uploaded
			}
			a.mu.Unlock()
		}
	}
}

// ewma smooths a rate over a few seconds, following a drop to zero fast.
func ewma(old, inst float64) float64 {
	if inst == 0 && old < 1024 {
		return 0
	}
	return 0.5*old + 0.5*inst
}
