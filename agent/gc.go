package agent

import (
	"cmp"
	"slices"
	"time"
)

// Content is what the disk-watermark collector knows about one torrent in
// the store.
type Content struct {
	// ID names the content (its info hash in the store).
	ID string
	// Size is the bytes it holds on disk.
	Size int64
	// Order and then Added order candidates: the lowest goes first.
	// Order is a counter, immune to clock jumps; Added (wall clock) only
	// breaks ties among content recorded before Order existed (0).
	Order uint64
	Added time.Time
	// Pinned content is never collected.
	Pinned bool
	// Current marks the current release of a subscribed channel.
	Current bool
	// Busy marks content in use: being read through the API, or being
	// fetched.
	Busy bool
	// Local content is the user's own files seeded in place; deleting
	// them is never ours to do.
	Local bool
}

// Disk is a filesystem's size and use in bytes.
type Disk struct {
	Total, Used int64
}

// Fraction is the used share of the disk, 0 for an unknown size.
func (d Disk) Fraction() float64 {
	if d.Total <= 0 {
		return 0
	}
	return float64(d.Used) / float64(d.Total)
}

// Evictions is what ChooseEvictions decided.
type Evictions struct {
	// IDs are the content to delete, oldest first.
	IDs []string
	// Short is set when deleting every candidate still leaves the disk
	// above the low watermark: what remains is pinned, current, in use or
	// not ours.
	Short bool
}

// ChooseEvictions applies the disk watermarks: when the disk is used above
// high (a fraction, e.g. 0.9), it picks the oldest collectable content until
// the projected use is at or below low (e.g. 0.8). Content that is pinned,
// the current release of a channel, busy or local is never picked. Below
// high it picks nothing, so the collector does not churn between the marks.
func ChooseEvictions(cs []Content, d Disk, high, low float64) Evictions {
	if d.Total <= 0 || d.Fraction() <= high {
		return Evictions{}
	}
	target := int64(low * float64(d.Total))
	cands := make([]Content, 0, len(cs))
	for _, c := range cs {
		if !c.Pinned && !c.Current && !c.Busy && !c.Local {
			cands = append(cands, c)
		}
	}
	slices.SortStableFunc(cands, func(a, b Content) int {
		if c := cmp.Compare(a.Order, b.Order); c != 0 {
			return c
		}
		if c := a.Added.Compare(b.Added); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	var ev Evictions
	used := d.Used
	for _, c := range cands {
		if used <= target {
			break
		}
		ev.IDs = append(ev.IDs, c.ID)
		used -= c.Size
	}
	ev.Short = used > target
	return ev
}
