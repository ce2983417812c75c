package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-p2p/shoal/metainfo"
)

// QBittorrent is a qbittorrent-nox (Debian's qbittorrent-nox, libtorrent
// underneath) run for one test: its own profile folder, peer and WebUI
// ports on 127.0.0.1, no DHT, PEX, LSD or port mapping, encryption off
// (Shoal speaks plain BitTorrent), no queueing or ratio limits. It is
// driven through the WebUI's HTTP API (v2); localhost needs no login.
type QBittorrent struct {
	proc     *Proc
	name     string
	PeerAddr string // HOST:PORT where it accepts BitTorrent peers
	api      string // http://127.0.0.1:PORT/api/v2
	hc       http.Client
}

// StartQBittorrent starts qbittorrent-nox with a fresh profile under a
// test temp dir and waits until its WebUI answers. It skips the test when
// the program is not installed.
func StartQBittorrent(ctx context.Context, t testing.TB, name string) *QBittorrent {
	t.Helper()
	bin := NeedProgram(t, "qbittorrent-nox", "qbittorrent-nox")
	profile := t.TempDir()
	peerPort, webPort := FreePort(t), FreePort(t)
	conf := fmt.Sprintf(`[LegalNotice]
Accepted=true

[Preferences]
WebUI\Port=%d
WebUI\Address=127.0.0.1
WebUI\LocalHostAuth=false
WebUI\CSRFProtection=false
WebUI\HostHeaderValidation=false
Downloads\SavePath=%s

[BitTorrent]
Session\Port=%d
Session\InterfaceAddress=127.0.0.1
Session\DHTEnabled=false
Session\PeXEnabled=false
Session\LSDEnabled=false
Session\Encryption=2
Session\QueueingSystemEnabled=false

[Network]
PortForwardingEnabled=false
`, webPort, filepath.Join(profile, "downloads"), peerPort)
	confDir := filepath.Join(profile, "qBittorrent", "config")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(confDir, "qBittorrent.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	q := &QBittorrent{
		name:     name,
		PeerAddr: "127.0.0.1:" + strconv.Itoa(peerPort),
		api:      fmt.Sprintf("http://127.0.0.1:%d/api/v2", webPort),
	}
	q.proc = Start(ctx, t, name, bin, "--profile="+profile)
	// Its stdout is block-buffered when not a terminal, so the line naming
	// the WebUI may come only at exit: ask the WebUI until it answers.
	if err := Poll(ctx, name+" WebUI", func() (bool, error) {
		if q.proc.Exited() {
			return false, fmt.Errorf("%s exited: %v", name, q.proc.Err())
		}
		_, err := q.get(ctx, "/app/version", nil)
		return err == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	return q
}

// get sends GET api+path?query and returns the body of a 200 reply.
func (q *QBittorrent) get(ctx context.Context, path string, query url.Values) ([]byte, error) {
	u := q.api + path
	if query != nil {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return q.do(req)
}

// do sends req and returns the body of a 200 reply.
func (q *QBittorrent) do(req *http.Request) ([]byte, error) {
	resp, err := q.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", q.name, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", q.name, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %s: %s", q.name, req.URL.Path, resp.Status, body)
	}
	return body, nil
}

// Add adds the .torrent file at torrent with its data in (or to be
// downloaded into) dir, the folder that holds the torrent's name, and
// returns its info hash. Existing data is checked first.
func (q *QBittorrent) Add(ctx context.Context, t testing.TB, torrent, dir string) metainfo.InfoHash {
	t.Helper()
	mi, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, err := w.CreateFormFile("torrents", filepath.Base(torrent))
	if err == nil {
		_, err = part.Write(data)
	}
	for _, kv := range [][2]string{{"savepath", dir}, {"paused", "false"}, {"skip_checking", "false"}} {
		if err == nil {
			err = w.WriteField(kv[0], kv[1])
		}
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, q.api+"/torrents/add", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	reply, err := q.do(req)
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(reply)); s != "Ok." {
		t.Fatalf("%s refused %s: %q", q.name, torrent, s)
	}
	return mi.InfoHash
}

// Torrent returns the daemon's state of the torrent ih.
func (q *QBittorrent) Torrent(ctx context.Context, ih metainfo.InfoHash) (DaemonTorrent, error) {
	body, err := q.get(ctx, "/torrents/info", url.Values{"hashes": {ih.String()}})
	if err != nil {
		return DaemonTorrent{}, err
	}
	var list []struct {
		Progress   float64 `json:"progress"`
		AmountLeft int64   `json:"amount_left"`
		State      string  `json:"state"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return DaemonTorrent{}, fmt.Errorf("%s torrents/info: %w: %s", q.name, err, body)
	}
	if len(list) == 0 {
		return DaemonTorrent{}, nil // not registered yet: adding is asynchronous
	}
	x := list[0]
	st := DaemonTorrent{Progress: x.Progress, State: x.State}
	switch x.State {
	case "uploading", "stalledUP", "queuedUP", "forcedUP", "pausedUP":
		st.Done = x.AmountLeft == 0 && x.Progress == 1
	case "error", "missingFiles":
		st.Error = x.State
	}
	return st, nil
}

// WaitDone waits until the torrent ih is complete and seeding.
func (q *QBittorrent) WaitDone(ctx context.Context, t testing.TB, ih metainfo.InfoHash) {
	t.Helper()
	if err := waitTorrent(ctx, t.Logf, q.name, func() (DaemonTorrent, error) { return q.Torrent(ctx, ih) }); err != nil {
		t.Fatal(err)
	}
}
