package client

import (
	"context"
	"strconv"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
)

// announceLoop keeps one tracker informed and feeds the peers it hands out
// to the torrent: "started" at once, then every interval (sooner while we
// have few peers), "completed" when the download finishes and "stopped"
// when the torrent closes.
func (t *Torrent) announceLoop(url string) {
	defer t.wg.Done()
	ev := trackerclient.Event("started")
	completed := t.completed
	if t.Stats().Complete {
		completed = nil // a seed never "completes"
	}
	wait := time.Duration(0)
	failures := 0
	for {
		timer := time.NewTimer(wait)
		select {
		case <-t.ctx.Done():
			timer.Stop()
			t.announceStopped(url)
			return
		case <-completed:
			timer.Stop()
			completed = nil
			ev = "completed"
		case <-timer.C:
		}
		resp, err := t.announce(t.ctx, url, ev)
		if err != nil {
			if t.ctx.Err() != nil {
				continue
			}
			failures++
			t.log.Warn("announce failed", "tracker", url, "err", err)
			t.mu.Lock()
			t.stats.TrackerError = err.Error()
			t.mu.Unlock()
			wait = time.Duration(min(failures, 6)) * 5 * time.Second
			continue
		}
		failures = 0
		t.mu.Lock()
		t.stats.TrackerError = ""
		t.mu.Unlock()
		ev = ""
		if addrs := addrStrings(resp.Peers); len(addrs) > 0 {
			t.post(event{kind: evPeers, addrs: addrs})
		}
		wait = resp.Interval
		if wait <= 0 {
			wait = 30 * time.Second
		}
		if st := t.Stats(); st.Peers < 5 && !st.Complete {
			// Few peers: ask again at the tracker's minimum interval.
			short := resp.MinInterval
			if short <= 0 {
				short = 5 * time.Second
			}
			wait = min(wait, short)
		}
	}
}

// announceStopped tells the tracker we left, with a short deadline.
func (t *Torrent) announceStopped(url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	t.announce(ctx, url, "stopped")
}

// announce sends one announce with our current counters.
func (t *Torrent) announce(ctx context.Context, url string, ev trackerclient.Event) (*trackerclient.AnnounceResponse, error) {
	port := t.c.listenPort()
	st := t.Stats()
	req := trackerclient.AnnounceRequest{
		InfoHash:   t.mi.InfoHash,
		PeerID:     t.c.cfg.PeerID,
		Port:       uint16(port),
		Uploaded:   st.Uploaded,
		Downloaded: st.Downloaded,
		Left:       st.BytesLeft,
		Event:      ev,
		NumWant:    50,
		Key:        strconv.FormatUint(uint64(t.c.cfg.PeerID[19])<<8|uint64(t.c.cfg.PeerID[18]), 16),
	}
	return trackerclient.Announce(ctx, t.c.cfg.HTTPClient, url, req)
}
