package fleetpage

import (
	"bufio"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/e2e/harness"
	"github.com/shoal-p2p/shoal/tracker"
)

// TestFleetPagePollsWhenStreamRefused: on a tracker whose one event
// stream is taken, the page's stream is refused (503); the page falls
// back to polling /v1/fleet and still shows a release published after it
// loaded.
func TestFleetPagePollsWhenStreamRefused(t *testing.T) {
	ctx := harness.Context(t, time.Minute)
	b := startBrowser(t)
	srv := tracker.NewServer(tracker.ServerConfig{Logger: slog.New(slog.DiscardHandler), Channels: tracker.ChannelConfig{
		MaxViewers:  1,
		PublishKeys: tracker.NewPublishKeys(map[string]string{publishKey: ""}),
	}})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.EndStreams(); hs.Close() })
	taken, err := http.Get(hs.URL + "/v1/fleet/events")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Body.Close()
	bufio.NewReader(taken.Body).ReadString('\n')

	b.open(ctx, hs.URL+"/")
	b.wait(ctx, "the page to fall back to polling", `document.getElementById("status").textContent === "polling every 2 s"`)
	c, err := channel.NewClient(hs.URL+"/announce", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Report(ctx, "build", channel.HostReport{Host: "web-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "build", publishKey, infoDict("late"), 0); err != nil {
		t.Fatal(err)
	}
	b.wait(ctx, "the release published after the page loaded", `document.querySelector('section[data-channel="build"] tr[data-seq="1"] td.done') !== null`)
	checkText(ctx, t, b, `document.querySelector('section[data-channel="build"] td.missing').textContent`, "web-1")
}
