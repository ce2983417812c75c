package fleetpage

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// browser is a headless Chromium driven over the DevTools protocol on
// the pipe of --remote-debugging-pipe: requests go to its fd 3, replies
// and events come from its fd 4, each a JSON message ended by a NUL.
type browser struct {
	t       testing.TB
	cmd     *exec.Cmd
	out     *os.File // our end of Chromium's fd 3
	stderr  *harness.Output
	session string // the page's flat session

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpReply
	dead    error         // set when the pipe from Chromium ended
	done    chan struct{} // closed when the reader goroutine ends
}

type cdpReply struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// chromiumFlags run Chromium headless as root with a fresh profile and
// nothing fetched from the network but the pages asked for.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-dev-shm-usage", "--window-size=1400,1100", "--remote-debugging-pipe",
}

// startBrowser starts Chromium; it is stopped when the test ends. The
// test is skipped when chromium is not installed.
func startBrowser(t testing.TB) *browser {
	t.Helper()
	bin := harness.NeedProgram(t, "chromium", "chromium")
	chromeIn, ourOut, err := os.Pipe() // Chromium reads fd 3
	if err != nil {
		t.Fatal(err)
	}
	ourIn, chromeOut, err := os.Pipe() // Chromium writes fd 4
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--user-data-dir=" + t.TempDir()}, chromiumFlags...)...)
	cmd.ExtraFiles = []*os.File{chromeIn, chromeOut}
	b := &browser{t: t, cmd: cmd, out: ourOut, stderr: harness.NewOutput(), pending: map[int]chan cdpReply{}, done: make(chan struct{})}
	cmd.Stderr = b.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	chromeIn.Close()
	chromeOut.Close()
	go b.read(ourIn)
	t.Cleanup(func() {
		ourOut.Close() // Chromium exits when its pipe closes
		select {
		case <-b.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-b.done
		}
		cmd.Wait()
		if t.Failed() {
			t.Logf("chromium stderr (tail):\n%s", b.stderr.Tail(30))
		}
	})
	return b
}

// read dispatches Chromium's replies to their callers until the pipe
// ends; events are not needed and dropped.
func (b *browser) read(in *os.File) {
	defer close(b.done)
	defer in.Close()
	r := bufio.NewReaderSize(in, 1<<20)
	var err error
	for {
		var msg []byte
		if msg, err = r.ReadBytes(0); err != nil {
			break
		}
		var rep cdpReply
		if json.Unmarshal(msg[:len(msg)-1], &rep) != nil || rep.ID == 0 {
			continue
		}
		b.mu.Lock()
		ch := b.pending[rep.ID]
		delete(b.pending, rep.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- rep
		}
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("chromium closed the DevTools pipe")
	}
	b.mu.Lock()
	b.dead = err
	for id, ch := range b.pending {
		close(ch)
		delete(b.pending, id)
	}
	b.mu.Unlock()
}

// call sends one DevTools command (on the page's session unless
// browser-wide) and returns its result.
func (b *browser) call(ctx context.Context, session, method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	if b.dead != nil {
		b.mu.Unlock()
		return nil, b.dead
	}
	b.nextID++
	id := b.nextID
	ch := make(chan cdpReply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	req := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		req["sessionId"] = session
	}
	msg, _ := json.Marshal(req)
	if _, err := b.out.Write(append(msg, 0)); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: %w", method, b.dead)
		}
		if rep.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, rep.Error.Message)
		}
		return rep.Result, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// open opens url in a new page and waits for its load event.
func (b *browser) open(ctx context.Context, url string) {
	b.t.Helper()
	res, err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		b.t.Fatal(err)
	}
	var target struct{ TargetID string }
	json.Unmarshal(res, &target)
	res, err = b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	if err != nil {
		b.t.Fatal(err)
	}
	var att struct{ SessionID string }
	json.Unmarshal(res, &att)
	b.session = att.SessionID
	if _, err := b.call(ctx, b.session, "Page.navigate", map[string]any{"url": url}); err != nil {
		b.t.Fatal(err)
	}
	b.wait(ctx, "the page to load", `document.readyState === "complete"`)
}

// eval evaluates a JavaScript expression in the page, awaiting it if it
// is a promise, and decodes its value into out.
func (b *browser) eval(ctx context.Context, expr string, out any) error {
	res, err := b.call(ctx, b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		return fmt.Errorf("page threw: %s %s", e.Text, e.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// wait blocks until the JavaScript expression cond is truthy in the page,
// checked again at every change of the DOM (a MutationObserver: an event,
// not a poll), failing the test when ctx ends first.
func (b *browser) wait(ctx context.Context, what, cond string) {
	b.t.Helper()
	expr := `new Promise((resolve) => {
		const check = () => { try { return !!(` + cond + `); } catch (e) { return false; } };
		if (check()) { resolve(true); return; }
		const o = new MutationObserver(() => { if (check()) { o.disconnect(); resolve(true); } });
		o.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
		document.addEventListener("readystatechange", () => { if (check()) { o.disconnect(); resolve(true); } });
	})`
	if err := b.eval(ctx, expr, nil); err != nil {
		var text string
		b.eval(context.Background(), `document.body ? document.body.innerText : ""`, &text)
		b.t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, cond, err, text)
	}
}

// screenshot saves a PNG of the page to path.
func (b *browser) screenshot(ctx context.Context, path string) {
	b.t.Helper()
	res, err := b.call(ctx, b.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	if err != nil {
		b.t.Fatal(err)
	}
	var shot struct{ Data string }
	json.Unmarshal(res, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil || len(png) == 0 {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
