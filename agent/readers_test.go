package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// channelRig is an origin and one subscriber on an in-memory channel
// tracker, publishing folders of two files.
type channelRig struct {
	t           *testing.T
	origin, sub *testAgent
	work        string
}

func newChannelRig(t *testing.T, subCfg Config) *channelRig {
	announce := testTracker(t)
	mt := newMemTracker("k")
	r := &channelRig{t: t, work: t.TempDir()}
	r.origin = startAgent(t, Config{Name: "origin", Trackers: []string{announce}, ChannelTrackers: []ChannelTracker{mt}})
	subCfg.Name, subCfg.Trackers, subCfg.ChannelTrackers = "sub", []string{announce}, []ChannelTracker{mt}
	subCfg.Subscribe = []string{"build"}
	r.sub = startAgent(t, subCfg)
	return r
}

// publish publishes release k (files a and b under rel/) and waits until
// the subscriber made it current; it returns the files' contents.
func (r *channelRig) publish(k int) (a, b []byte) {
	t := r.t
	src := filepath.Join(r.work, fmt.Sprint(k), "rel")
	a = writeRandom(t, filepath.Join(src, "a"), 40<<10, uint64(70+k))
	b = writeRandom(t, filepath.Join(src, "b"), 40<<10, uint64(80+k))
	if _, err := r.origin.Publish(context.Background(), "build", PublishRequest{Path: src, Key: "k", PieceLength: 16 << 10}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, fmt.Sprintf("subscriber on release %d", k), func() bool {
		st, _ := r.sub.Channel("build")
		return st.Current == uint64(k)
	})
	return a, b
}

func (r *channelRig) releaseIH(seq uint64) (string, bool) {
	ih, ok := r.sub.releaseHash("build", seq)
	return ih.String(), ok
}

// TestReadersOfTheOldReleaseAfterASwitch: with --keep 1, a reader that
// holds the old `current` (a file open, or the folder as its working
// directory) keeps reading the old release intact after the switch: the
// previous release outlives the switch by SwitchGrace before keep removes
// it.
func TestReadersOfTheOldReleaseAfterASwitch(t *testing.T) {
	const grace = 1500 * time.Millisecond
	r := newChannelRig(t, Config{Keep: 1, SwitchGrace: grace, GCEvery: 50 * time.Millisecond})
	a1, b1 := r.publish(1)
	cur := filepath.Join(r.sub.Dir(), "channels", "build", "current", "rel")
	fa, err := os.Open(filepath.Join(cur, "a")) // a reader mid-file
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	head := make([]byte, 100)
	io.ReadFull(fa, head)
	dir, err := os.Open(cur) // a reader whose working folder is the release
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()

	r.publish(2)
	switched := time.Now()
	// The reader goes on: the rest of a, then b, opened after the switch.
	rest, err := io.ReadAll(fa)
	if err != nil || !bytes.Equal(append(head, rest...), a1) {
		t.Fatalf("reading the open file of release 1 across the switch: %v, intact=%v", err, bytes.Equal(append(head, rest...), a1))
	}
	fd, err := syscall.Openat(int(dir.Fd()), "b", syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("opening b in release 1's folder just after the switch: %v", err)
	}
	fb := os.NewFile(uintptr(fd), "b")
	got, _ := io.ReadAll(fb)
	fb.Close()
	if !bytes.Equal(got, b1) {
		t.Fatal("b of release 1 read after the switch is not release 1's")
	}
	// Then keep removes it, not before the grace.
	waitUntil(t, 30*time.Second, "release 1 removed by keep", func() bool {
		_, ok := r.releaseIH(1)
		return !ok
	})
	if d := time.Since(switched); d < grace-300*time.Millisecond {
		t.Fatalf("release 1 removed %v after the switch, before the grace of %v", d, grace)
	}
}

// TestDeletesWhileInUse: DELETE of a channel's current release is 409;
// DELETE of a torrent while a file of it is being read lets the read
// finish intact (the open file outlives its unlink).
func TestDeletesWhileInUse(t *testing.T) {
	r := newChannelRig(t, Config{})
	a1, _ := r.publish(1)
	ih1, _ := r.releaseIH(1)
	var eb ErrorBody
	if code := call(t, "DELETE", r.sub.api+"/v1/torrents/"+ih1, "", nil, &eb); code != 409 || !strings.Contains(eb.Error, "current release") {
		t.Fatalf("DELETE of the current release: %d %q, want 409", code, eb.Error)
	}

	// A read through the API, paused mid-body, then a DELETE.
	r.publish(2)
	resp, err := http.Get(r.sub.api + "/v1/torrents/" + ih1 + "/files/rel/a")
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	if code := call(t, "DELETE", r.sub.api+"/v1/torrents/"+ih1, "", nil, &eb); code != 204 {
		t.Fatalf("DELETE of release 1 while read: %d %q", code, eb.Error)
	}
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(append(head, rest...), a1) {
		t.Fatalf("read across the DELETE: %v, intact=%v", err, bytes.Equal(append(head, rest...), a1))
	}
	if code := call(t, "GET", r.sub.api+"/v1/torrents/"+ih1+"/files/rel/a", "", nil, &eb); code != 404 {
		t.Fatalf("GET after DELETE: %d", code)
	}
	st, _ := r.sub.Channel("build")
	if st.Current != 2 || st.Error != "" {
		t.Fatalf("channel after deleting an old release: %+v", st)
	}
}

// TestSubscribingToHundredsOfChannels: subscriptions are bounded: past
// MaxChannels a subscribe is 409 naming the limit, the agent's goroutines
// stay proportional to the channels it follows, and an unsubscribe makes
// room again.
func TestSubscribingToHundredsOfChannels(t *testing.T) {
	mt := newMemTracker("k")
	a := startAgent(t, Config{ChannelTrackers: []ChannelTracker{mt}, Trackers: []string{"http://127.0.0.1:1/announce"}})
	base := runtime.NumGoroutine()
	codes := map[int]int{}
	for i := range MaxChannels + 50 {
		var eb ErrorBody
		code := call(t, "PUT", fmt.Sprintf("%s/v1/channels/ch-%d", a.api, i), "", nil, &eb)
		codes[code]++
		if code == 409 && !strings.Contains(eb.Error, "limit") {
			t.Fatalf("409 without naming the limit: %q", eb.Error)
		}
	}
	if codes[200] != MaxChannels || codes[409] != 50 {
		t.Fatalf("status codes %v: want %d 200s and 50 409s", codes, MaxChannels)
	}
	if n := runtime.NumGoroutine() - base; n > 4*MaxChannels {
		t.Fatalf("%d goroutines for %d channels", n, MaxChannels)
	}
	if code := call(t, "DELETE", a.api+"/v1/channels/ch-0", "", nil, nil); code != 204 {
		t.Fatalf("unsubscribe: %d", code)
	}
	if code := call(t, "PUT", a.api+"/v1/channels/another", "", nil, nil); code != 200 {
		t.Fatalf("subscribe after making room: %d", code)
	}
}

// TestDeleteOfAReleaseBeingFetched: the API refuses it (409) like the
// current release's: the subscription would only fetch it again.
func TestDeleteOfAReleaseBeingFetched(t *testing.T) {
	r := newChannelRig(t, Config{DownloadLimit: 16 << 10})
	src := filepath.Join(r.work, "slow", "slow.bin")
	writeRandom(t, src, 1<<20, 77)
	if _, err := r.origin.Publish(context.Background(), "build", PublishRequest{Path: src, Key: "k", PieceLength: 16 << 10}); err != nil {
		t.Fatal(err)
	}
	var ih string
	waitUntil(t, 30*time.Second, "release 1 being fetched", func() bool {
		st, _ := r.sub.Channel("build")
		var ok bool
		ih, ok = r.releaseIH(1)
		return ok && len(st.Fetching) == 1
	})
	var eb ErrorBody
	if code := call(t, "DELETE", r.sub.api+"/v1/torrents/"+ih, "", nil, &eb); code != 409 || !strings.Contains(eb.Error, "being fetched") {
		t.Fatalf("DELETE of the release being fetched: %d %q, want 409", code, eb.Error)
	}
	if st, _ := r.sub.Channel("build"); len(st.Fetching) != 1 {
		t.Fatalf("fetch disturbed: %+v", st)
	}
}

// TestCurrentLinkKeptUntilSwitch: between a release's completion (the
// subscription's current moves forward and a Switch is queued) and the
// Switch that moves the `current` link, a collection must not remove the
// release the link still points at, though with keep 1 it is already
// beyond keep in the subscription's state.
func TestCurrentLinkKeptUntilSwitch(t *testing.T) {
	s := &subscriber{a: &Agent{}, sub: NewSubscription(1)}
	s.rec.Current = 1
	s.sub.Restore(1, []uint64{1})
	s.sub.Offer(2)
	s.sub.Completed(2) // the Switch to 2 is queued, not carried out
	s.sub.Actions()
	s.sub.Trim(s.busyLocked)
	for _, act := range s.sub.Actions() {
		if act.Kind == Remove && act.Seq == 1 {
			t.Fatal("release 1 removed while the current link still points at it")
		}
	}
	s.rec.Current = 2
	s.sub.Switched(2) // the link moved; the previous release's grace is off here (0)
	s.sub.Trim(s.busyLocked)
	if acts := s.sub.Actions(); len(acts) != 1 || acts[0] != (SubAction{Remove, 1}) {
		t.Fatalf("after the switch: %v, want [remove 1]", acts)
	}
}
