package fleet

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/agent"
	"github.com/shoal-p2p/shoal/e2e/harness"
)

// TestFleetCLI: `shoal seed` and `shoal get` hand their work to a running
// agent with --agent (and SHOAL_AGENT), `shoal status` shows one line per
// channel and torrent, and `shoal publish` without --agent seeds in the
// foreground while an agent fetches the release.
func TestFleetCLI(t *testing.T) {
	ctx := harness.Context(t, 2*time.Minute)
	work := t.TempDir()
	_, announce := startTracker(ctx, t, "tracker", 0)
	src := filepath.Join(work, "data", "tree")
	harness.WriteTree(t, src, 5, harness.FileSpec{Path: "a.bin", Size: 3 << 20}, harness.FileSpec{Path: "sub/b.bin", Size: 1<<20 + 7})
	torrent := filepath.Join(work, "tree.torrent")
	shoal.CreateTorrent(ctx, t, src, torrent, 256<<10, announce)

	seeder := startAgent(ctx, t, "seeder", filepath.Join(work, "seeder"), []string{announce})
	out := shoal.Start(ctx, t, "seed --agent", "seed", "--agent", seeder.url, torrent, src)
	out.MustFinish(ctx, t)
	getter := startAgent(ctx, t, "getter", filepath.Join(work, "getter"), []string{announce}, "--subscribe", "fg")
	dst := filepath.Join(work, "out")
	g := harness.Start(ctx, t, "get via SHOAL_AGENT", "/usr/bin/env", "SHOAL_AGENT="+getter.url, shoal.Path(t), "get", "-o", dst, torrent)
	g.MustFinish(ctx, t)
	harness.SameTree(t, src, filepath.Join(dst, "tree"))

	// A magnet link through the agent: the info dictionary comes from the
	// seeder agent (BEP 9), then the pieces, then the copy out.
	single := filepath.Join(work, "data", "m.bin")
	harness.WriteRandomFile(t, single, 1<<20+5, 7)
	madded, err := seeder.api.Add(ctx, agent.AddRequest{Path: single})
	if err != nil {
		t.Fatal(err)
	}
	magnet := "magnet:?xt=urn:btih:" + madded.InfoHash + "&dn=m.bin&tr=" + url.QueryEscape(announce)
	mdst := filepath.Join(work, "out-magnet")
	mg := shoal.Start(ctx, t, "get --agent magnet", "get", "--agent", getter.url, "-o", mdst, magnet)
	mg.MustFinish(ctx, t)
	harness.SameTree(t, single, filepath.Join(mdst, "m.bin"))
	if !strings.Contains(mg.Stderr().String(), "complete: m.bin verified by the agent") {
		t.Errorf("get --agent of a magnet does not say it completed:\n%s", mg.Stderr())
	}

	// Foreground publish: seeds until interrupted; the subscribed agent
	// gets the release from it.
	rel := filepath.Join(work, "release", "fg.bin")
	harness.WriteRandomFile(t, rel, 2<<20, 6)
	pub := shoal.Start(ctx, t, "publish (foreground)", "publish", "--channel", "fg", "--tracker", announce, "--key", publishKey,
		"--listen", "127.0.0.1:0", rel)
	if err := pub.WaitFor(ctx, pub.Stdout(), "published line", func(s string) bool { return strings.Contains(s, "published fg release 1") }); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "getter on fg release 1", func() bool {
		cs, err := getter.api.Channels(ctx)
		return err == nil && len(cs) == 1 && cs[0].Current == 1
	})
	harness.SameTree(t, rel, filepath.Join(getter.dir, "channels", "fg", "current", "fg.bin"))

	status := shoal.Run(ctx, t, "status", "--agent", getter.url)
	for _, re := range []string{`(?m)^channel\s+fg\s+1\s+subscribed\s+100\.0%`, `(?m)^torrent\s+tree\s+-\s+seeding\s+100\.0%`, `(?m)^torrent\s+fg\.bin\s+fg/1\s+seeding`} {
		if !regexp.MustCompile(re).MatchString(status) {
			t.Errorf("shoal status output lacks %s:\n%s", re, status)
		}
	}
}
