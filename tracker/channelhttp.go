package tracker

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/metainfo"
)

// ChannelConfig configures a tracker's release channels
// ([ServerConfig].Channels). The zero value keeps channels in memory with
// the default limits and refuses every publish.
type ChannelConfig struct {
	// Store keeps the channels; default a [MemoryChannelStore] with Limits.
	Store ChannelStore
	// Limits bound the default store; ignored when Store is set.
	Limits ChannelLimits
	// PublishKeys may publish; nil or empty refuses every publish.
	PublishKeys *PublishKeys
	// LongPoll is the longest a /next request is held; default
	// channel.LongPoll (25s).
	LongPoll time.Duration
	// Recheck is how often a waiting /next looks at the store even with
	// no notification (a safety net for a shared store); default 5s.
	Recheck time.Duration
	// MaxWaiters bounds the /next requests held at once; default 20,000.
	MaxWaiters int
	// MaxViewers bounds the fleet page event streams at once; default 256.
	MaxViewers int
}

// Defaults for [ChannelConfig].
const (
	DefaultMaxWaiters = 20_000
	DefaultMaxViewers = 256
)

// errBusy refuses a long poll or an event stream past its bound.
var errBusy = errors.New("too many requests held open; retry later")

// errEnding refuses a long poll or an event stream once the server ends
// them (see Server.EndStreams).
var errEnding = errors.New("tracker shutting down; retry later")

// EndStreams ends the requests the channel endpoints hold open: long
// polls and fleet event streams answer or close now, and new ones are
// refused with 503. An http.Server's Shutdown waits for every request to
// end, so [Server.HTTPServer] registers EndStreams to run at Shutdown;
// call it yourself when serving s another way.
func (s *Server) EndStreams() {
	s.channels.endOnce.Do(func() { close(s.channels.ending) })
}

// channelAPI serves the channel endpoints and the fleet page.
type channelAPI struct {
	srv     *Server
	cfg     ChannelConfig
	mux     *http.ServeMux
	waiters atomic.Int64
	viewers atomic.Int64
	fleet   fleetCache
	// ending is closed by EndStreams: held requests end, new ones are
	// refused.
	ending  chan struct{}
	endOnce sync.Once

	publishes *prometheus.CounterVec
	reports   prometheus.Counter

	// testHookWaiting, if set, is called each time a long poll starts
	// waiting (tests wait on it instead of polling).
	testHookWaiting func()
}

func newChannelAPI(s *Server, cfg ChannelConfig) *channelAPI {
	if cfg.Store == nil {
		cfg.Store = NewMemoryChannelStore(cfg.Limits)
	}
	if cfg.LongPoll <= 0 {
		cfg.LongPoll = channel.LongPoll
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = 5 * time.Second
	}
	if cfg.MaxWaiters <= 0 {
		cfg.MaxWaiters = DefaultMaxWaiters
	}
	if cfg.MaxViewers <= 0 {
		cfg.MaxViewers = DefaultMaxViewers
	}
	a := &channelAPI{srv: s, cfg: cfg, mux: http.NewServeMux(), ending: make(chan struct{})}
	a.publishes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_tracker_channel_publishes_total",
		Help: "Channel publishes, by result (created, existing, refused).",
	}, []string{"result"})
	a.reports = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shoal_tracker_channel_reports_total",
		Help: "Host reports accepted.",
	})
	s.metrics.reg.MustRegister(a.publishes, a.reports,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "shoal_tracker_channel_waiters",
			Help: "Long polls (/next) held open.",
		}, func() float64 { return float64(a.waiters.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "shoal_tracker_fleet_viewers",
			Help: "Fleet page event streams open.",
		}, func() float64 { return float64(a.viewers.Load()) }))

	a.handle("/v1/channels", methods{"GET": a.listChannels})
	a.handle("/v1/channels/{name}", methods{"GET": a.getChannel})
	a.handle("/v1/channels/{name}/releases", methods{"GET": a.getChannel, "POST": a.publish})
	a.handle("/v1/channels/{name}/releases/{seq}", methods{"GET": a.getRelease})
	a.handle("/v1/channels/{name}/releases/{seq}/info", methods{"GET": a.getInfo})
	a.handle("/v1/channels/{name}/next", methods{"GET": a.next})
	a.handle("/v1/channels/{name}/hosts", methods{"POST": a.report})
	a.handle("/v1/fleet", methods{"GET": a.fleetJSON})
	a.handle("/v1/fleet/events", methods{"GET": a.fleetEvents})
	a.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	a.handlePage()
	return a
}

// methods routes one path by request method, answering others with a
// JSON 405. GET handlers also serve HEAD.
type methods map[string]http.HandlerFunc

func (a *channelAPI) handle(pattern string, m methods) {
	allow := make([]string, 0, len(m))
	for k := range m {
		allow = append(allow, k)
	}
	slices.Sort(allow)
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		meth := r.Method
		if meth == http.MethodHead {
			meth = http.MethodGet
		}
		h, ok := m[meth]
		if !ok {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" not allowed here")
			return
		}
		h(w, r)
	})
}

// ServeHTTP serves every path that is not an announce or a scrape: the
// channel endpoints, the fleet page, or a 404. Requests count against the
// per-source rate limit like announces.
func (a *channelAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if remote, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		if !a.srv.cfg.RateLimit.Allow(remote.Addr().Unmap().WithZone(""), a.srv.cfg.Now()) {
			w.Header().Set("Retry-After", "1")
			writeJSONError(w, http.StatusTooManyRequests, "rate limit exceeded")
			return
		}
	}
	a.mux.ServeHTTP(w, r)
}

// request is what every channel handler starts from.
type request struct {
	id    ChannelID
	query channelQuery
}

// parse reads the query and, for a read on a private tracker, checks the
// announce key and takes its tenant. forPublish leaves the tenant to the
// publish key.
func (a *channelAPI) parse(w http.ResponseWriter, r *http.Request, forPublish bool) (request, bool) {
	q, err := parseChannelQuery(r.URL.RawQuery, a.cfg.LongPoll)
	if err != nil {
		a.fail(w, err)
		return request{}, false
	}
	req := request{query: q, id: ChannelID{Name: r.PathValue("name")}}
	if req.id.Name != "" {
		if err := channel.ValidName(req.id.Name); err != nil {
			a.fail(w, err)
			return request{}, false
		}
	}
	if forPublish {
		t, err := a.cfg.PublishKeys.Tenant(bearer(r))
		if err != nil {
			a.publishes.WithLabelValues("refused").Inc()
			a.fail(w, err)
			return request{}, false
		}
		req.id.Tenant = t
		return req, true
	}
	if a.srv.cfg.Keys != nil {
		t, err := a.srv.cfg.Keys.Tenant(q.Key)
		if err != nil {
			a.fail(w, err)
			return request{}, false
		}
		req.id.Tenant = t
	}
	return req, true
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (a *channelAPI) listChannels(w http.ResponseWriter, r *http.Request) {
	req, ok := a.parse(w, r, false)
	if !ok {
		return
	}
	views, err := a.cfg.Store.View(r.Context(), req.id.Tenant, a.srv.cfg.Now())
	if err != nil {
		a.fail(w, err)
		return
	}
	out := channel.SummaryList{Channels: make([]channel.Summary, 0, len(views))}
	for _, v := range views {
		s := channel.Summary{Channel: v.ID.Name, Releases: len(v.Releases)}
		if n := len(v.Releases); n > 0 {
			l := v.Releases[n-1].Release
			s.Latest = &l
		}
		for _, h := range v.Hosts {
			if !h.Report.Origin {
				s.Subscribers++
			}
		}
		out.Channels = append(out.Channels, s)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *channelAPI) getChannel(w http.ResponseWriter, r *http.Request) {
	req, ok := a.parse(w, r, false)
	if !ok {
		return
	}
	rels, err := a.cfg.Store.Releases(r.Context(), req.id, a.srv.cfg.Now())
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, channel.ReleaseList{Channel: req.id.Name, Releases: rels})
}

func (a *channelAPI) getRelease(w http.ResponseWriter, r *http.Request) {
	req, seq, ok := a.parseSeq(w, r)
	if !ok {
		return
	}
	rels, err := a.cfg.Store.Releases(r.Context(), req.id, a.srv.cfg.Now())
	if err != nil {
		a.fail(w, err)
		return
	}
	for _, rel := range rels {
		if rel.Seq == seq {
			writeJSON(w, http.StatusOK, rel)
			return
		}
	}
	a.fail(w, fmt.Errorf("%w: %s keeps no release %d", ErrUnknownRelease, req.id.Name, seq))
}

func (a *channelAPI) getInfo(w http.ResponseWriter, r *http.Request) {
	req, seq, ok := a.parseSeq(w, r)
	if !ok {
		return
	}
	info, err := a.cfg.Store.Info(r.Context(), req.id, seq)
	if err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(info)))
	w.Header().Set("Cache-Control", "no-store")
	w.Write(info)
}

// parseSeq is parse for a read of one release: also the {seq} of the path.
func (a *channelAPI) parseSeq(w http.ResponseWriter, r *http.Request) (request, uint64, bool) {
	req, ok := a.parse(w, r, false)
	if !ok {
		return req, 0, false
	}
	s := r.PathValue("seq")
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 || n > channel.MaxSeq {
		a.fail(w, fmt.Errorf("%w: release %q: want an integer in 1..%d", channel.ErrInvalid, clipString(s), uint64(channel.MaxSeq)))
		return req, 0, false
	}
	return req, n, true
}

// publish registers the info dictionary in the body as a release.
func (a *channelAPI) publish(w http.ResponseWriter, r *http.Request) {
	req, ok := a.parse(w, r, true)
	if !ok {
		return
	}
	refuse := func(err error) {
		a.publishes.WithLabelValues("refused").Inc()
		a.fail(w, err)
	}
	body, err := readBody(w, r, channel.MaxInfoSize, "info dictionary")
	if err != nil {
		refuse(err)
		return
	}
	info, err := metainfo.ParseInfo(body)
	if err != nil {
		refuse(statusError{channel.ErrInvalid, fmt.Errorf("cannot parse the info dictionary: %w", err)})
		return
	}
	rel := channel.Release{
		Channel:     req.id.Name,
		Seq:         req.query.Seq,
		InfoHash:    hex.EncodeToString(sha1Sum(body)),
		Name:        info.Name,
		Size:        info.TotalLength(),
		PieceLength: info.PieceLength,
		PublishedAt: a.srv.cfg.Now().UTC(),
	}
	check := rel
	check.Seq = max(check.Seq, 1)
	if err := check.Validate(); err != nil {
		refuse(err)
		return
	}
	out, created, err := a.cfg.Store.Publish(r.Context(), req.id, rel, body)
	if err != nil {
		refuse(err)
		return
	}
	status, result := http.StatusOK, "existing"
	if created {
		status, result = http.StatusCreated, "created"
		a.srv.cfg.Logger.Info("channel: published", "channel", req.id.String(), "seq", out.Seq,
			"info_hash", out.InfoHash, "name", out.Name, "size", out.Size)
	}
	a.publishes.WithLabelValues(result).Inc()
	w.Header().Set("Location", fmt.Sprintf("/v1/channels/%s/releases/%d", out.Channel, out.Seq))
	writeJSON(w, status, out)
}

func sha1Sum(b []byte) []byte {
	h := sha1.Sum(b)
	return h[:]
}

// next answers as soon as the channel has a release newer than "after"
// (the newest one), or with 204 after the long poll.
func (a *channelAPI) next(w http.ResponseWriter, r *http.Request) {
	req, ok := a.parse(w, r, false)
	if !ok {
		return
	}
	if !a.hold(w, &a.waiters, a.cfg.MaxWaiters) {
		return
	}
	defer a.waiters.Add(-1)
	// The server's write timeout is shorter than a long poll.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(req.query.Wait + 10*time.Second))
	ctx := r.Context()
	deadline := time.NewTimer(req.query.Wait)
	defer deadline.Stop()
	recheck := time.NewTicker(a.cfg.Recheck)
	defer recheck.Stop()
	for {
		changed, done := a.cfg.Store.Watch(req.id)
		rel, found, err := a.newest(ctx, req.id, req.query.After)
		if errors.Is(err, errAwaitingFirst) {
			err = nil // hosts subscribed before the first publish: wait for it
		}
		if err != nil || found {
			done()
			if err != nil {
				a.fail(w, err)
				return
			}
			writeJSON(w, http.StatusOK, rel)
			return
		}
		if a.testHookWaiting != nil {
			a.testHookWaiting()
		}
		select {
		case <-changed:
		case <-recheck.C:
		case <-deadline.C:
			done()
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
			return
		case <-ctx.Done():
			done()
			return
		case <-a.ending:
			done()
			w.Header().Set("Retry-After", "1")
			writeJSONError(w, http.StatusServiceUnavailable, errEnding.Error())
			return
		}
		done()
	}
}

// hold counts one more request held open in n, or answers 503 when that
// would pass limit or the server is ending its streams.
func (a *channelAPI) hold(w http.ResponseWriter, n *atomic.Int64, limit int) bool {
	select {
	case <-a.ending:
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, errEnding.Error())
		return false
	default:
	}
	if n.Add(1) > int64(limit) {
		n.Add(-1)
		w.Header().Set("Retry-After", "5")
		writeJSONError(w, http.StatusServiceUnavailable, errBusy.Error())
		return false
	}
	return true
}

// newest returns the newest release of id if its seq is above after.
func (a *channelAPI) newest(ctx context.Context, id ChannelID, after uint64) (channel.Release, bool, error) {
	rels, err := a.cfg.Store.Releases(ctx, id, a.srv.cfg.Now())
	if err != nil || len(rels) == 0 {
		return channel.Release{}, false, err
	}
	if l := rels[len(rels)-1]; l.Seq > after {
		return l, true, nil
	}
	return channel.Release{}, false, nil
}

func (a *channelAPI) report(w http.ResponseWriter, r *http.Request) {
	req, ok := a.parse(w, r, false)
	if !ok {
		return
	}
	body, err := readBody(w, r, channel.MaxReportSize, "host report")
	if err != nil {
		a.fail(w, err)
		return
	}
	rep, err := channel.ParseHostReport(body)
	if err != nil {
		a.fail(w, err)
		return
	}
	if err := a.cfg.Store.Report(r.Context(), req.id, rep, a.srv.cfg.Now()); err != nil {
		a.fail(w, err)
		return
	}
	a.reports.Inc()
	w.WriteHeader(http.StatusNoContent)
}

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, what string) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %s of %d bytes, limit %d", channel.ErrTooLarge, what, r.ContentLength, limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: %s over %d bytes", channel.ErrTooLarge, what, limit)
		}
		return nil, fmt.Errorf("%w: reading the %s: %w", channel.ErrInvalid, what, err)
	}
	return b, nil
}

// statusError is err, answered with the status of sentinel, without the
// sentinel's text in the message.
type statusError struct{ sentinel, err error }

func (e statusError) Error() string   { return e.err.Error() }
func (e statusError) Unwrap() []error { return []error{e.sentinel, e.err} }

// fail answers err with its status and a JSON {"error": ...} body.
func (a *channelAPI) fail(w http.ResponseWriter, err error) {
	status := errorStatus(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		a.srv.cfg.Logger.Error("channel: store", "err", err)
		msg = "internal error (see the tracker's log)"
	}
	writeJSONError(w, status, msg)
}

// errorStatus maps an error to its HTTP status.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, channel.ErrUnknownChannel), errors.Is(err, ErrUnknownRelease):
		return http.StatusNotFound
	case errors.Is(err, channel.ErrForbidden), errors.Is(err, ErrNoPublishKeys), errors.Is(err, ErrMissingPublishKey),
		errors.Is(err, ErrUnknownPublishKey), errors.Is(err, ErrMissingKey), errors.Is(err, ErrUnknownKey):
		return http.StatusForbidden
	case errors.Is(err, channel.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, channel.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, channel.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrTooManyChannels), errors.Is(err, ErrChannelFull), errors.Is(err, ErrStoreFull):
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "encoding reply: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(channel.ErrorBody{Error: msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
