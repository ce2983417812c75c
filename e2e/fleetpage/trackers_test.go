package fleetpage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/e2e/harness"
)

// infoDict is a valid bencoded single-file info dictionary, distinct per
// name (the tracker checks it like any torrent's, but never fetches it).
func infoDict(name string) []byte {
	return fmt.Appendf(nil, "d6:lengthi100e4:name%d:%s12:piece lengthi16384e6:pieces20:%se", len(name), name, strings.Repeat("\x00", 20))
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startTracker starts `shoal tracker` with the publish key and returns
// its process and a channel client on it.
func startTracker(ctx context.Context, t *testing.T, name, listen string, extra ...string) (*harness.Proc, *channel.Client) {
	t.Helper()
	args := append([]string{"tracker", "--listen", listen, "--udp-listen", "off", "--publish-key", publishKey, "--rate", "0"}, extra...)
	p := shoal.Start(ctx, t, name, args...)
	addr := p.ListenAddr(ctx, t)
	c, err := channel.NewClient("http://"+addr+"/announce", nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

// TestTrackerRestartKeepsNumbering: a tracker on the memory store is
// killed (SIGKILL) after two releases and restarted on the same port. It
// has forgotten the channel until a host reports holding release 2; the
// origin re-registers release 2 (idempotent), the next publish is 3,
// never a reused seq, and the host's long poll learns of it.
func TestTrackerRestartKeepsNumbering(t *testing.T) {
	ctx := harness.Context(t, time.Minute)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	tr, c := startTracker(ctx, t, "tracker", listen)
	for _, n := range []string{"r1", "r2"} {
		if _, err := c.Publish(ctx, "build", publishKey, infoDict(n), 0); err != nil {
			t.Fatal(err)
		}
	}
	host := channel.HostReport{Host: "web-1", Current: 2, Have: []uint64{1, 2}}
	if err := c.Report(ctx, "build", host); err != nil {
		t.Fatal(err)
	}
	if err := tr.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	_, c = startTracker(ctx, t, "tracker (restarted)", listen)
	if _, err := c.Releases(ctx, "build"); !errors.Is(err, channel.ErrUnknownChannel) {
		t.Fatalf("restarted tracker, before any report: %v", err)
	}
	if err := c.Report(ctx, "build", host); err != nil {
		t.Fatal(err)
	}
	for _, want := range []bool{true, false} { // created, then the same again
		rel, err := c.Publish(ctx, "build", publishKey, infoDict("r2"), 2)
		if err != nil || rel.Seq != 2 {
			t.Fatalf("origin re-registers 2 (%v): %+v %v", want, rel, err)
		}
	}
	got := make(chan channel.Release, 1)
	go func() {
		r, ok, err := c.Next(ctx, "build", 2)
		if err != nil || !ok {
			t.Errorf("host's long poll: %v %v", ok, err)
		}
		got <- r
	}()
	rel, err := c.Publish(ctx, "build", publishKey, infoDict("r3"), 0)
	if err != nil || rel.Seq != 3 {
		t.Fatalf("first new publish after the restart: %+v %v", rel, err)
	}
	if r := <-got; r.Seq != 3 {
		t.Fatalf("the host learnt of %+v", r)
	}
}

// TestTrackersShareChannelsOnRedis: two `shoal tracker --store redis://`
// processes on one real redis-server. A host subscribed through B gets a
// 404 saying it waits until A publishes; then its long poll on B learns
// of A's next publish (the delay is logged); B serves the release's info,
// A lists the host's report, and B refuses a conflicting seq.
func TestTrackersShareChannelsOnRedis(t *testing.T) {
	redis := harness.NeedProgram(t, "redis-server", "redis-server")
	ctx := harness.Context(t, time.Minute)
	port := freePort(t)
	rp := harness.Start(ctx, t, "redis-server", redis, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", t.TempDir())
	if err := rp.WaitFor(ctx, rp.Stdout(), "redis ready", func(s string) bool { return strings.Contains(s, "Ready to accept connections") }); err != nil {
		t.Fatal(err)
	}
	store := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	_, a := startTracker(ctx, t, "tracker A", "127.0.0.1:0", "--store", store)
	_, b := startTracker(ctx, t, "tracker B", "127.0.0.1:0", "--store", store)
	if err := b.Report(ctx, "build", channel.HostReport{Host: "web-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Releases(ctx, "build"); !errors.Is(err, channel.ErrUnknownChannel) || !strings.Contains(err.Error(), "1 hosts subscribed") {
		t.Fatalf("releases before any publish: %v", err)
	}
	// A subscribed host's long poll waits for the first release.
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, ok, err := b.Next(short, "build", 0)
	cancel()
	if err != nil || ok {
		t.Fatalf("next before any publish: ok=%v err=%v, want a wait that times out", ok, err)
	}
	if _, err := a.Publish(ctx, "build", publishKey, infoDict("first"), 0); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		rel channel.Release
		at  time.Time
	}
	got := make(chan answer, 1)
	go func() {
		r, ok, err := b.Next(ctx, "build", 1)
		if err != nil || !ok {
			t.Errorf("long poll on B: %v %v", ok, err)
		}
		got <- answer{r, time.Now()}
	}()
	awaitWaiters(ctx, t, b.BaseURL(), 1)
	info := infoDict("from-a")
	start := time.Now()
	rel, err := a.Publish(ctx, "build", publishKey, info, 0)
	if err != nil {
		t.Fatal(err)
	}
	ans := <-got
	if ans.rel != rel {
		t.Fatalf("B answered %+v, A published %+v", ans.rel, rel)
	}
	t.Logf("publish on A to the answer on B: %v (includes the publish call)", ans.at.Sub(start))
	if _, err := b.Info(ctx, "build", rel.Seq, rel.Hash()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, "build", publishKey, infoDict("other"), rel.Seq); !errors.Is(err, channel.ErrConflict) {
		t.Fatalf("conflicting seq through B: %v", err)
	}
	sums, err := a.Channels(ctx)
	if err != nil || len(sums) != 1 || sums[0].Subscribers != 1 || sums[0].Latest.Seq != 2 {
		t.Fatalf("channels on A: %+v %v", sums, err)
	}
}

// awaitWaiters waits until the tracker at base holds n long polls, read
// from its /metrics (polling a process we started: no event to wait on).
func awaitWaiters(ctx context.Context, t *testing.T, base string, n int) {
	t.Helper()
	want := fmt.Sprintf("shoal_tracker_channel_waiters %d\n", n)
	for {
		resp, err := http.Get(base + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), want) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the tracker never held %d long polls", n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestTrackerKeysFile: `shoal tracker --keys FILE` with a publish line.
// The publish key publishes into its tenant, an announce key of the same
// tenant is refused (403), reads need a key, and --publish-key next to
// --keys is refused at start with a message saying what to do.
func TestTrackerKeysFile(t *testing.T) {
	ctx := harness.Context(t, time.Minute)
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("# fleet keys\nreader-key blue\norigin-key blue publish  # the origin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := shoal.Start(ctx, t, "tracker", "tracker", "--listen", "127.0.0.1:0", "--udp-listen", "off", "--keys", keys)
	addr := p.ListenAddr(ctx, t)
	client := func(key string) *channel.Client {
		c, err := channel.NewClient("http://"+addr+"/"+key+"/announce", nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	reader, origin := client("reader-key"), client("origin-key")
	if _, err := reader.Publish(ctx, "build", "reader-key", infoDict("x"), 0); !errors.Is(err, channel.ErrForbidden) {
		t.Fatalf("an announce key publishing: %v", err)
	}
	if _, err := origin.Publish(ctx, "build", "origin-key", infoDict("x"), 0); err != nil {
		t.Fatalf("the publish key: %v", err)
	}
	if rels, err := reader.Releases(ctx, "build"); err != nil || len(rels) != 1 {
		t.Fatalf("the tenant's reader: %v %v", rels, err)
	}
	anon, _ := channel.NewClient("http://"+addr+"/announce", nil)
	if _, err := anon.Releases(ctx, "build"); !errors.Is(err, channel.ErrForbidden) {
		t.Fatalf("a read without a key: %v", err)
	}

	bad := shoal.Start(ctx, t, "tracker (bad flags)", "tracker", "--listen", "127.0.0.1:0", "--udp-listen", "off",
		"--keys", keys, "--publish-key", "k")
	if err := bad.Wait(ctx); err == nil || !strings.Contains(bad.Stderr().String(), "give the publish right in the keys file") {
		t.Fatalf("--publish-key with --keys: %v\n%s", err, bad.Stderr().String())
	}
}
