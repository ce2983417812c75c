package trackerclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// id20 makes a recognisable 20-byte ID from a short name.
func id20(name string) [20]byte {
	var b [20]byte
	copy(b[:], name)
	for i := len(name); i < 20; i++ {
		b[i] = byte(i) | 0x80 // exercise non-ASCII escaping
	}
	return b
}

func TestAnnounceRequestURL(t *testing.T) {
	req := AnnounceRequest{InfoHash: [20]byte{0, 'a', '~', ' ', 0xff}, PeerID: id20("-SH-"), Port: 6881,
		Uploaded: 1, Downloaded: 2, Left: 3, Event: EventStarted, NumWant: 9, Key: "k"}
	got, err := AnnounceURL("https://t.example/announce?passkey=abc", req)
	if err != nil {
		t.Fatal(err)
	}
	pid := id20("-SH-")
	want := "https://t.example/announce?passkey=abc&info_hash=%00a~%20%FF" + strings.Repeat("%00", 15) +
		"&peer_id=-SH-" + escapeBytes(pid[4:]) +
		"&port=6881&uploaded=1&downloaded=2&left=3&compact=1&event=started&numwant=9&key=k"
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	req.Zone = "dc1/row4/rack12"
	if got, err := AnnounceURL("http://t.example/announce", req); err != nil || !strings.HasSuffix(got, "&key=k&zone=dc1%2Frow4%2Frack12") {
		t.Fatalf("with a zone: %s, %v", got, err)
	}
	if _, err := AnnounceURL("udp://t.example:6969/announce", req); !errors.Is(err, ErrUnsupportedScheme) {
		t.Fatalf("udp: %v", err)
	}
}

func TestAnnounceErrors(t *testing.T) {
	ctx := context.Background()
	req := AnnounceRequest{Port: 1}

	_, err := Announce(ctx, nil, "wss://tracker.example:6969/announce", req)
	if !errors.Is(err, ErrUnsupportedScheme) || !strings.Contains(err.Error(), "wss://tracker.example:6969/announce") {
		t.Errorf("wss: %v", err)
	}
	_, err = Announce(ctx, nil, "udp://tracker.example/announce", req)
	if !errors.Is(err, ErrUnsupportedScheme) {
		t.Errorf("udp without port: %v", err)
	}

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/announce"
	ln.Close()
	_, err = Announce(ctx, nil, dead, req)
	if err == nil || !strings.Contains(err.Error(), "tracker: announce to "+dead+": ") || strings.Contains(err.Error(), "info_hash") {
		t.Errorf("unreachable: %v", err)
	}

	handler := func(status int, body string) string {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(hs.Close)
		return hs.URL
	}
	_, err = Announce(ctx, nil, handler(502, "<html>bad gateway</html>"), req)
	if !errors.Is(err, ErrHTTPStatus) || !strings.Contains(err.Error(), "502") {
		t.Errorf("502: %v", err)
	}
	_, err = Announce(ctx, nil, handler(403, "d14:failure reason6:bannede"), req)
	if !errors.Is(err, ErrTrackerFailure) || !strings.Contains(err.Error(), `"banned"`) {
		t.Errorf("403 with reason: %v", err)
	}
	_, err = Announce(ctx, nil, handler(200, "d5:peers"+strings.Repeat("x", MaxResponseSize)), req)
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge body: %v", err)
	}
	_, err = Announce(ctx, nil, handler(200, "not bencode"), req)
	if !errors.Is(err, ErrBadResponse) {
		t.Errorf("garbage: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Announce(cctx, nil, handler(200, "de"), req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestUDPClientTimesOut(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0") // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = Announce(ctx, nil, "udp://"+pc.LocalAddr().String()+"/announce", AnnounceRequest{Port: 1, Left: 1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent tracker: %v", err)
	}
}
