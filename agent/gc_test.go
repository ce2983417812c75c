package agent

import (
	"slices"
	"testing"
	"time"
)

func TestChooseEvictions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	store := []Content{
		{ID: "new", Size: 10, Added: at(5)},
		{ID: "old", Size: 10, Added: at(1)},
		{ID: "pinned", Size: 10, Added: at(0), Pinned: true},
		{ID: "current", Size: 10, Added: at(0), Current: true},
		{ID: "read", Size: 10, Added: at(0), Busy: true},
		{ID: "local", Size: 10, Added: at(0), Local: true},
		{ID: "mid", Size: 10, Added: at(3)},
	}
	tests := []struct {
		name      string
		disk      Disk
		want      []string
		wantShort bool
	}{
		{"below high: nothing", Disk{Total: 100, Used: 90}, nil, false},
		{"above high: oldest until below low", Disk{Total: 100, Used: 91}, []string{"old", "mid"}, false},
		{"exactly to low", Disk{Total: 100, Used: 95}, []string{"old", "mid"}, false},
		{"needs all candidates", Disk{Total: 100, Used: 100}, []string{"old", "mid"}, false},
		{"cannot reach low", Disk{Total: 100, Used: 120}, []string{"old", "mid", "new"}, true},
		{"unknown disk size", Disk{Total: 0, Used: 120}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := ChooseEvictions(store, tc.disk, 0.9, 0.8)
			if !slices.Equal(ev.IDs, tc.want) || ev.Short != tc.wantShort {
				t.Errorf("ChooseEvictions(used %d of %d) = %v short=%v, want %v short=%v",
					tc.disk.Used, tc.disk.Total, ev.IDs, ev.Short, tc.want, tc.wantShort)
			}
		})
	}
}

func TestChooseEvictionsNeverProtected(t *testing.T) {
	// Whatever the disk says, protected content is never picked.
	cs := []Content{
		{ID: "p", Size: 50, Pinned: true},
		{ID: "c", Size: 50, Current: true},
		{ID: "b", Size: 50, Busy: true},
		{ID: "l", Size: 50, Local: true},
	}
	ev := ChooseEvictions(cs, Disk{Total: 100, Used: 100}, 0.5, 0.1)
	if len(ev.IDs) != 0 || !ev.Short {
		t.Fatalf("got %v short=%v, want nothing and short", ev.IDs, ev.Short)
	}
}
