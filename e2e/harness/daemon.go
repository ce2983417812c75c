package harness

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// The BitTorrent daemons the interop tests drive (Transmission,
// qBittorrent, rtorrent) take fixed port numbers in their settings and
// answer questions only through their own APIs; this file holds what their
// drivers share.

// pollEvery is how often a driver asks a daemon for its state while it
// waits for one (a daemon has no way to push it).
const pollEvery = 100 * time.Millisecond

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// programs that must be told their port instead of reporting a port 0
// listener. Another process could take it before the program binds it;
// on a test machine that is rare, and the program then fails to start
// with a clear error.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Poll calls check every pollEvery until it reports done, returns an
// error, or ctx ends; what names the awaited state in the error. It is
// how a test waits on a daemon that can only be asked.
func Poll(ctx context.Context, what string, check func() (done bool, err error)) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		done, err := check()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// DaemonTorrent is a daemon's view of one torrent, in the units the
// drivers share.
type DaemonTorrent struct {
	Done     bool    // every piece verified and the torrent is seeding (or complete)
	Progress float64 // 0..1
	Error    string  // the daemon's error for the torrent, "" if none
	State    string  // the daemon's own word for its state, for logs
}

// waitTorrent polls get until the torrent is done, failing on its error.
func waitTorrent(ctx context.Context, logf func(string, ...any), name string, get func() (DaemonTorrent, error)) error {
	var last DaemonTorrent
	start, lastLog := time.Now(), time.Now()
	err := Poll(ctx, name+" to complete the torrent", func() (bool, error) {
		st, err := get()
		if err != nil {
			return false, err
		}
		if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			logf("%s: %s, %.1f%% after %.1fs", name, st.State, 100*st.Progress, time.Since(start).Seconds())
		}
		last = st
		if st.Error != "" {
			return false, fmt.Errorf("%s reports a torrent error: %s", name, st.Error)
		}
		return st.Done, nil
	})
	if err != nil {
		return fmt.Errorf("%w (last state %q, %.1f%%)", err, last.State, 100*last.Progress)
	}
	logf("%s: torrent complete after %.1fs", name, time.Since(start).Seconds())
	return nil
}
