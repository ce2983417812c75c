package fleet

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// releaseSize is the size of each release in the fleet tests.
const releaseSize = 32 << 20

// writeRelease writes release k's content to work/vK/build.bin.
func writeRelease(t testing.TB, work string, k int, size int64) string {
	t.Helper()
	p := filepath.Join(work, fmt.Sprintf("v%d", k), "build.bin")
	harness.WriteRandomFile(t, p, size, uint64(1000+k))
	return p
}

// TestFleetThreeReleases: a tracker, an origin agent and 10 agents
// subscribed to one channel, as separate processes; 3 releases of 32 MiB
// published one after another. Every agent ends with the 3rd as current,
// byte-identical, at most --keep releases on disk, and its hook ran once
// per release.
func TestFleetThreeReleases(t *testing.T) {
	if testing.Short() {
		t.Skip("12 processes moving 3 x 32 MiB; skipped with -short")
	}
	ctx := harness.Context(t, 4*time.Minute)
	work := t.TempDir()
	_, announce := startTracker(ctx, t, "tracker", 0)
	origin := startAgent(ctx, t, "origin", filepath.Join(work, "origin"), []string{announce}, "--keep", "2")
	var agents []*agentProc
	for i := range 10 {
		name := fmt.Sprintf("agent%02d", i)
		agents = append(agents, startAgent(ctx, t, name, filepath.Join(work, name), []string{announce},
			"--subscribe", "build", "--keep", "2"))
	}
	var last string
	for k := 1; k <= 3; k++ {
		last = writeRelease(t, work, k, releaseSize)
		start := time.Now()
		if seq := publish(ctx, t, origin, last); seq != uint64(k) {
			t.Fatalf("publish %d: got release %d", k, seq)
		}
		waitCurrent(ctx, t, agents, uint64(k))
		t.Logf("release %d reached 10 agents in %.2fs", k, time.Since(start).Seconds())
	}
	for _, a := range agents {
		checkAgent(ctx, t, a, 3, last, 2, []uint64{1, 2, 3})
		cs, _ := a.channelStatus(ctx)
		if len(cs.Have) > 2 {
			t.Errorf("%s holds releases %v, --keep 2", a.name, cs.Have)
		}
	}
	waitFor(ctx, t, "origin to drop releases beyond --keep 2", func() bool { return storedReleases(t, origin.dir) <= 2 })
}

// TestFleetTwoTrackersOnRedis: the same with two trackers sharing one real
// redis-server, the agents split between them (the origin publishes
// through the first).
func TestFleetTwoTrackersOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("13 processes; skipped with -short")
	}
	redis := harness.NeedProgram(t, "redis-server", "redis-server")
	ctx := harness.Context(t, 4*time.Minute)
	work := t.TempDir()
	port := freePort(t)
	rp := harness.Start(ctx, t, "redis-server", redis, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", t.TempDir())
	rp.WaitFor(ctx, rp.Stdout(), "redis ready", func(s string) bool { return strings.Contains(s, "Ready to accept connections") })
	store := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	_, trackerA := startTracker(ctx, t, "tracker-A", 0, "--store", store)
	_, trackerB := startTracker(ctx, t, "tracker-B", 0, "--store", store)
	origin := startAgent(ctx, t, "origin", filepath.Join(work, "origin"), []string{trackerA}, "--keep", "2")
	var agents []*agentProc
	for i := range 10 {
		name := fmt.Sprintf("agent%02d", i)
		tr := trackerA
		if i%2 == 1 {
			tr = trackerB
		}
		agents = append(agents, startAgent(ctx, t, name, filepath.Join(work, name), []string{tr},
			"--subscribe", "build", "--keep", "2"))
	}
	var last string
	for k := 1; k <= 3; k++ {
		last = writeRelease(t, work, k, 8<<20)
		publish(ctx, t, origin, last)
		waitCurrent(ctx, t, agents, uint64(k))
	}
	for _, a := range agents {
		checkAgent(ctx, t, a, 3, last, 2, []uint64{1, 2, 3})
	}
}

// TestFleetAgentKilledMidRelease: an agent killed with SIGKILL in the
// middle of a release, restarted on the same data folder, keeps the pieces
// it had verified, fetches only the others, and ends on the latest release.
func TestFleetAgentKilledMidRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("rate-limited 32 MiB release; skipped with -short")
	}
	ctx := harness.Context(t, 3*time.Minute)
	work := t.TempDir()
	_, announce := startTracker(ctx, t, "tracker", 0)
	origin := startAgent(ctx, t, "origin", filepath.Join(work, "origin"), []string{announce})
	dir := filepath.Join(work, "victim")
	victim := startAgent(ctx, t, "victim", dir, []string{announce}, "--subscribe", "build", "--down-limit", "6MB", "--checkpoint-every", "300ms")
	v1 := writeRelease(t, work, 1, releaseSize)
	publish(ctx, t, origin, v1, "--piece-length", "262144")
	var before int
	waitFor(ctx, t, "victim at 30%", func() bool {
		st, ok := victim.releaseTorrent(ctx, 1)
		before = st.HavePieces
		return ok && st.Progress >= 0.3
	})
	if err := victim.p.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the agent with %d pieces verified", before)
	victim = startAgent(ctx, t, "victim-2", dir, []string{announce}, "--subscribe", "build")
	waitCurrent(ctx, t, []*agentProc{victim}, 1)
	st, _ := victim.releaseTorrent(ctx, 1)
	if st.HadAtStart < before {
		t.Errorf("restarted with %d pieces verified on disk, had %d before the kill", st.HadAtStart, before)
	}
	// Only what the last checkpoint recorded is trusted; everything else
	// on disk (verified after it, or in flight) is hashed again.
	if st.TrustedAtStart == 0 || st.TrustedAtStart > before || st.TrustedAtStart+st.HashedAtStart > st.Pieces {
		t.Errorf("restart trusted %d pieces and hashed %d of %d (%d verified before the kill): want 0 < trusted <= %d, trusted+hashed <= pieces",
			st.TrustedAtStart, st.HashedAtStart, st.Pieces, before, before)
	}
	if st.VerifiedPieces != st.Pieces-st.HadAtStart {
		t.Errorf("restarted agent verified %d pieces, want only the %d it lacked (%d of %d on disk)",
			st.VerifiedPieces, st.Pieces-st.HadAtStart, st.HadAtStart, st.Pieces)
	}
	t.Logf("resumed: %d of %d pieces on disk (%d trusted from the index, %d hashed), fetched %d",
		st.HadAtStart, st.Pieces, st.TrustedAtStart, st.HashedAtStart, st.VerifiedPieces)
	v2 := writeRelease(t, work, 2, 4<<20)
	publish(ctx, t, origin, v2)
	waitCurrent(ctx, t, []*agentProc{victim}, 2)
	checkAgent(ctx, t, victim, 2, v2, 3, []uint64{1, 2})
}

// TestFleetTrackerRestartMidRelease: the tracker (memory store) is killed
// while a release spreads and started again on the same port; the origin
// registers its release again, and the release reaches every agent,
// including agents that start only after the restart.
func TestFleetTrackerRestartMidRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("rate-limited release; skipped with -short")
	}
	ctx := harness.Context(t, 3*time.Minute)
	work := t.TempDir()
	port := freePort(t)
	tr, announce := startTracker(ctx, t, "tracker", port, "--interval", "5s")
	origin := startAgent(ctx, t, "origin", filepath.Join(work, "origin"), []string{announce})
	var agents []*agentProc
	for i := range 4 {
		name := fmt.Sprintf("early%d", i)
		agents = append(agents, startAgent(ctx, t, name, filepath.Join(work, name), []string{announce},
			"--subscribe", "build", "--down-limit", "8MB"))
	}
	v1 := writeRelease(t, work, 1, releaseSize)
	publish(ctx, t, origin, v1)
	waitFor(ctx, t, "an agent at 20%", func() bool {
		st, ok := agents[0].releaseTorrent(ctx, 1)
		return ok && st.Progress >= 0.2
	})
	if err := tr.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	_, again := startTracker(ctx, t, "tracker-2", port, "--interval", "5s")
	if again != announce {
		t.Fatalf("restarted tracker on %s, want %s", again, announce)
	}
	waitFor(ctx, t, "origin re-registers release 1", func() bool {
		rels, err := trackerReleases(ctx, announce)
		return err == nil && len(rels) > 0 && rels[len(rels)-1].Seq == 1
	})
	for i := range 2 {
		name := fmt.Sprintf("late%d", i)
		agents = append(agents, startAgent(ctx, t, name, filepath.Join(work, name), []string{announce}, "--subscribe", "build"))
	}
	waitCurrent(ctx, t, agents, 1)
	for _, a := range agents {
		checkAgent(ctx, t, a, 1, v1, 3, []uint64{1})
	}
}
