package fleetpage

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

const publishKey = "fleetpage-publish-key"

var (
	apiRE       = regexp.MustCompile(`api on (\S+)`)
	publishedRE = regexp.MustCompile(`published build release (\d+):`)
)

// startAgent runs `shoal agent` named name with its data under dir and
// returns it with its API URL.
func startAgent(ctx context.Context, t *testing.T, name, dir, announce string, extra ...string) (*harness.Proc, string) {
	t.Helper()
	args := []string{"agent", "--data", filepath.Join(dir, name), "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0",
		"--name", name, "--tracker", announce}
	p := shoal.Start(ctx, t, name, append(args, extra...)...)
	return p, p.WaitMatch(ctx, t, apiRE)[1]
}

// TestFleetPageFollowsAgents: a tracker, an origin agent and five agents
// subscribed to channel "build" (real `shoal agent` processes, downloads
// limited to 1 MB/s so an 8 MiB release takes seconds to spread). The
// page, opened once in headless Chromium before anything is published,
// shows three hosts waiting for a first release; after `shoal publish`
// hosts fetching it, then 3/3; two more agents join and it shows 3/5
// naming them as missing (and rack-b 0/2), then 5/5 with none missing, a time to the last
// host, a completion curve of five steps and an origin egress of at least
// one copy; a second release then reaches all five and is listed first:
// the page follows the spread live, without a reload.
func TestFleetPageFollowsAgents(t *testing.T) {
	ctx := harness.Context(t, 3*time.Minute)
	b := startBrowser(t)
	dir := t.TempDir()
	tr := shoal.Start(ctx, t, "tracker", "tracker", "--listen", "127.0.0.1:0", "--udp-listen", "off",
		"--publish-key", publishKey, "--rate", "0")
	addr := tr.ListenAddr(ctx, t)
	announce := "http://" + addr + "/announce"
	content := filepath.Join(dir, "release", "build-1.bin")
	harness.WriteRandomFile(t, content, 8<<20, 1)

	_, originAPI := startAgent(ctx, t, "origin", dir, announce)
	subscriber := func(name, zone string) *harness.Proc {
		p, _ := startAgent(ctx, t, name, dir, announce, "--subscribe", "build", "--down-limit", "1MB", "--zone", zone)
		return p
	}
	var agents []*harness.Proc
	for _, name := range []string{"host-1", "host-2", "host-3"} {
		agents = append(agents, subscriber(name, "rack-a"))
	}

	b.open(ctx, "http://"+addr+"/")
	card := `document.querySelector('section[data-channel="build"]')`
	subs := card + `.querySelector('[data-k="subscribers"]').textContent`
	b.wait(ctx, "three hosts waiting for a first release", subs+` === "3" && `+card+`.querySelector("p.empty") !== null`)

	out := shoal.Run(ctx, t, "publish", "--channel", "build", "--agent", originAPI, "--key", publishKey, content)
	m := publishedRE.FindStringSubmatch(out)
	if m == nil || m[1] != "1" {
		t.Fatalf("publish printed %q", out)
	}
	row := card + `.querySelector('tr[data-seq="1"]')`
	done := row + `.querySelector("td.done")`
	missing := row + `.querySelector("td.missing")`
	b.wait(ctx, "hosts fetching release 1", done+`.querySelector(".fetching") !== null && `+done+`.dataset.done !== "3"`)
	b.wait(ctx, "3/3 done", done+`.dataset.done === "3" && `+done+`.dataset.of === "3"`)
	checkText(ctx, t, b, card+`.querySelector('[data-k="origins"]').textContent`, "origin")

	for _, name := range []string{"host-4", "host-5"} {
		agents = append(agents, subscriber(name, "rack-b"))
	}
	b.wait(ctx, "3/5 done", done+`.dataset.done === "3" && `+done+`.dataset.of === "5"`)
	checkText(ctx, t, b, missing+".textContent", "host-4, host-5")
	checkText(ctx, t, b, done+`.querySelector(".zones").textContent`, "rack-a 3/3rack-b 0/2")
	b.wait(ctx, "5/5 done", done+`.dataset.done === "5" && `+missing+`.dataset.count === "0"`)
	checkText(ctx, t, b, missing+".textContent", "none")
	checkText(ctx, t, b, card+`.querySelector(".legend").textContent`, "#1: 5/5")
	b.wait(ctx, "an origin egress of at least one copy", `Number(`+row+`.querySelector("td.egress").dataset.copies) >= 1`)
	var tlast string
	b.eval(ctx, row+`.querySelector("td.tlast").textContent`, &tlast)
	if !strings.HasSuffix(tlast, " s") && !strings.Contains(tlast, "min") {
		t.Errorf("time to the last host shows %q", tlast)
	}
	var steps, hostRows int
	b.eval(ctx, `(`+card+`.querySelector('path.curve[data-seq="1"]').getAttribute("d").match(/V/g) || []).length`, &steps)
	if steps != 5 {
		t.Errorf("completion curve has %d steps, want 5", steps)
	}
	b.eval(ctx, card+`.querySelectorAll("details.hosts tbody tr").length`, &hostRows)
	if hostRows != 6 {
		t.Errorf("host table lists %d hosts, want 6 (five and the origin)", hostRows)
	}
	for i := range agents {
		name := fmt.Sprint("host-", i+1)
		harness.SameTree(t, content, filepath.Join(dir, name, "channels", "build", "current", "build-1.bin"))
	}

	// Release 2 (smaller) spreads to all five; the page lists it first and
	// keeps release 1's count (the agents keep it, --keep 3).
	content2 := filepath.Join(dir, "release", "build-2.bin")
	harness.WriteRandomFile(t, content2, 2<<20, 2)
	out = shoal.Run(ctx, t, "publish", "--channel", "build", "--agent", originAPI, "--key", publishKey, content2)
	if m := publishedRE.FindStringSubmatch(out); m == nil || m[1] != "2" {
		t.Fatalf("second publish printed %q", out)
	}
	row2 := card + `.querySelector('tr[data-seq="2"]')`
	b.wait(ctx, "release 2 5/5 done", row2+` !== null && `+row2+`.querySelector("td.done").dataset.done === "5"`)
	checkText(ctx, t, b, `[...`+card+`.querySelectorAll("table.releases tbody tr")].map((r) => r.dataset.seq).join(",")`, "2,1")
	checkText(ctx, t, b, done+`.dataset.done`, "5")
	checkText(ctx, t, b, card+`.querySelector('[data-k="latest"]').textContent`, "#2")
	checkText(ctx, t, b, card+`.querySelector(".legend").textContent`, "#2: 5/5#1: 5/5")
	b.wait(ctx, "an origin egress of at least one copy of release 2", `Number(`+row2+`.querySelector("td.egress").dataset.copies) >= 1`)
	for i := range agents {
		harness.SameTree(t, content2, filepath.Join(dir, fmt.Sprint("host-", i+1), "channels", "build", "current", "build-2.bin"))
	}
	// The page shows what the tracker's snapshot says.
	var snap struct {
		Channels []struct {
			Subscribers int `json:"subscribers"`
			Releases    []struct {
				Seq          int     `json:"seq"`
				Done         int     `json:"done"`
				EgressCopies float64 `json:"egress_copies"`
			} `json:"releases"`
		} `json:"channels"`
	}
	resp, err := http.Get("http://" + addr + "/v1/fleet")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if len(snap.Channels) != 1 || snap.Channels[0].Subscribers != 5 || len(snap.Channels[0].Releases) != 2 ||
		snap.Channels[0].Releases[0].Done != 5 || snap.Channels[0].Releases[1].Done != 5 {
		t.Fatalf("snapshot %+v", snap)
	}
	for _, r := range snap.Channels[0].Releases {
		t.Logf("origin egress of release %d: %.2f copies", r.Seq, r.EgressCopies)
	}
	shot := filepath.Join(t.TempDir(), "fleet.png")
	if p := os.Getenv("SHOAL_FLEETPAGE_SCREENSHOT"); p != "" {
		shot = p
	}
	b.screenshot(ctx, shot)
	t.Logf("screenshot: %s", shot)
}

// checkText fails the test unless the JavaScript expression expr gives
// want.
func checkText(ctx context.Context, t *testing.T, b *browser, expr, want string) {
	t.Helper()
	var got string
	if err := b.eval(ctx, expr, &got); err != nil || strings.TrimSpace(got) != want {
		t.Errorf("%s = %q (%v), want %q", expr, got, err, want)
	}
}
