package tracker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

// The fleet page's data: a snapshot of every channel of a tenant, built
// by the pure buildFleet from the store's views, served as JSON at
// /v1/fleet and pushed as server-sent events at /v1/fleet/events.

// Bounds on a fleet snapshot, so one stays small at 10,000 hosts.
const (
	maxFleetMissing = 50  // host names listed per release as missing
	maxFleetHosts   = 500 // hosts listed per channel
	maxCurvePoints  = 200 // points of a completion curve
	maxFleetZones   = 64  // zones counted per release
)

// FleetSnapshot is the body of GET /v1/fleet.
type FleetSnapshot struct {
	Now      time.Time      `json:"now"`
	Channels []FleetChannel `json:"channels"`
}

// FleetChannel is one channel of a [FleetSnapshot].
type FleetChannel struct {
	Channel string `json:"channel"`
	// Subscribers counts the live hosts that are not origins.
	Subscribers int `json:"subscribers"`
	// Origins names the live hosts that report as origins.
	Origins []string `json:"origins"`
	// DownRate and UpRate sum the live hosts' payload rates (bytes/s).
	DownRate float64 `json:"down_rate"`
	UpRate   float64 `json:"up_rate"`
	// Releases are the kept releases, newest first.
	Releases []FleetRelease `json:"releases"`
	// Hosts lists the live hosts by name (at most maxFleetHosts; HostCount
	// counts them all).
	Hosts     []FleetHost `json:"hosts"`
	HostCount int         `json:"host_count"`
}

// FleetRelease is one release of a [FleetChannel].
type FleetRelease struct {
	channel.Release
	// Done counts the subscribers that completed the release; Fetching
	// those fetching it now.
	Done     int `json:"done"`
	Fetching int `json:"fetching"`
	// Missing names subscribers that have not completed it (at most
	// maxFleetMissing; MissingCount counts them all).
	Missing      []string `json:"missing"`
	MissingCount int      `json:"missing_count"`
	// Curve is the completion curve: after T seconds from the publish,
	// Done subscribers had completed it (at most maxCurvePoints points).
	Curve []CurvePoint `json:"curve"`
	// LastAfter is seconds from the publish to the last subscriber's
	// completion, once every subscriber has completed; 0 before.
	LastAfter float64 `json:"last_after,omitempty"`
	// OriginEgress is what the origins uploaded from this release's
	// publish to the next one's (or now); EgressCopies is that in copies
	// of the release.
	OriginEgress int64   `json:"origin_egress"`
	EgressCopies float64 `json:"egress_copies"`
	// Zones counts done and subscribed hosts per zone label, by name (at
	// most maxFleetZones; empty when no subscriber has a zone).
	Zones []ZoneCount `json:"zones"`
}

// ZoneCount is one zone's share of a release: Done of Of subscribers.
type ZoneCount struct {
	Zone string `json:"zone"`
	Done int    `json:"done"`
	Of   int    `json:"of"`
}

// CurvePoint is one step of a completion curve.
type CurvePoint struct {
	T    float64 `json:"t"`
	Done int     `json:"done"`
}

// FleetHost is one live host of a [FleetChannel].
type FleetHost struct {
	Host     string  `json:"host"`
	Zone     string  `json:"zone,omitempty"`
	Current  uint64  `json:"current"`
	Fetching uint64  `json:"fetching,omitempty"`
	Progress float64 `json:"progress,omitempty"`
	DownRate float64 `json:"down_rate"`
	UpRate   float64 `json:"up_rate"`
	Origin   bool    `json:"origin,omitempty"`
	// Age is seconds since the host's last report.
	Age float64 `json:"age"`
}

// buildFleet turns store views into the fleet snapshot at now.
func buildFleet(views []ChannelView, now time.Time) FleetSnapshot {
	snap := FleetSnapshot{Now: now.UTC(), Channels: make([]FleetChannel, 0, len(views))}
	for _, v := range views {
		snap.Channels = append(snap.Channels, buildFleetChannel(v, now))
	}
	return snap
}

func buildFleetChannel(v ChannelView, now time.Time) FleetChannel {
	fc := FleetChannel{Channel: v.ID.Name, Origins: []string{}, Releases: []FleetRelease{}, Hosts: []FleetHost{}, HostCount: len(v.Hosts)}
	subs := make([]*HostRecord, 0, len(v.Hosts))
	for i := range v.Hosts {
		h := &v.Hosts[i]
		r := h.Report
		fc.DownRate += r.DownRate
		fc.UpRate += r.UpRate
		if r.Origin {
			fc.Origins = append(fc.Origins, r.Host)
		} else {
			subs = append(subs, h)
		}
		if len(fc.Hosts) < maxFleetHosts {
			fc.Hosts = append(fc.Hosts, FleetHost{Host: r.Host, Zone: r.Zone, Current: r.Current, Fetching: r.Fetching,
				Progress: r.Progress, DownRate: r.DownRate, UpRate: r.UpRate, Origin: r.Origin, Age: now.Sub(h.Seen).Seconds()})
		}
	}
	fc.Subscribers = len(subs)
	for i := len(v.Releases) - 1; i >= 0; i-- {
		end := v.Egress
		if i+1 < len(v.Releases) {
			end = v.Releases[i+1].OriginBase
		}
		fc.Releases = append(fc.Releases, buildFleetRelease(v.Releases[i], subs, max(end-v.Releases[i].OriginBase, 0)))
	}
	return fc
}

func buildFleetRelease(rv ReleaseView, subs []*HostRecord, egress int64) FleetRelease {
	fr := FleetRelease{Release: rv.Release, Missing: []string{}, Curve: []CurvePoint{}, OriginEgress: egress, Zones: []ZoneCount{}}
	fr.EgressCopies = float64(egress) / float64(rv.Size)
	times := make([]float64, 0, len(subs))
	zones := map[string]*ZoneCount{}
	for _, h := range subs {
		at, done := rv.Completed[h.Report.Host]
		if z := h.Report.Zone; z != "" {
			zc := zones[z]
			if zc == nil && len(zones) < maxFleetZones {
				zc = &ZoneCount{Zone: z}
				zones[z] = zc
			}
			if zc != nil {
				zc.Of++
				if done {
					zc.Done++
				}
			}
		}
		if done {
			times = append(times, max(at.Sub(rv.PublishedAt).Seconds(), 0))
			continue
		}
		fr.MissingCount++
		if len(fr.Missing) < maxFleetMissing {
			fr.Missing = append(fr.Missing, h.Report.Host)
		}
		if h.Report.Fetching == rv.Seq {
			fr.Fetching++
		}
	}
	for _, zc := range zones {
		fr.Zones = append(fr.Zones, *zc)
	}
	slices.SortFunc(fr.Zones, func(a, b ZoneCount) int { return strings.Compare(a.Zone, b.Zone) })
	fr.Done = len(times)
	slices.Sort(times)
	fr.Curve = curve(times)
	if fr.Done > 0 && fr.MissingCount == 0 {
		fr.LastAfter = times[len(times)-1]
	}
	return fr
}

// curve returns the step curve of sorted completion times, thinned to at
// most maxCurvePoints points (always keeping the last).
func curve(times []float64) []CurvePoint {
	n := len(times)
	out := make([]CurvePoint, 0, min(n, maxCurvePoints))
	for k := 0; k < min(n, maxCurvePoints); k++ {
		i := k
		if n > maxCurvePoints {
			i = k * (n - 1) / (maxCurvePoints - 1)
		}
		out = append(out, CurvePoint{T: times[i], Done: i + 1})
	}
	return out
}

// fleetCache keeps each tenant's last snapshot for a short while, so
// many viewers cost one store read per interval.
type fleetCache struct {
	mu      sync.Mutex
	entries map[string]fleetEntry
}

type fleetEntry struct {
	at   time.Time
	body []byte
}

// fleetCacheFor is how long a snapshot is reused.
const fleetCacheFor = time.Second

// snapshot returns the JSON snapshot of tenant, at most fleetCacheFor old.
func (a *channelAPI) snapshot(ctx context.Context, tenant string) ([]byte, error) {
	now := a.srv.cfg.Now()
	c := &a.fleet
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[tenant]; ok && now.Sub(e.at) < fleetCacheFor && !now.Before(e.at) {
		return e.body, nil
	}
	views, err := a.cfg.Store.View(ctx, tenant, now)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(buildFleet(views, now))
	if err != nil {
		return nil, fmt.Errorf("encoding fleet snapshot: %w", err)
	}
	if c.entries == nil {
		c.entries = make(map[string]fleetEntry)
	}
	c.entries[tenant] = fleetEntry{at: now, body: body}
	return body, nil
}

func (a *channelAPI) fleetJSON(w http.ResponseWriter, r *http.Request) {
	req, ok := a.parse(w, r, false)
	if !ok {
		return
	}
	body, err := a.snapshot(r.Context(), req.id.Tenant)
	if err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}

// fleetEvents streams the snapshot as server-sent events: one "fleet"
// event at once, then one each second the snapshot changed, and a
// comment every 15 s otherwise so proxies keep the stream open.
func (a *channelAPI) fleetEvents(w http.ResponseWriter, r *http.Request) {
	req, ok := a.parse(w, r, false)
	if !ok {
		return
	}
	if !a.hold(w, &a.viewers, a.cfg.MaxViewers) {
		return
	}
	defer a.viewers.Add(-1)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last []byte
	quiet := 0
	for {
		body, err := a.snapshot(r.Context(), req.id.Tenant)
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		switch {
		case err != nil:
			a.srv.cfg.Logger.Warn("fleet: snapshot", "err", err)
			fmt.Fprintf(w, "event: problem\ndata: %q\n\n", "tracker store: "+err.Error())
		case !bytes.Equal(body, last):
			last = body
			quiet = 0
			fmt.Fprintf(w, "event: fleet\ndata: %s\n\n", body)
		case quiet >= 15:
			quiet = 0
			fmt.Fprint(w, ": still here\n\n")
		default:
			quiet++
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-a.ending:
			return
		case <-tick.C:
		}
	}
}
