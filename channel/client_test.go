package channel

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
)

func TestNewClient(t *testing.T) {
	cases := []struct{ in, base, key, err string }{
		{in: "http://h:6969/announce", base: "http://h:6969"},
		{in: "https://tracker.example/announce", base: "https://tracker.example"},
		{in: "http://h:6969/TOKEN/announce", base: "http://h:6969", key: "TOKEN"},
		{in: "http://h:6969/a%2Fb/announce", base: "http://h:6969", key: "a/b"},
		{in: "http://h:6969/announce?key=K2", base: "http://h:6969", key: "K2"},
		{in: "http://h:6969", base: "http://h:6969"},
		{in: "http://[::1]:6969/announce", base: "http://[::1]:6969"},
		{in: "udp://h:6969/announce", err: "http or https"},
		{in: "http://h:6969/scrape", err: "/announce"},
		{in: "http://h:6969/a/b/announce", err: "/announce"},
		{in: "http:///announce", err: "no host"},
		{in: "://", err: "tracker URL"},
	}
	for _, c := range cases {
		cl, err := NewClient(c.in, nil)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || cl.BaseURL() != c.base || cl.key != c.key {
			t.Errorf("%q: base %q key %q err %v, want %q %q", c.in, cl.BaseURL(), cl.key, err, c.base, c.key)
		}
	}
}

// fake serves one handler per path for client tests against a tracker
// that lies or refuses.
func fake(t *testing.T, routes map[string]http.HandlerFunc) *Client {
	t.Helper()
	mux := http.NewServeMux()
	for p, h := range routes {
		mux.HandleFunc(p, h)
	}
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	c, err := NewClient(hs.URL+"/announce", hs.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonReply(status int, v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
}

func TestClientMapsRefusals(t *testing.T) {
	for status, want := range map[int]error{404: ErrUnknownChannel, 403: ErrForbidden, 409: ErrConflict, 400: ErrInvalid, 413: ErrTooLarge} {
		c := fake(t, map[string]http.HandlerFunc{"/v1/channels/build": jsonReply(status, ErrorBody{Error: "the reason"})})
		_, err := c.Releases(context.Background(), "build")
		var se *StatusError
		if !errors.Is(err, want) || !errors.As(err, &se) || se.Status != status || !strings.Contains(err.Error(), "the reason") {
			t.Errorf("status %d: %v", status, err)
		}
	}
	c := fake(t, map[string]http.HandlerFunc{"/v1/channels/build": func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>proxy error</html>", http.StatusBadGateway)
	}})
	if _, err := c.Releases(context.Background(), "build"); err == nil || !strings.Contains(err.Error(), "answered 502: Bad Gateway") {
		t.Errorf("502 from a proxy: %v", err)
	}
}

func TestClientRefusesLies(t *testing.T) {
	info := []byte("d4:name1:xe")
	want := metainfo.InfoHash(sha1.Sum(info))
	ctx := context.Background()
	c := fake(t, map[string]http.HandlerFunc{
		"/v1/channels/build/releases/1/info": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("d4:name1:ye")) },
		"/v1/channels/build/releases/2/info": func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, MaxInfoSize+1)) },
		"/v1/channels/build/next":            jsonReply(200, sampleRelease(3)),
		"/v1/channels/build/releases":        jsonReply(201, sampleRelease(3)),
		"/v1/channels/build":                 jsonReply(200, ReleaseList{Channel: "other"}),
	})
	if _, err := c.Info(ctx, "build", 1, want); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "hashes to") {
		t.Errorf("info of the wrong bytes: %v", err)
	}
	if _, err := c.Info(ctx, "build", 2, want); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized info: %v", err)
	}
	if _, _, err := c.Next(ctx, "build", 3); !errors.Is(err, ErrInvalid) {
		t.Errorf("next answering an old release: %v", err)
	}
	if _, err := c.Publish(ctx, "build", "k", info, 0); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not what was sent") {
		t.Errorf("publish answered with another info hash: %v", err)
	}
	if _, err := c.Releases(ctx, "build"); !errors.Is(err, ErrInvalid) {
		t.Errorf("releases of another channel: %v", err)
	}
	if _, err := c.Releases(ctx, "../etc"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad channel name sent: %v", err)
	}
	if err := c.Report(ctx, "build", HostReport{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid report sent: %v", err)
	}
	if _, err := c.Publish(ctx, "build", "k", make([]byte, MaxInfoSize+1), 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized publish sent: %v", err)
	}
}

// TestNextFitsTheContext: a caller whose context ends before a full long
// poll asks the tracker to answer in time, and gets ok=false, not an
// error.
func TestNextFitsTheContext(t *testing.T) {
	got := make(chan string, 1)
	c := fake(t, map[string]http.HandlerFunc{"/v1/channels/build/next": func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query().Get("wait") + " after=" + r.URL.Query().Get("after") + " key=" + r.URL.Query().Get("key")
		w.WriteHeader(http.StatusNoContent)
	}})
	c.key = "K"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, ok, err := c.Next(ctx, "build", 4)
	if err != nil || ok {
		t.Fatalf("next: ok=%v err=%v", ok, err)
	}
	q := <-got
	wait, rest, _ := strings.Cut(q, " ")
	d, err := time.ParseDuration(wait)
	if err != nil || d > 2*time.Second || d < time.Second || rest != "after=4 key=K" {
		t.Fatalf("query %q", q)
	}
}

// TestNoServerDependencies: a program that only subscribes links none of
// the tracker's stores, Redis or Prometheus.
func TestNoServerDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"/tracker", "redis", "prometheus"} {
			if strings.Contains(dep, bad) {
				t.Errorf("package channel depends on %s", dep)
			}
		}
	}
}

// TestErrorsHideTheKey: a transport error names the URL without the
// announce key of a private tracker.
func TestErrorsHideTheKey(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	base := hs.URL
	hs.Close() // nothing listens there now
	c, err := NewClient(base+"/s3cr3t-key/announce", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Releases(context.Background(), "build")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "REDACTED") {
		t.Fatalf("error %v", err)
	}
}
