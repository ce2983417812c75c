package harness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Transmission is a transmission-daemon (Debian's transmission-daemon) run
// for one test: its own config folder, peer and RPC ports on 127.0.0.1,
// no DHT, LPD, PEX, uTP or port mapping, encryption tolerated, no speed or
// ratio limits. It is driven through its JSON RPC (the protocol
// transmission-remote speaks).
type Transmission struct {
	proc     *Proc
	name     string
	PeerAddr string // HOST:PORT where it accepts BitTorrent peers
	rpcURL   string
	session  string // X-Transmission-Session-Id, learnt from a 409
	hc       http.Client
}

// StartTransmission starts transmission-daemon in the foreground with a
// fresh config folder under a test temp dir and waits until its RPC
// server is up. It skips the test when the daemon is not installed.
func StartTransmission(ctx context.Context, t testing.TB, name string) *Transmission {
	t.Helper()
	bin := NeedProgram(t, "transmission-daemon", "transmission-daemon")
	dir := t.TempDir()
	peerPort, rpcPort := FreePort(t), FreePort(t)
	settings := map[string]any{
		"rpc-port": rpcPort, "rpc-bind-address": "127.0.0.1", "rpc-authentication-required": false,
		"rpc-whitelist-enabled": false, "rpc-host-whitelist-enabled": false,
		"peer-port": peerPort, "peer-port-random-on-start": false, "bind-address-ipv4": "127.0.0.1",
		"bind-address-ipv6": "::1", "port-forwarding-enabled": false,
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
		"encryption":        0, // prefer plaintext, accept both: Shoal does not speak MSE
		"blocklist-enabled": false, "download-dir": filepath.Join(dir, "downloads"),
		"incomplete-dir-enabled": false, "watch-dir-enabled": false, "start-added-torrents": true,
		"speed-limit-up-enabled": false, "speed-limit-down-enabled": false, "alt-speed-enabled": false,
		"ratio-limit-enabled": false, "idle-seeding-limit-enabled": false, "queue-stalled-enabled": false,
		"download-queue-enabled": false, "seed-queue-enabled": false,
	}
	data, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "settings.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	tr := &Transmission{
		name:     name,
		PeerAddr: "127.0.0.1:" + strconv.Itoa(peerPort),
		rpcURL:   fmt.Sprintf("http://127.0.0.1:%d/transmission/rpc", rpcPort),
	}
	tr.proc = Start(ctx, t, name, bin, "--foreground", "--config-dir", dir, "--log-info")
	if err := tr.proc.WaitStderr(ctx, "its RPC server", func(s string) bool {
		return bytes.Contains([]byte(s), []byte("Serving RPC and Web requests"))
	}); err != nil {
		t.Fatal(err)
	}
	return tr
}

// call runs one RPC method and decodes its arguments into out (may be nil).
func (tr *Transmission) call(ctx context.Context, method string, args, out any) error {
	body, err := json.Marshal(map[string]any{"method": method, "arguments": args})
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 2; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tr.rpcURL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("X-Transmission-Session-Id", tr.session)
		resp, err := tr.hc.Do(req)
		if err != nil {
			return fmt.Errorf("%s rpc %s: %w", tr.name, method, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s rpc %s: %w", tr.name, method, err)
		}
		if resp.StatusCode == http.StatusConflict { // CSRF guard: retry with the id it hands out
			tr.session = resp.Header.Get("X-Transmission-Session-Id")
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s rpc %s: HTTP %s: %s", tr.name, method, resp.Status, data)
		}
		var reply struct {
			Result    string          `json:"result"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if err := json.Unmarshal(data, &reply); err != nil {
			return fmt.Errorf("%s rpc %s: %w: %s", tr.name, method, err, data)
		}
		if reply.Result != "success" {
			return fmt.Errorf("%s rpc %s: %s", tr.name, method, reply.Result)
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(reply.Arguments, out)
	}
	return fmt.Errorf("%s rpc %s: no session id after a 409", tr.name, method)
}

// Add adds the .torrent file at torrent with its data in (or to be
// downloaded into) dir, the folder that holds the torrent's name, and
// returns the daemon's id for it. The torrent starts at once; existing
// data is verified first.
func (tr *Transmission) Add(ctx context.Context, t testing.TB, torrent, dir string) int {
	t.Helper()
	meta, err := os.ReadFile(torrent)
	if err != nil {
		t.Fatal(err)
	}
	type added struct {
		ID int `json:"id"`
	}
	var out struct {
		Added     *added `json:"torrent-added"`
		Duplicate *added `json:"torrent-duplicate"`
	}
	args := map[string]any{"metainfo": base64.StdEncoding.EncodeToString(meta), "download-dir": dir, "paused": false}
	if err := tr.call(ctx, "torrent-add", args, &out); err != nil {
		t.Fatal(err)
	}
	if out.Added == nil {
		t.Fatalf("%s: torrent-add of %s added no torrent (duplicate: %v)", tr.name, torrent, out.Duplicate != nil)
	}
	return out.Added.ID
}

// Torrent returns the daemon's state of torrent id.
func (tr *Transmission) Torrent(ctx context.Context, id int) (DaemonTorrent, error) {
	var out struct {
		Torrents []struct {
			PercentDone   float64 `json:"percentDone"`
			LeftUntilDone int64   `json:"leftUntilDone"`
			Status        int     `json:"status"`
			Error         int     `json:"error"`
			ErrorString   string  `json:"errorString"`
		} `json:"torrents"`
	}
	args := map[string]any{"ids": []int{id}, "fields": []string{"percentDone", "leftUntilDone", "status", "error", "errorString"}}
	if err := tr.call(ctx, "torrent-get", args, &out); err != nil {
		return DaemonTorrent{}, err
	}
	if len(out.Torrents) != 1 {
		return DaemonTorrent{}, fmt.Errorf("%s has no torrent %d", tr.name, id)
	}
	x := out.Torrents[0]
	// Status 6 is "seeding" (libtransmission TR_STATUS_SEED): verified and
	// complete. Error 3 is a local error; 1 and 2 are tracker warnings and
	// errors, which a test swarm without a tracker would raise needlessly.
	st := DaemonTorrent{Done: x.Status == 6 && x.LeftUntilDone == 0, Progress: x.PercentDone,
		State: fmt.Sprintf("status %d", x.Status)}
	if x.Error == 3 {
		st.Error = x.ErrorString
	}
	return st, nil
}

// WaitDone waits until torrent id is complete and seeding.
func (tr *Transmission) WaitDone(ctx context.Context, t testing.TB, id int) {
	t.Helper()
	if err := waitTorrent(ctx, t.Logf, tr.name, func() (DaemonTorrent, error) { return tr.Torrent(ctx, id) }); err != nil {
		t.Fatal(err)
	}
}

// TransmissionCreate makes a torrent of content (a file or a folder) with
// transmission-create (Debian's transmission-cli), pieceKiB KiB per piece,
// writing out.
func TransmissionCreate(ctx context.Context, t testing.TB, content, out string, pieceKiB int) {
	t.Helper()
	bin := NeedProgram(t, "transmission-create", "transmission-cli")
	p := Start(ctx, t, "transmission-create", bin, "-o", out, "-s", strconv.Itoa(pieceKiB), content)
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("transmission-create: %v\n%s", err, p.Stdout().Tail(10))
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("transmission-create wrote no torrent: %v", err)
	}
}
