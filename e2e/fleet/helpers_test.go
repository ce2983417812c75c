package fleet

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/agent"
	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/e2e/harness"
)

// shoal is the binary built once for every test in the package.
var shoal harness.Binary

func TestMain(m *testing.M) { os.Exit(shoal.Main(m)) }

// publishKey is the key every test tracker accepts.
const publishKey = "fleet-test-key"

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startTracker runs `shoal tracker` on 127.0.0.1:port (0: any) and returns
// it with its announce URL.
func startTracker(ctx context.Context, t testing.TB, name string, port int, extra ...string) (*harness.Proc, string) {
	t.Helper()
	args := append([]string{"tracker", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--udp-listen", "off",
		"--publish-key", publishKey, "--rate", "0"}, extra...)
	p := shoal.Start(ctx, t, name, args...)
	return p, "http://" + p.ListenAddr(ctx, t) + "/announce"
}

// agentProc is a running `shoal agent`.
type agentProc struct {
	name, dir, url string
	p              *harness.Proc
	api            *agent.APIClient
}

var apiRE = regexp.MustCompile(`api on (\S+)`)

// startAgent runs `shoal agent` with its data in dir, subscribed to channel
// "build" unless extra says otherwise, its hook appending the release's
// sequence number to dir/../NAME.hooks.
func startAgent(ctx context.Context, t testing.TB, name, dir string, trackers []string, extra ...string) *agentProc {
	t.Helper()
	args := []string{"agent", "--data", dir, "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0", "--name", name,
		"--switch-grace", "200ms", // keep's bound settles at once for the checks
		"--on-complete", `echo "$SHOAL_SEQ $SHOAL_CHANNEL" >> "` + hookLog(dir) + `"`}
	for _, u := range trackers {
		args = append(args, "--tracker", u)
	}
	p := shoal.Start(ctx, t, name, append(args, extra...)...)
	url := p.WaitMatch(ctx, t, apiRE)[1]
	c, err := agent.NewAPIClient(url)
	if err != nil {
		t.Fatal(err)
	}
	return &agentProc{name: name, dir: dir, url: url, p: p, api: c}
}

// hookLog is where an agent's hook writes, next to its data folder.
func hookLog(dir string) string { return dir + ".hooks" }

// channelStatus returns the agent's view of channel "build".
func (a *agentProc) channelStatus(ctx context.Context) (agent.ChannelStatus, bool) {
	cs, err := a.api.Channels(ctx)
	if err != nil {
		return agent.ChannelStatus{}, false
	}
	for _, c := range cs {
		if c.Name == "build" {
			return c, true
		}
	}
	return agent.ChannelStatus{}, false
}

// releaseTorrent returns the agent's torrent of release seq of "build".
func (a *agentProc) releaseTorrent(ctx context.Context, seq uint64) (agent.TorrentStatus, bool) {
	ts, err := a.api.Torrents(ctx)
	if err != nil {
		return agent.TorrentStatus{}, false
	}
	for _, s := range ts {
		if s.Channel == "build" && s.Seq == seq {
			return s, true
		}
	}
	return agent.TorrentStatus{}, false
}

// waitFor polls cond every 50 ms until it holds, failing the test when ctx
// ends first.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// waitCurrent waits until every agent's current release of "build" is seq.
// When it fails it logs where each agent's download of seq stands.
func waitCurrent(ctx context.Context, t testing.TB, agents []*agentProc, seq uint64) {
	t.Helper()
	defer func() {
		if !t.Failed() {
			return
		}
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, a := range agents {
			if st, ok := a.releaseTorrent(dctx, seq); ok {
				t.Logf("%s, release %d: %s, %d of %d pieces (%d at start, %d verified since), %d peers, down %.0f B/s",
					a.name, seq, st.State, st.HavePieces, st.Pieces, st.HadAtStart, st.VerifiedPieces, st.Peers, st.DownRate)
			} else {
				t.Logf("%s, release %d: no status", a.name, seq)
			}
		}
	}()
	for _, a := range agents {
		waitFor(ctx, t, fmt.Sprintf("%s on release %d", a.name, seq), func() bool {
			if a.p.Exited() {
				t.Fatalf("%s exited: %v", a.name, a.p.Err())
			}
			cs, ok := a.channelStatus(ctx)
			return ok && cs.Current >= seq
		})
	}
}

// publish runs `shoal publish --agent` of path as the next release of
// "build" through the origin agent and returns the release it printed.
func publish(ctx context.Context, t testing.TB, origin *agentProc, path string, extra ...string) uint64 {
	t.Helper()
	args := append([]string{"publish", "--channel", "build", "--agent", origin.url, "--key", publishKey}, extra...)
	out := shoal.Run(ctx, t, append(args, path)...)
	var seq uint64
	if _, err := fmt.Sscanf(out, "published build release %d:", &seq); err != nil {
		t.Fatalf("publish printed %q: %v", out, err)
	}
	return seq
}

// storedReleases counts the content folders of an agent's store.
func storedReleases(t testing.TB, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// hookRuns returns the lines an agent's hook wrote.
func hookRuns(t testing.TB, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(hookLog(dir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(b), " build", ""))
}

// checkAgent checks an agent's end state: current is release last with
// the content of want, at most keep releases stored, and its hook ran once
// for each release in hooks.
func checkAgent(ctx context.Context, t testing.TB, a *agentProc, last uint64, want string, keep int, hooks []uint64) {
	t.Helper()
	if err := harness.CompareTrees(want, filepath.Join(a.dir, "channels", "build", "current", filepath.Base(want))); err != nil {
		t.Errorf("%s: current release differs from release %d: %v", a.name, last, err)
	}
	var wantHooks []string
	for _, h := range hooks {
		wantHooks = append(wantHooks, fmt.Sprint(h))
	}
	// The agent switches current first, then runs the hook and collects
	// old releases: give those a moment to follow the switch.
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, got := storedReleases(t, a.dir), hookRuns(t, a.dir)
		settled := n <= keep && strings.Join(got, ",") == strings.Join(wantHooks, ",")
		if settled || time.Now().After(deadline) {
			if n > keep {
				t.Errorf("%s stores %d releases, --keep %d", a.name, n, keep)
			}
			if strings.Join(got, ",") != strings.Join(wantHooks, ",") {
				t.Errorf("%s: hook ran for releases %v, want %v", a.name, got, wantHooks)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// releaseOf parses the release JSON the tracker serves.
func trackerReleases(ctx context.Context, announce string) ([]channel.Release, error) {
	c, err := channel.NewClient(announce, nil)
	if err != nil {
		return nil, err
	}
	return c.Releases(ctx, "build")
}
