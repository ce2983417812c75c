package trackerinterop

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
	"github.com/shoal-p2p/shoal/trackerclient"
)

// TestAria2DownloadsViaShoalTracker: aria2c fetches a torrent whose only
// tracker is a Shoal tracker, from a Shoal seeder it learns of there.
func TestAria2DownloadsViaShoalTracker(t *testing.T) {
	aria := harness.NeedProgram(t, "aria2c", "aria2")
	ctx := harness.Context(t, 2*time.Minute)
	dir := t.TempDir()
	addr := startTracker(ctx, t, "shoal tracker")
	announce := "http://" + addr + "/announce"
	content := payload(t, dir, 3<<20)
	torrent := filepath.Join(dir, "p.torrent")
	createTorrent(ctx, t, content, torrent, announce)
	shoal.StartSeeder(ctx, t, "shoal seed", torrent, content, "--tracker", announce)

	out := filepath.Join(dir, "aria")
	p := harness.Start(ctx, t, "aria2c", aria, "--dir", out, "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
		"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--bt-stop-timeout=90",
		"--listen-port=6881-6999", "--console-log-level=warn", "--summary-interval=0", "--check-integrity=true", torrent)
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("aria2c: %v", err)
	}
	harness.SameTree(t, content, filepath.Join(out, "payload.bin"))
}

// lt.py announces a torrent to its trackers with libtorrent and prints
// "reply N" for each tracker reply (N peers), "error MSG" on errors.
const ltAnnounce = `
import sys, time, libtorrent as lt
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                  'enable_upnp': False, 'enable_natpmp': False,
                  'alert_mask': lt.alert.category_t.all_categories})
ti = lt.torrent_info(sys.argv[1])
h = ses.add_torrent({'ti': ti, 'save_path': sys.argv[2]})
deadline = time.time() + 60
while time.time() < deadline:
    ses.wait_for_alert(500)
    for a in ses.pop_alerts():
        if isinstance(a, lt.tracker_reply_alert):
            print('reply', a.num_peers, a.url, flush=True)
            sys.exit(0)
        if isinstance(a, lt.tracker_error_alert):
            print('error', a.message(), flush=True)
print('timeout', flush=True)
sys.exit(1)
`

// udpReplyRE is lt.py's line for a tracker reply over UDP.
var udpReplyRE = regexp.MustCompile(`reply (\d+) udp://`)

// TestLibtorrentAnnouncesOverUDP: libtorrent announces to the Shoal
// tracker over UDP (BEP 15) and gets the peer that announced over HTTP.
func TestLibtorrentAnnouncesOverUDP(t *testing.T) {
	dir := t.TempDir()
	script := harness.NeedLibtorrent(t, filepath.Join(dir, "lt.py"))
	ctx := harness.Context(t, 2*time.Minute)
	addr := startTracker(ctx, t, "shoal tracker", "--verbose")
	udpURL := "udp://" + addr + "/announce"
	content := payload(t, dir, 1<<20)
	torrent := filepath.Join(dir, "p.torrent")
	ihHex := createTorrent(ctx, t, content, torrent, udpURL)
	var ih [20]byte
	hex.Decode(ih[:], []byte(ihHex))

	// A seeder announces over HTTP (nothing listens: libtorrent only has
	// to be told about it).
	_, err := trackerclient.Announce(ctx, nil, "http://"+addr+"/announce", trackerclient.AnnounceRequest{
		InfoHash: ih, PeerID: [20]byte([]byte("-XX0001-seedseedseed")), Port: 40000, Event: trackerclient.EventStarted})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(ltAnnounce), 0o644); err != nil {
		t.Fatal(err)
	}
	p := harness.Start(ctx, t, "libtorrent", harness.Python, script, torrent, filepath.Join(dir, "lt"))
	var m []string
	err = p.WaitFor(ctx, p.Stdout(), "a tracker reply over UDP", func(s string) bool {
		m = udpReplyRE.FindStringSubmatch(s)
		return m != nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 {
		t.Fatalf("libtorrent got %d peers over UDP", n)
	}
	// And the tracker listed libtorrent: a scrape over UDP counts it.
	sc, err := trackerclient.Scrape(ctx, nil, udpURL, [][20]byte{ih})
	if err != nil || sc[ih].Complete != 1 || sc[ih].Incomplete != 1 {
		t.Fatalf("scrape after libtorrent's announce: %+v %v", sc[ih], err)
	}
}

// startOpentracker runs opentracker on a loopback port (HTTP and UDP)
// with the given info hashes whitelisted (Debian builds it in whitelist
// mode) and returns host:port.
func startOpentracker(ctx context.Context, t testing.TB, hashesHex ...string) string {
	t.Helper()
	bin := harness.NeedProgram(t, "opentracker", "opentracker")
	dir := t.TempDir()
	wl := filepath.Join(dir, "whitelist.txt") // read after opentracker chroots to dir
	if err := os.WriteFile(wl, []byte(strings.Join(hashesHex, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	harness.Start(ctx, t, "opentracker", bin, "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-P", fmt.Sprint(port), "-w", "whitelist.txt", "-d", dir)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Ready when it answers an announce for a whitelisted hash.
	var ih [20]byte
	hex.Decode(ih[:], []byte(hashesHex[0]))
	for {
		_, err := trackerclient.Scrape(ctx, nil, "http://"+addr+"/announce", [][20]byte{ih})
		if err == nil {
			return addr
		}
		select {
		case <-ctx.Done():
			t.Fatalf("opentracker did not come up: %v", err)
		case <-time.After(20 * time.Millisecond): // polling a process we started
		}
	}
}

// TestShoalSwarmViaOpentracker: a Shoal seeder and three Shoal getters
// coordinated only by opentracker complete, the getters announcing over
// UDP (Shoal's BEP 15 client) and the seeder over HTTP.
func TestShoalSwarmViaOpentracker(t *testing.T) {
	ctx := harness.Context(t, 3*time.Minute)
	dir := t.TempDir()
	content := payload(t, dir, 4<<20)
	// The info hash does not depend on the tracker, so create once to
	// learn it, whitelist it, then make the torrent for that tracker.
	ihHex := createTorrent(ctx, t, content, filepath.Join(dir, "probe.torrent"))
	addr := startOpentracker(ctx, t, ihHex)
	torrent := filepath.Join(dir, "p.torrent")
	if got := createTorrent(ctx, t, content, torrent, "udp://"+addr+"/announce"); got != ihHex {
		t.Fatalf("info hash changed with the tracker: %s vs %s", got, ihHex)
	}
	shoal.StartSeeder(ctx, t, "shoal seed", torrent, content, "--tracker", "http://"+addr+"/announce")
	var getters []*harness.Proc
	for i := range 3 {
		out := filepath.Join(dir, fmt.Sprint("get", i))
		getters = append(getters, shoal.StartGetter(ctx, t, fmt.Sprint("getter", i), torrent, out))
	}
	for i, g := range getters {
		if err := g.Wait(ctx); err != nil {
			t.Fatalf("getter %d: %v", i, err)
		}
		harness.SameTree(t, content, filepath.Join(dir, fmt.Sprint("get", i), "payload.bin"))
		t.Log(g.Stderr().Tail(5))
	}
}

// TestTwoTrackersShareRedis: two `shoal tracker` processes on one
// redis-server; a peer announced to one is handed out by the other, over
// either protocol, and the per-IP bound (here 2, with loopback not
// exempt) holds across both.
func TestTwoTrackersShareRedis(t *testing.T) {
	redis := harness.NeedProgram(t, "redis-server", "redis-server")
	ctx := harness.Context(t, time.Minute)
	port := freePort(t)
	harness.Start(ctx, t, "redis-server", redis, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", t.TempDir())
	store := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	limit := []string{"--max-peers-per-ip", "2", "--ip-limit-exempt", ""}
	var a, b string
	for {
		// The tracker pings Redis at start and exits if it is not up yet.
		p := shoal.Start(ctx, t, "shoal tracker A", "tracker", "--listen", "127.0.0.1:0", "--store", store, limit[0], limit[1], limit[2], limit[3])
		select {
		case <-p.Done():
			if ctx.Err() != nil {
				t.Fatal("redis never came up")
			}
			continue
		case <-time.After(300 * time.Millisecond):
		}
		a = p.ListenAddr(ctx, t)
		break
	}
	b = startTracker(ctx, t, "shoal tracker B", append([]string{"--store", store}, limit...)...)
	var ih [20]byte
	copy(ih[:], "shared-swarm-hash-01")
	seed := trackerclient.AnnounceRequest{InfoHash: ih, PeerID: [20]byte([]byte("-XX0001-seedseedseed")), Port: 41000, Event: trackerclient.EventStarted}
	if _, err := trackerclient.Announce(ctx, nil, "http://"+a+"/announce", seed); err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddrPort("127.0.0.1:41000")
	for _, u := range []string{"http://" + b + "/announce", "udp://" + b + "/announce"} {
		leech := trackerclient.AnnounceRequest{InfoHash: ih, PeerID: [20]byte([]byte("-XX0001-leechleech01")), Port: 42000, Left: 10, Event: trackerclient.EventStarted}
		got, err := trackerclient.Announce(ctx, nil, u, leech)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(got.Peers, want) {
			t.Fatalf("%s handed out %v, want the peer announced to A", u, got.Peers)
		}
	}
	third := trackerclient.AnnounceRequest{InfoHash: ih, PeerID: [20]byte([]byte("-XX0001-thirdthird01")), Port: 43000, Left: 10, Event: trackerclient.EventStarted}
	got, err := trackerclient.Announce(ctx, nil, "http://"+a+"/announce", third)
	if err != nil || !strings.Contains(got.WarningMessage, "too many peers from this address") {
		t.Fatalf("third peer from 127.0.0.1 with --max-peers-per-ip 2: %+v, %v", got, err)
	}
}

// TestTrackerPerIPBoundFlags: `shoal tracker` spares 127.0.0.1 by default
// and bounds it when told to exempt nothing.
func TestTrackerPerIPBoundFlags(t *testing.T) {
	ctx := harness.Context(t, time.Minute)
	var ih [20]byte
	copy(ih[:], "per-ip-bound-hash-01")
	announce := func(addr string, n int) string {
		var warning string
		for i := range n {
			req := trackerclient.AnnounceRequest{InfoHash: ih, PeerID: [20]byte([]byte(fmt.Sprintf("-XX0001-%012d", i))), Port: uint16(20000 + i),
				Left: 1, Event: trackerclient.EventStarted}
			got, err := trackerclient.Announce(ctx, nil, "http://"+addr+"/announce", req)
			if err != nil {
				t.Fatal(err)
			}
			warning = got.WarningMessage
		}
		return warning
	}
	if w := announce(startTracker(ctx, t, "shoal tracker default"), 20); w != "" {
		t.Fatalf("20 peers on 127.0.0.1, default flags: %q", w)
	}
	if w := announce(startTracker(ctx, t, "shoal tracker bounded", "--max-peers-per-ip", "3", "--ip-limit-exempt", ""), 4); !strings.Contains(w, "too many peers") {
		t.Fatalf("4th peer with --max-peers-per-ip 3 and nothing exempt: %q", w)
	}
}
