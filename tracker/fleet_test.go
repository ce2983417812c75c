package tracker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

func TestBuildFleet(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	host := func(name string, r channel.HostReport) HostRecord {
		r.Host = name
		return HostRecord{Report: r, Seen: t0.Add(30 * time.Second), Since: t0}
	}
	rel1, rel2 := rel(1, "a"), rel(2, "b")
	rel1.PublishedAt, rel2.PublishedAt = t0, t0.Add(10*time.Second)
	v := ChannelView{
		ID: ChannelID{Name: "build"},
		Hosts: []HostRecord{
			host("a", channel.HostReport{Zone: "r1", Current: 2, Have: []uint64{1, 2}, DownRate: 10, UpRate: 5}),
			host("b", channel.HostReport{Zone: "r2", Current: 1, Fetching: 2, Progress: 0.5, DownRate: 20, UpRate: 5}),
			host("c", channel.HostReport{Zone: "r1", Fetching: 1, DownRate: 30}),
			host("o", channel.HostReport{Origin: true, Current: 2, UpRate: 100}),
		},
		Releases: []ReleaseView{
			{Release: rel1, OriginBase: 0, Completed: map[string]time.Time{"a": t0.Add(4 * time.Second), "b": t0.Add(2 * time.Second), "o": t0, "gone": t0.Add(time.Second)}},
			{Release: rel2, OriginBase: 250, Completed: map[string]time.Time{"a": t0.Add(13 * time.Second), "o": t0.Add(10 * time.Second)}},
		},
		Egress: 300,
	}
	snap := buildFleet([]ChannelView{v}, t0.Add(31*time.Second))
	if len(snap.Channels) != 1 {
		t.Fatalf("%+v", snap)
	}
	c := snap.Channels[0]
	if c.Subscribers != 3 || c.DownRate != 60 || c.UpRate != 110 || len(c.Origins) != 1 || c.Origins[0] != "o" || c.HostCount != 4 {
		t.Fatalf("channel %+v", c)
	}
	if len(c.Releases) != 2 || c.Releases[0].Seq != 2 {
		t.Fatalf("releases not newest first: %+v", c.Releases)
	}
	r2, r1 := c.Releases[0], c.Releases[1]
	// Release 2: a done, b fetching, c missing; the origin is not counted.
	if r2.Done != 1 || r2.Fetching != 1 || r2.MissingCount != 2 || strings.Join(r2.Missing, ",") != "b,c" || r2.LastAfter != 0 {
		t.Fatalf("release 2: %+v", r2)
	}
	if r2.OriginEgress != 50 || r2.EgressCopies != 0.5 || len(r2.Curve) != 1 || r2.Curve[0] != (CurvePoint{T: 3, Done: 1}) {
		t.Fatalf("release 2 egress/curve: %+v", r2)
	}
	if want := []ZoneCount{{"r1", 1, 2}, {"r2", 0, 1}}; !slices.Equal(r2.Zones, want) {
		t.Fatalf("release 2 zones %+v, want %+v", r2.Zones, want)
	}
	// Release 1: a and b done (a host no longer subscribed is not counted).
	if r1.Done != 2 || r1.MissingCount != 1 || r1.Missing[0] != "c" || r1.Fetching != 1 || r1.OriginEgress != 250 || r1.EgressCopies != 2.5 {
		t.Fatalf("release 1: %+v", r1)
	}
	if len(r1.Curve) != 2 || r1.Curve[0] != (CurvePoint{2, 1}) || r1.Curve[1] != (CurvePoint{4, 2}) {
		t.Fatalf("release 1 curve: %+v", r1.Curve)
	}
	if h := c.Hosts[1]; h.Host != "b" || h.Age != 1 || h.Fetching != 2 {
		t.Fatalf("host b: %+v", h)
	}
}

// TestBuildFleetBounded: at 10,000 hosts a snapshot lists at most
// maxFleetMissing missing hosts per release, maxFleetHosts hosts and
// maxCurvePoints points, while the counts stay exact and the curve ends
// at its last completion.
func TestBuildFleetBounded(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	r := rel(1, "a")
	r.PublishedAt = t0
	v := ChannelView{ID: ChannelID{Name: "big"}, Releases: []ReleaseView{{Release: r, Completed: map[string]time.Time{}}}}
	for i := range 10_000 {
		name := fmt.Sprintf("h%05d", i)
		v.Hosts = append(v.Hosts, HostRecord{Report: channel.HostReport{Host: name}, Seen: t0})
		if i%2 == 0 {
			v.Releases[0].Completed[name] = t0.Add(time.Duration(i) * time.Millisecond)
		}
	}
	for i := range v.Hosts {
		v.Hosts[i].Report.Zone = fmt.Sprint("rack-", i%100) // more zones than are counted
	}
	c := buildFleet([]ChannelView{v}, t0).Channels[0]
	fr := c.Releases[0]
	if len(fr.Zones) != maxFleetZones {
		t.Fatalf("%d zones counted", len(fr.Zones))
	}
	if fr.Done != 5000 || fr.MissingCount != 5000 || len(fr.Missing) != maxFleetMissing || len(c.Hosts) != maxFleetHosts || c.HostCount != 10_000 {
		t.Fatalf("done %d missing %d/%d hosts %d/%d", fr.Done, len(fr.Missing), fr.MissingCount, len(c.Hosts), c.HostCount)
	}
	last := fr.Curve[len(fr.Curve)-1]
	if len(fr.Curve) != maxCurvePoints || last.Done != 5000 || last.T != 9.998 || fr.Curve[0].Done != 1 {
		t.Fatalf("curve of %d points, first %+v last %+v", len(fr.Curve), fr.Curve[0], last)
	}
	b, _ := json.Marshal(c)
	if len(b) > 64<<10 {
		t.Fatalf("snapshot of one channel is %d bytes", len(b))
	}
}

func TestFleetEndpoints(t *testing.T) {
	tt, c := channelTracker(t, ServerConfig{})
	ctx := context.Background()
	if _, err := c.Publish(ctx, "build", testPublishKey, infoDict("x", 100), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Report(ctx, "build", channel.HostReport{Host: "h1", Current: 1}); err != nil {
		t.Fatal(err)
	}
	resp := get(t, tt, "/v1/fleet")
	var snap FleetSnapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil || len(snap.Channels) != 1 || snap.Channels[0].Releases[0].Done != 1 {
		t.Fatalf("snapshot: %+v %v", snap, err)
	}
	// The event stream opens with the snapshot.
	resp = get(t, tt, "/v1/fleet/events")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var lines []string
	for sc.Scan() && sc.Text() != "" {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 || lines[0] != "event: fleet" || !strings.HasPrefix(lines[1], "data: {") {
		t.Fatalf("first event %q", lines)
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &snap); err != nil || snap.Channels[0].Subscribers != 1 {
		t.Fatalf("event data: %v", err)
	}
}

// TestFleetViewersBounded: event streams past MaxViewers get a 503.
func TestFleetViewersBounded(t *testing.T) {
	tt, _ := channelTracker(t, ServerConfig{Channels: ChannelConfig{MaxViewers: 1}})
	first := get(t, tt, "/v1/fleet/events")
	bufio.NewReader(first.Body).ReadString('\n') // the stream is open
	if resp := get(t, tt, "/v1/fleet/events"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second stream: %d", resp.StatusCode)
	}
}

// TestFleetPageSelfContained: the page and its assets are served from
// the binary with a policy that allows only this origin, and name no
// other host (no CDN).
func TestFleetPageSelfContained(t *testing.T) {
	tt := newTestTracker(t, ServerConfig{})
	for path, ctype := range map[string]string{"/": "text/html", "/fleet/fleet.js": "text/javascript", "/fleet/fleet.css": "text/css"} {
		resp := get(t, tt, path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s: %d %q %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
		}
	}
	external := regexp.MustCompile(`(https?:)?//[a-zA-Z0-9.-]+\.[a-z]{2,}`)
	fs.WalkDir(fleetAssets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(fleetAssets, p)
		for _, m := range external.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" { // the SVG namespace, a name, not a fetch
				t.Errorf("%s names %s", p, m)
			}
		}
		return nil
	})
}
