package fleetpage

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/e2e/harness"
	"github.com/shoal-p2p/shoal/metainfo"
)

const publishKey = "fleetpage-publish-key"

// hostState is what the test's reporter tells the tracker about one host.
type hostState struct {
	fetching bool
	done     bool
}

// reporter reports every host's state to the tracker every 300 ms (as an
// agent does every few seconds), and at once on a change.
type reporter struct {
	cl      *channel.Client
	channel string
	kick    chan struct{}

	mu    sync.Mutex
	hosts map[string]hostState
	order []string
}

func (r *reporter) set(host string, s hostState) {
	r.mu.Lock()
	if _, ok := r.hosts[host]; !ok {
		r.order = append(r.order, host)
	}
	r.hosts[host] = s
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// reportAll sends one report per host; seq is the release being spread.
func (r *reporter) reportAll(ctx context.Context, seq uint64) error {
	r.mu.Lock()
	reps := make([]channel.HostReport, 0, len(r.order))
	for _, h := range r.order {
		s := r.hosts[h]
		rep := channel.HostReport{Host: h, Zone: "rack-" + h[len(h)-1:]}
		switch {
		case h == "origin":
			rep.Origin, rep.Current, rep.Have = true, seq, []uint64{seq}
		case s.done:
			rep.Current, rep.Have = seq, []uint64{seq}
		case s.fetching:
			rep.Fetching = seq
		}
		reps = append(reps, rep)
	}
	r.mu.Unlock()
	for _, rep := range reps {
		if err := r.cl.Report(ctx, r.channel, rep); err != nil {
			return err
		}
	}
	return nil
}

func (r *reporter) run(ctx context.Context, t *testing.T, seq uint64) {
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := r.reportAll(ctx, seq); err != nil && ctx.Err() == nil {
			t.Errorf("report: %v", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.kick:
		}
	}
}

// TestFleetPageFollowsARelease: a tracker, an origin seeding release 1
// of channel "build", and five hosts fetching it with real `shoal get`
// processes in two waves. The page, opened once in headless Chromium
// before anything is fetched, shows 0/5 with all five missing, then 3/5
// naming the two left, then 5/5 with none missing, a time to the last
// host and a completion curve of five steps: it follows the spread live.
func TestFleetPageFollowsARelease(t *testing.T) {
	ctx := harness.Context(t, 3*time.Minute)
	b := startBrowser(t)
	dir := t.TempDir()
	tr := shoal.Start(ctx, t, "tracker", "tracker", "--listen", "127.0.0.1:0", "--udp-listen", "off",
		"--publish-key", publishKey, "--rate", "0")
	addr := tr.ListenAddr(ctx, t)
	announce := "http://" + addr + "/announce"

	content := filepath.Join(dir, "origin", "build-1.bin")
	harness.WriteRandomFile(t, content, 8<<20, 1)
	torrent := filepath.Join(dir, "build-1.torrent")
	shoal.CreateTorrent(ctx, t, content, torrent, 256<<10, announce)
	mi, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := channel.NewClient(announce, nil)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := cl.Publish(ctx, "build", publishKey, mi.InfoBytes, 0)
	if err != nil {
		t.Fatal(err)
	}
	shoal.StartSeeder(ctx, t, "origin", torrent, content, "--tracker", announce)

	rep := &reporter{cl: cl, channel: "build", kick: make(chan struct{}, 1), hosts: map[string]hostState{}}
	hosts := []string{"host-1", "host-2", "host-3", "host-4", "host-5"}
	rep.set("origin", hostState{})
	for _, h := range hosts {
		rep.set(h, hostState{})
	}
	rctx, stopReports := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rep.run(rctx, t, rel.Seq) }()
	defer func() { stopReports(); wg.Wait() }()

	b.open(ctx, "http://"+addr+"/")
	row := `document.querySelector('section[data-channel="build"] tr[data-seq="1"]')`
	done := row + `.querySelector("td.done")`
	missing := row + `.querySelector("td.missing")`
	b.wait(ctx, "0/5 done", done+`.dataset.done === "0" && `+done+`.dataset.of === "5"`)
	checkText(ctx, t, b, missing+".textContent", "host-1, host-2, host-3, host-4, host-5")
	checkText(ctx, t, b, `document.querySelector('section[data-channel="build"] [data-k="origins"]').textContent`, "origin")

	fetch := func(wave []string) {
		var procs []*harness.Proc
		for _, h := range wave {
			rep.set(h, hostState{fetching: true})
			procs = append(procs, shoal.StartGetter(ctx, t, h, torrent, filepath.Join(dir, h), "--down-limit", "2MB"))
		}
		for i, p := range procs {
			p.MustFinish(ctx, t)
			harness.SameTree(t, content, filepath.Join(dir, wave[i], "build-1.bin"))
			rep.set(wave[i], hostState{done: true})
		}
	}
	fetch(hosts[:3])
	b.wait(ctx, "3/5 done", done+`.dataset.done === "3"`)
	checkText(ctx, t, b, missing+".textContent", "host-4, host-5")

	fetch(hosts[3:])
	b.wait(ctx, "5/5 done", done+`.dataset.done === "5" && `+missing+`.dataset.count === "0"`)
	checkText(ctx, t, b, missing+".textContent", "none")
	checkText(ctx, t, b, `document.querySelector('section[data-channel="build"] .legend').textContent`, "#1: 5/5")
	var tlast string
	b.eval(ctx, row+`.querySelector("td.tlast").textContent`, &tlast)
	if !strings.HasSuffix(tlast, " s") && !strings.Contains(tlast, "min") {
		t.Errorf("time to the last host shows %q", tlast)
	}
	var steps int
	b.eval(ctx, `(document.querySelector('section[data-channel="build"] path.curve[data-seq="1"]').getAttribute("d").match(/V/g) || []).length`, &steps)
	if steps != 5 {
		t.Errorf("completion curve has %d steps, want 5", steps)
	}
	// The page shows what the tracker's snapshot says.
	var snap struct {
		Channels []struct {
			Subscribers int `json:"subscribers"`
			Releases    []struct {
				Done int `json:"done"`
			} `json:"releases"`
		} `json:"channels"`
	}
	resp, err := http.Get("http://" + addr + "/v1/fleet")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if len(snap.Channels) != 1 || snap.Channels[0].Subscribers != 5 || snap.Channels[0].Releases[0].Done != 5 {
		t.Errorf("snapshot %+v", snap)
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
