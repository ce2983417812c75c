package client

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"time"

	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/trackerclient"
)

// startAnnounce performs a peer manager's Announce in the background and
// reports it as an announcedEvent.
func (t *Torrent) startAnnounce(a peers.Action) {
	if a.Tracker < 0 || a.Tracker >= len(t.trackers) {
		return
	}
	url := t.trackers[a.Tracker]
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		resp, err := t.announce(t.ctx, url, trackerclient.Event(a.Event), a.NumWant)
		if t.ctx.Err() != nil {
			return
		}
		t.post(announcedEvent{tracker: a.Tracker, resp: resp, err: err})
	}()
}

// announceStopped tells a tracker we left, with a short deadline of its
// own (the torrent's context is done by then).
func (t *Torrent) announceStopped(a peers.Action) {
	if a.Tracker < 0 || a.Tracker >= len(t.trackers) {
		return
	}
	url := t.trackers[a.Tracker]
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		t.announce(ctx, url, trackerclient.Event(peers.EventStopped), 0)
	}()
}

// onAnnounced hands an announce's result to the peer manager and keeps the
// last error for Stats.
func (t *Torrent) onAnnounced(now time.Time, e announcedEvent) {
	res := peers.AnnounceResult{Err: e.err}
	t.mu.Lock()
	if e.err != nil {
		t.stats.TrackerError = e.err.Error()
	} else {
		t.stats.TrackerError = ""
	}
	t.mu.Unlock()
	if e.err != nil {
		t.log.Warn("announce failed", "tracker", t.trackers[e.tracker], "err", e.err)
	} else {
		res.Interval, res.MinInterval, res.Peers = e.resp.Interval, e.resp.MinInterval, e.resp.Peers
	}
	t.mgr.AnnounceDone(now, e.tracker, res)
}

// announce sends one announce with our current counters.
func (t *Torrent) announce(ctx context.Context, url string, ev trackerclient.Event, numWant int) (*trackerclient.AnnounceResponse, error) {
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
		NumWant:    numWant,
		Key:        t.c.announceKey(),
		Zone:       t.c.cfg.Zone,
	}
	return trackerclient.Announce(ctx, t.c.cfg.HTTPClient, url, req)
}

// announceKey is our tracker "key" (BEP 7's key parameter): stable for the
// Client, random, and not derived from anything a peer or a tracker sees.
func (c *Client) announceKey() string { return c.key }

// newAnnounceKey draws a Client's tracker key: 64 bits from crypto/rand, in
// hex.
func newAnnounceKey() string {
	var b [8]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
