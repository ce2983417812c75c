package tracker

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveHTTP serves hs on a loopback port for the test and returns its
// address.
func serveHTTP(t *testing.T, hs *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// TestHTTPServerLimits: the server a tracker is served with refuses
// oversized headers and closes a connection that never finishes its
// request, while an ordinary announce is answered.
func TestHTTPServerLimits(t *testing.T) {
	srv := NewServer(ServerConfig{Logger: discard()})
	hs := srv.HTTPServer()
	if hs.Handler != srv || hs.MaxHeaderBytes != HTTPMaxHeaderBytes || hs.ReadHeaderTimeout != HTTPReadHeaderTimeout ||
		hs.WriteTimeout != HTTPWriteTimeout || hs.IdleTimeout != HTTPIdleTimeout || hs.ReadTimeout != HTTPReadTimeout {
		t.Fatalf("limits not set: %+v", hs)
	}
	hs.ReadHeaderTimeout = 200 * time.Millisecond // the test's own, to keep it short
	addr := serveHTTP(t, hs)

	// Headers over the bound: 431, whatever the handler would say.
	req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Pad", strings.Repeat("a", 2*HTTPMaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized headers: %s", resp.Status)
	}

	// A request line and no more: the server hangs up.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // the test's own bound
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("slow client still connected: %v", err)
	}

	// An ordinary request is answered.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	io.WriteString(c2, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
}
