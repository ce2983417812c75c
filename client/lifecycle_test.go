package client

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// TestCloseDuringDownloadNoLeakThenResume closes a getter in the middle of
// a download: every goroutine it started must end, and a new Client on the
// same folder must find the verified pieces and finish.
func TestCloseDuringDownloadNoLeakThenResume(t *testing.T) {
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), 4<<20, 10)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 64<<10)
	slow := newTestClient(t, Config{UploadLimit: 512 << 10})
	addTorrent(t, slow, mi, TorrentOptions{Dir: src, Seed: true})

	baseline := runtime.NumGoroutine()
	out := t.TempDir()
	getter, err := New(Config{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{slow.Addr().String()}})
	waitFor(t, 20*time.Second, "a few verified pieces", func() bool { return tor.Stats().Verified >= 3 })
	closed := make(chan error, 1)
	go func() { closed <- getter.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Close did not return:\n%s", goroutineDump())
	}
	select {
	case <-tor.Done():
	default:
		t.Error("Done is not closed after Close")
	}
	if n, ok := settleGoroutines(baseline, 5*time.Second); !ok {
		t.Fatalf("%d goroutines after Close, %d before the getter:\n%s", n, baseline, goroutineDump())
	}
	if _, err := getter.AddTorrent(mi, TorrentOptions{Dir: out, Trackers: []string{}}); err == nil {
		t.Error("AddTorrent on a closed Client succeeded")
	}

	fast := newTestClient(t, Config{})
	addTorrent(t, fast, mi, TorrentOptions{Dir: src, Seed: true})
	again := newTestClient(t, Config{})
	tor2 := addTorrent(t, again, mi, TorrentOptions{Dir: out, Peers: []string{fast.Addr().String()}})
	if st := tor2.Stats(); st.HadAtStart < 3 || st.HadAtStart >= st.Pieces {
		t.Errorf("resumed with HadAtStart = %d of %d, want at least the 3 verified", st.HadAtStart, st.Pieces)
	}
	waitDone(t, tor2, 30*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
	st := tor2.Stats()
	if want := int64(st.Pieces-st.HadAtStart) * 64 << 10; st.Downloaded < want-64<<10 || st.Downloaded > want+want/10+64<<10 {
		t.Errorf("resumed download fetched %d bytes, want about %d", st.Downloaded, want)
	}
}

// TestTorrentCloseIdempotentAndReAdd closes a torrent twice, then adds it
// again on the same Client.
func TestTorrentCloseIdempotentAndReAdd(t *testing.T) {
	src := t.TempDir()
	writeRandomFile(t, filepath.Join(src, "f.bin"), 100_000, 11)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 32<<10)
	c := newTestClient(t, Config{})
	tor := addTorrent(t, c, mi, TorrentOptions{Dir: src, Seed: true})
	if _, err := c.AddTorrent(mi, TorrentOptions{Dir: src, Seed: true, Trackers: []string{}}); err == nil {
		t.Error("adding the same torrent twice succeeded")
	}
	if err := tor.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	tor.Close() // must not panic or hang
	tor2 := addTorrent(t, c, mi, TorrentOptions{Dir: src, Seed: true})
	waitDone(t, tor2, 5*time.Second)
}

// TestAddTorrentUnwritableDir reports a folder that cannot be created or
// written with an error naming the cause, and leaves nothing running.
func TestAddTorrentUnwritableDir(t *testing.T) {
	src := t.TempDir()
	writeRandomFile(t, filepath.Join(src, "f.bin"), 100_000, 12)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 32<<10)
	c := newTestClient(t, Config{})

	blocker := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := c.AddTorrent(mi, TorrentOptions{Dir: filepath.Join(blocker, "sub"), Trackers: []string{}})
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("AddTorrent under a regular file: err = %v, want one saying it is not a directory", err)
	}

	if os.Geteuid() == 0 {
		t.Log("running as root: skipping the read-only folder case, permissions do not apply")
	} else {
		ro := t.TempDir()
		if err := os.Chmod(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(ro, 0o755) })
		_, err := c.AddTorrent(mi, TorrentOptions{Dir: ro, Trackers: []string{}})
		if err == nil || !errors.Is(err, os.ErrPermission) {
			t.Errorf("AddTorrent into a read-only folder: err = %v, want permission denied", err)
		}
	}
	// Seeding from a folder without the data is refused too.
	_, err = c.AddTorrent(mi, TorrentOptions{Dir: t.TempDir(), Seed: true, Trackers: []string{}})
	if err == nil {
		t.Error("seeding a missing file succeeded")
	}
	// The failed adds must not have registered the torrent.
	tor := addTorrent(t, c, mi, TorrentOptions{Dir: src, Seed: true})
	waitDone(t, tor, 5*time.Second)
}

// TestIncomingUnknownInfoHash checks the receiving side of the handshake
// hangs up, without answering, on a torrent it does not serve.
func TestIncomingUnknownInfoHash(t *testing.T) {
	c := newTestClient(t, Config{})
	nc, err := net.Dial("tcp", c.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hs := wire.Handshake{Reserved: wire.DefaultReserved(), PeerID: NewPeerID()}
	copy(hs.InfoHash[:], "not-a-served-torrent")
	if _, err := nc.Write(hs.Marshal()); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(nc)
	if len(got) != 0 || (err != nil && !isReset(err)) {
		t.Errorf("read %d bytes, err %v; want the connection closed without a reply", len(got), err)
	}
}

// TestIncomingBadProtocolString checks that a connection whose first bytes
// are not a BitTorrent handshake gets no handshake back.
func TestIncomingBadProtocolString(t *testing.T) {
	src := t.TempDir()
	writeRandomFile(t, filepath.Join(src, "f.bin"), 100_000, 13)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 32<<10)
	c := newTestClient(t, Config{})
	addTorrent(t, c, mi, TorrentOptions{Dir: src, Seed: true})

	nc, err := net.Dial("tcp", c.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hs := wire.Handshake{InfoHash: mi.InfoHash, PeerID: NewPeerID()}
	b := hs.Marshal()
	copy(b[1:], "GET / HTTP/1.1\r\nHost")
	if _, err := nc.Write(b[:48]); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	got := make([]byte, 68)
	n, _ := io.ReadFull(nc, got)
	if n > 0 && bytes.Contains(got[:n], mi.InfoHash[:]) {
		t.Errorf("answered a non-BitTorrent opening with our handshake (%d bytes)", n)
	}
}

// TestCloseWithSilentPeersIsPrompt holds a connection open to the Client
// and has a torrent dial a peer that never answers the handshake: Close
// must not wait out the 15 s handshake timeout.
func TestCloseWithSilentPeersIsPrompt(t *testing.T) {
	src := t.TempDir()
	writeRandomFile(t, filepath.Join(src, "f.bin"), 100_000, 14)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 32<<10)

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	dialed := make(chan net.Conn, 4)
	go func() {
		for {
			nc, err := silent.Accept()
			if err != nil {
				return
			}
			dialed <- nc
		}
	}()

	c, err := New(Config{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	addTorrent(t, c, mi, TorrentOptions{Dir: t.TempDir(), Peers: []string{silent.Addr().String()}})
	select {
	case nc := <-dialed:
		defer nc.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the torrent did not dial its peer")
	}
	in, err := net.Dial("tcp", c.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()

	start := time.Now()
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("Close hung:\n%s", goroutineDump())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v: it waits out the handshake deadline of silent peers", d)
	}
}
