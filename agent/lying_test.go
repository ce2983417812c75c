package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/metainfo"
)

// lyingTracker is a memTracker whose answers a test may replace.
type lyingTracker struct {
	*memTracker
	nexts atomic.Int64
	infos atomic.Int64
	mu    sync.Mutex
	next  func(after uint64) (channel.Release, bool, error)
	info  func(seq uint64) ([]byte, bool)
	// gate, if set, holds Releases and Next until it is closed.
	gate chan struct{}
}

func (l *lyingTracker) Releases(ctx context.Context, ch string) ([]channel.Release, error) {
	if l.gate != nil {
		select {
		case <-l.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return l.memTracker.Releases(ctx, ch)
}

func (l *lyingTracker) Next(ctx context.Context, ch string, after uint64) (channel.Release, bool, error) {
	l.nexts.Add(1)
	if l.gate != nil {
		select {
		case <-l.gate:
		case <-ctx.Done():
			return channel.Release{}, false, ctx.Err()
		}
	}
	l.mu.Lock()
	f := l.next
	l.mu.Unlock()
	if f != nil {
		return f(after)
	}
	return l.memTracker.Next(ctx, ch, after)
}

func (l *lyingTracker) Info(ctx context.Context, ch string, seq uint64, want metainfo.InfoHash) ([]byte, error) {
	l.infos.Add(1)
	l.mu.Lock()
	f := l.info
	l.mu.Unlock()
	if f != nil {
		if b, ok := f(seq); ok {
			return b, nil // no hash check: the lie reaches the agent
		}
	}
	return l.memTracker.Info(ctx, ch, seq, want)
}

// TestTrackerAnsweringStaleReleases: a tracker whose long poll answers at
// once with a release that is not newer than asked (a seq going backwards,
// another channel's release) does not make the agent spin: it backs off as
// from an error, and says why.
func TestTrackerAnsweringStaleReleases(t *testing.T) {
	for _, c := range []struct {
		name string
		rel  channel.Release
	}{
		{"seq backwards", channel.Release{Channel: "build", Seq: 1, InfoHash: strings.Repeat("ab", 20)}},
		{"other channel", channel.Release{Channel: "other", Seq: 99, InfoHash: strings.Repeat("ab", 20)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			lt := &lyingTracker{memTracker: newMemTracker("k")}
			// Release 5 exists (nobody seeds it: its fetch waits quietly),
			// so polls ask for releases after 5.
			src := filepath.Join(t.TempDir(), "r5.bin")
			writeRandom(t, src, 32<<10, 30)
			mi, err := metainfo.Create(src, metainfo.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lt.Publish(context.Background(), "build", "k", mi.InfoBytes, 5); err != nil {
				t.Fatal(err)
			}
			lt.next = func(after uint64) (channel.Release, bool, error) { return c.rel, true, nil }
			a := startAgent(t, Config{ChannelTrackers: []ChannelTracker{lt}, Trackers: []string{"http://127.0.0.1:1/announce"}})
			if _, err := a.Subscribe("build", nil); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 10*time.Second, "the lie reported in the channel's status", func() bool {
				st, _ := a.Channel("build")
				return strings.Contains(st.Error, "not newer")
			})
			n0 := lt.nexts.Load()
			time.Sleep(1500 * time.Millisecond) // a window to count polls in, not a wait for a condition
			if n := lt.nexts.Load() - n0; n > 3 {
				t.Fatalf("%d long polls in 1.5 s to a tracker answering stale releases: want a backoff (at most 3)", n)
			}
		})
	}
}

// TestTrackerServingAWrongInfoDict: a release whose info dictionary does
// not hash to its info hash is never added; the channel says so, and the
// agent asks again with a backoff.
func TestTrackerServingAWrongInfoDict(t *testing.T) {
	lt := &lyingTracker{memTracker: newMemTracker("k")}
	src := filepath.Join(t.TempDir(), "real.bin")
	writeRandom(t, src, 64<<10, 31)
	real, err := metainfo.Create(src, metainfo.CreateOptions{PieceLength: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lt.Publish(context.Background(), "build", "k", real.InfoBytes, 0); err != nil {
		t.Fatal(err)
	}
	writeRandom(t, src, 64<<10, 32)
	other, _ := metainfo.Create(src, metainfo.CreateOptions{PieceLength: 16 << 10})
	lt.info = func(seq uint64) ([]byte, bool) { return other.InfoBytes, true }
	a := startAgent(t, Config{ChannelTrackers: []ChannelTracker{lt}, Trackers: []string{"http://127.0.0.1:1/announce"}, Subscribe: []string{"build"}})
	waitUntil(t, 10*time.Second, "the mismatch in the channel's status", func() bool {
		st, _ := a.Channel("build")
		return strings.Contains(st.Error, "does not match")
	})
	for _, ts := range a.Torrents() {
		t.Fatalf("agent added %s (%s) from a lying info dictionary", ts.Name, ts.InfoHash)
	}
	n0 := lt.infos.Load()
	time.Sleep(1500 * time.Millisecond) // a window to count requests in
	if n := lt.infos.Load() - n0; n > 2 {
		t.Fatalf("%d info requests in 1.5 s: want a backoff", n)
	}
}

// TestRepublishedOldContentBecomesCurrent: an operator rolls back by
// publishing an earlier build again as a new release (same info hash,
// higher seq). Agents holding it switch to it at once, without fetching
// anything, and run the hook for the new seq.
func TestRepublishedOldContentBecomesCurrent(t *testing.T) {
	announce := testTracker(t)
	mt := newMemTracker("k")
	work := t.TempDir()
	origin := startAgent(t, Config{Name: "origin", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt}})
	hookLog := filepath.Join(work, "hooks")
	sub := startAgent(t, Config{Name: "sub", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt},
		Subscribe: []string{"build"}, OnComplete: `echo "$SHOAL_SEQ" >> ` + hookLog})
	ctx := context.Background()
	v1 := filepath.Join(work, "v1", "build.bin")
	v2 := filepath.Join(work, "v2", "build.bin")
	d1 := writeRandom(t, v1, 200<<10, 41)
	writeRandom(t, v2, 200<<10, 42)
	for k, p := range []string{v1, v2, v1} {
		rel, err := origin.Publish(ctx, "build", PublishRequest{Path: p, Key: "k", PieceLength: 16 << 10})
		if err != nil || rel.Seq != uint64(k+1) {
			t.Fatalf("publish %d: %+v %v", k+1, rel, err)
		}
		for _, a := range []*testAgent{origin, sub} {
			waitUntil(t, 30*time.Second, a.cfg.Name+" on the release", func() bool {
				st, _ := a.Channel("build")
				return st.Current == uint64(k+1) && len(st.Fetching) == 0
			})
		}
	}
	got, err := readCurrent(sub.Agent, "build", "build.bin")
	if err != nil || !bytes.Equal(got, d1) {
		t.Fatalf("current after the rollback is not build 1: %v", err)
	}
	for _, a := range []*testAgent{origin, sub} {
		st, _ := a.Channel("build")
		if st.Current != 3 || st.Error != "" {
			t.Fatalf("%s channel after the rollback: %+v", a.cfg.Name, st)
		}
	}
	waitUntil(t, 10*time.Second, "hooks of 1, 2, 3", func() bool {
		b, _ := readFile(hookLog)
		return b == "1\n2\n3\n"
	})
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

// TestSameContentInTwoChannels: one build published to two channels is
// held once, as the release of the first channel that got it; the other
// channel says why it cannot have it instead of switching to nothing.
func TestSameContentInTwoChannels(t *testing.T) {
	announce := testTracker(t)
	mt := newMemTracker("k")
	origin := startAgent(t, Config{Name: "origin", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt}})
	sub := startAgent(t, Config{Name: "sub", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt}, Subscribe: []string{"a"}})
	src := filepath.Join(t.TempDir(), "same.bin")
	writeRandom(t, src, 64<<10, 99)
	ctx := context.Background()
	if _, err := origin.Publish(ctx, "a", PublishRequest{Path: src, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "channel a current", func() bool { st, _ := sub.Channel("a"); return st.Current == 1 })
	// The origin's store holds it as release 1 of a: publishing it to b
	// is the same conflict on the origin's side.
	if _, err := mt.Publish(ctx, "b", "k", mustInfo(t, origin.Agent, "a"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe("b", nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "channel b's error", func() bool {
		st, _ := sub.Channel("b")
		return strings.Contains(st.Error, `same content`) && strings.Contains(st.Error, `channel "a"`)
	})
	if st, _ := sub.Channel("a"); st.Current != 1 || st.Error != "" {
		t.Fatalf("channel a disturbed: %+v", st)
	}
}

// mustInfo is the info dictionary of channel ch's current release in a's store.
func mustInfo(t *testing.T, a *Agent, ch string) []byte {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.entries {
		if e.rec.Channel == ch {
			return e.rec.Info
		}
	}
	t.Fatalf("no release of %s", ch)
	return nil
}

// TestTrackersDisagreeingOnARelease: two trackers give release 1 different
// info hashes (a flap, or one restarted with other state). The agent keeps
// the first it heard of, says so, fetches and switches to it, and does not
// start over on the other.
func TestTrackersDisagreeingOnARelease(t *testing.T) {
	announce := testTracker(t)
	x, y := &lyingTracker{memTracker: newMemTracker("k")}, &lyingTracker{memTracker: newMemTracker("k")}
	origin := startAgent(t, Config{Name: "origin", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{x}})
	src := filepath.Join(t.TempDir(), "v.bin")
	good := writeRandom(t, src, 64<<10, 97)
	if _, err := origin.Publish(context.Background(), "build", PublishRequest{Path: src, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	writeRandom(t, src, 64<<10, 98)
	other, _ := metainfo.Create(src, metainfo.CreateOptions{})
	if _, err := y.Publish(context.Background(), "build", "k", other.InfoBytes, 1); err != nil {
		t.Fatal(err)
	}
	// y answers only after x was heard.
	gate := make(chan struct{})
	y.gate = gate
	sub := startAgent(t, Config{Name: "sub", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{x, y}, Subscribe: []string{"build"}})
	waitUntil(t, 30*time.Second, "release 1 from x current", func() bool { st, _ := sub.Channel("build"); return st.Current == 1 })
	close(gate)
	waitUntil(t, 10*time.Second, "the disagreement reported", func() bool {
		st, _ := sub.Channel("build")
		return strings.Contains(st.Error, "when first heard of")
	})
	got, err := readCurrent(sub.Agent, "build", "v.bin")
	if err != nil || !bytes.Equal(got, good) {
		t.Fatalf("current is not x's release 1: %v", err)
	}
	if n := len(sub.Torrents()); n != 1 {
		t.Fatalf("%d torrents: the other hash was fetched too", n)
	}
}

// TestTrackerServingAHugeInfoDict: an info dictionary over
// channel.MaxInfoSize is refused before it is hashed or parsed.
func TestTrackerServingAHugeInfoDict(t *testing.T) {
	lt := &lyingTracker{memTracker: newMemTracker("k")}
	src := filepath.Join(t.TempDir(), "r.bin")
	writeRandom(t, src, 64<<10, 33)
	mi, _ := metainfo.Create(src, metainfo.CreateOptions{})
	if _, err := lt.Publish(context.Background(), "build", "k", mi.InfoBytes, 0); err != nil {
		t.Fatal(err)
	}
	huge := make([]byte, channel.MaxInfoSize+1)
	lt.info = func(seq uint64) ([]byte, bool) { return huge, true }
	a := startAgent(t, Config{ChannelTrackers: []ChannelTracker{lt}, Trackers: []string{"http://127.0.0.1:1/announce"}, Subscribe: []string{"build"}})
	waitUntil(t, 10*time.Second, "the size refused in the channel's status", func() bool {
		st, _ := a.Channel("build")
		return strings.Contains(st.Error, "limit")
	})
	if n := len(a.Torrents()); n != 0 {
		t.Fatalf("%d torrents from a huge info dictionary", n)
	}
}
