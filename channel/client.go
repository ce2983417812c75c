package channel

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
)

// LongPoll is how long the tracker holds a [Client.Next] request open
// when nothing new is published.
const LongPoll = 25 * time.Second

// requestTimeout bounds every call but Next when the caller's context has
// no sooner deadline, so a hung tracker never hangs a caller for good.
const requestTimeout = 30 * time.Second

// StatusError is a refusal from the tracker: its HTTP status and the
// message of its {"error": ...} body. It unwraps to the sentinel for the
// status (ErrUnknownChannel for 404, ErrForbidden for 403, ErrConflict
// for 409, ErrInvalid for 400, ErrTooLarge for 413), or none.
type StatusError struct {
	Op      string // what was asked, e.g. "publish build"
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s: tracker answered %d: %s", e.Op, e.Status, msg)
}

// Unwrap returns the sentinel error matching the status.
func (e *StatusError) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return ErrUnknownChannel
	case http.StatusForbidden, http.StatusUnauthorized:
		return ErrForbidden
	case http.StatusConflict:
		return ErrConflict
	case http.StatusBadRequest:
		return ErrInvalid
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	}
	return nil
}

// Client talks to one tracker's channel endpoints. It is safe for
// concurrent use.
type Client struct {
	base string // scheme://host[:port], no trailing slash
	key  string // announce key of a private tracker, "" if none
	hc   *http.Client
}

// NewClient derives the channel endpoints' base URL from a tracker
// announce URL ("http://h:6969/announce", "http://h:6969/TOKEN/announce"
// → "http://h:6969", keeping TOKEN, or a "key" query parameter, as the
// announce key for private trackers). hc nil means http.DefaultClient;
// every call is bounded by its context and a timeout of its own.
func NewClient(announceURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(announceURL)
	if err != nil {
		return nil, fmt.Errorf("channel client: tracker URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("channel client: tracker URL %q: channels need an http or https tracker, not %q", announceURL, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("channel client: tracker URL %q has no host", announceURL)
	}
	p := strings.TrimPrefix(u.EscapedPath(), "/")
	key := ""
	switch dir, last, _ := cutLast(p); {
	case p == "":
	case last != "announce":
		return nil, fmt.Errorf("channel client: tracker URL %q: want a path of /announce or /KEY/announce", announceURL)
	case strings.Contains(dir, "/"):
		return nil, fmt.Errorf("channel client: tracker URL %q: want a path of /announce or /KEY/announce", announceURL)
	case dir != "":
		if key, err = url.PathUnescape(dir); err != nil {
			return nil, fmt.Errorf("channel client: tracker URL %q: key: %w", announceURL, err)
		}
	}
	if key == "" {
		key = u.Query().Get("key")
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u.Scheme + "://" + u.Host, key: key, hc: hc}, nil
}

// cutLast splits p at its last slash: "a/b/c" gives ("a/b", "c").
func cutLast(p string) (dir, last string, ok bool) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p, false
	}
	return p[:i], p[i+1:], true
}

// BaseURL is the tracker's base URL the client talks to.
func (c *Client) BaseURL() string { return c.base }

// Publish registers info (a bencoded info dictionary) as release seq of
// channel, or as the next release when seq is 0, with publishKey as the
// bearer token. Registering the same (seq, info hash) again returns the
// existing release (idempotent); a seq taken by another info hash is
// ErrConflict, a missing or wrong key ErrForbidden, info the tracker
// cannot parse ErrInvalid.
func (c *Client) Publish(ctx context.Context, channel, publishKey string, info []byte, seq uint64) (Release, error) {
	op := "publish " + channel
	if err := ValidName(channel); err != nil {
		return Release{}, fmt.Errorf("%s: %w", op, err)
	}
	if len(info) > MaxInfoSize {
		return Release{}, fmt.Errorf("%s: %w: info dictionary of %d bytes, limit %d", op, ErrTooLarge, len(info), MaxInfoSize)
	}
	q := url.Values{}
	if seq > 0 {
		q.Set("seq", strconv.FormatUint(seq, 10))
	}
	hdr := http.Header{"Content-Type": {"application/x-bittorrent"}}
	if publishKey != "" {
		hdr.Set("Authorization", "Bearer "+publishKey)
	}
	body, _, err := c.call(ctx, op, call{method: http.MethodPost, path: c.channelPath(channel, "releases"), query: q,
		header: hdr, body: info, limit: MaxReleaseSize}, http.StatusOK, http.StatusCreated)
	if err != nil {
		return Release{}, err
	}
	rel, err := ParseRelease(body)
	if err != nil {
		return Release{}, fmt.Errorf("%s: reply: %w", op, err)
	}
	want := metainfo.InfoHash(sha1.Sum(info)).String()
	if rel.Channel != channel || rel.InfoHash != want || (seq > 0 && rel.Seq != seq) {
		return Release{}, fmt.Errorf("%s: %w: tracker registered %s/%d %s, not what was sent", op, ErrInvalid, rel.Channel, rel.Seq, rel.InfoHash)
	}
	return rel, nil
}

// Releases returns the releases the tracker keeps of channel, oldest
// first; ErrUnknownChannel if nothing was published on it.
func (c *Client) Releases(ctx context.Context, channel string) ([]Release, error) {
	op := "releases of " + channel
	if err := ValidName(channel); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	body, _, err := c.call(ctx, op, call{path: c.channelPath(channel, ""), query: c.keyQuery(), limit: MaxListSize}, http.StatusOK)
	if err != nil {
		return nil, err
	}
	l, err := ParseReleaseList(body)
	if err != nil {
		return nil, fmt.Errorf("%s: reply: %w", op, err)
	}
	if l.Channel != channel {
		return nil, fmt.Errorf("%s: %w: reply lists channel %s", op, ErrInvalid, l.Channel)
	}
	return l.Releases, nil
}

// Channels lists the tracker's channels with their latest release and
// subscriber count.
func (c *Client) Channels(ctx context.Context) ([]Summary, error) {
	op := "list channels"
	body, _, err := c.call(ctx, op, call{path: "/v1/channels", query: c.keyQuery(), limit: MaxListSize}, http.StatusOK)
	if err != nil {
		return nil, err
	}
	l, err := ParseSummaryList(body)
	if err != nil {
		return nil, fmt.Errorf("%s: reply: %w", op, err)
	}
	return l.Channels, nil
}

// Next waits for a release of channel with Seq > after: the tracker
// answers as soon as one exists, or after about LongPoll with none
// (ok=false). When ctx's deadline is sooner than that, the tracker is
// asked to answer before it, so a short ctx gives ok=false rather than an
// error. ErrUnknownChannel if nothing was published on channel.
func (c *Client) Next(ctx context.Context, channel string, after uint64) (Release, bool, error) {
	op := "next release of " + channel
	if err := ValidName(channel); err != nil {
		return Release{}, false, fmt.Errorf("%s: %w", op, err)
	}
	wait := LongPoll
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-time.Second)
	}
	wait = max(wait, 0)
	q := c.keyQuery()
	q.Set("after", strconv.FormatUint(after, 10))
	if wait < LongPoll {
		q.Set("wait", strconv.FormatInt(wait.Milliseconds(), 10)+"ms")
	}
	body, status, err := c.call(ctx, op, call{path: c.channelPath(channel, "next"), query: q, limit: MaxReleaseSize,
		timeout: wait + 15*time.Second}, http.StatusOK, http.StatusNoContent)
	if err != nil {
		return Release{}, false, err
	}
	if status == http.StatusNoContent {
		return Release{}, false, nil
	}
	rel, err := ParseRelease(body)
	if err != nil {
		return Release{}, false, fmt.Errorf("%s: reply: %w", op, err)
	}
	if rel.Channel != channel || rel.Seq <= after {
		return Release{}, false, fmt.Errorf("%s: %w: tracker answered %s/%d for after=%d", op, ErrInvalid, rel.Channel, rel.Seq, after)
	}
	return rel, true, nil
}

// Info fetches the bencoded info dictionary of release seq of channel and
// checks that its SHA-1 is want; at most MaxInfoSize bytes are read.
func (c *Client) Info(ctx context.Context, channel string, seq uint64, want metainfo.InfoHash) ([]byte, error) {
	op := fmt.Sprintf("info of %s/%d", channel, seq)
	if err := ValidName(channel); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	p := c.channelPath(channel, "releases/"+strconv.FormatUint(seq, 10)+"/info")
	body, _, err := c.call(ctx, op, call{path: p, query: c.keyQuery(), limit: MaxInfoSize}, http.StatusOK)
	if err != nil {
		return nil, err
	}
	if got := metainfo.InfoHash(sha1.Sum(body)); got != want {
		return nil, fmt.Errorf("%s: %w: info dictionary hashes to %s, want %s", op, ErrInvalid, got, want)
	}
	return body, nil
}

// Report tells the tracker what this host holds of channel. Reports are
// accepted for a channel nobody published on yet: the fleet page lists
// the host as waiting, and a restarted tracker learns from it which seqs
// the fleet already holds.
func (c *Client) Report(ctx context.Context, channel string, r HostReport) error {
	op := "report on " + channel
	if err := ValidName(channel); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, _, err = c.call(ctx, op, call{method: http.MethodPost, path: c.channelPath(channel, "hosts"), query: c.keyQuery(),
		header: http.Header{"Content-Type": {"application/json"}}, body: b}, http.StatusNoContent, http.StatusOK)
	return err
}

func (c *Client) channelPath(channel, rest string) string {
	p := "/v1/channels/" + channel
	if rest != "" {
		p += "/" + rest
	}
	return p
}

func (c *Client) keyQuery() url.Values {
	q := url.Values{}
	if c.key != "" {
		q.Set("key", c.key)
	}
	return q
}

// call is one request of the client.
type call struct {
	method  string // default GET
	path    string
	query   url.Values
	header  http.Header
	body    []byte
	limit   int           // most bytes of the reply read
	timeout time.Duration // default requestTimeout
}

// call sends one request, bounded by ctx and by its timeout, and reads
// its reply (see do).
func (c *Client) call(ctx context.Context, op string, cl call, ok ...int) ([]byte, int, error) {
	u := c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	if cl.method == "" {
		cl.method = http.MethodGet
	}
	if cl.timeout == 0 {
		cl.timeout = requestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, cl.timeout)
	defer cancel()
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", op, err)
	}
	for k, v := range cl.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	return c.do(req, op, cl.limit, ok...)
}

// do sends req and reads a reply of at most limit bytes whose status is
// one of ok; any other status becomes a *StatusError.
func (c *Client) do(req *http.Request, op string, limit int, ok ...int) ([]byte, int, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if c.key != "" && errors.As(err, &ue) {
			ue.URL = strings.ReplaceAll(ue.URL, url.QueryEscape(c.key), "REDACTED") // keep the key out of logs
		}
		return nil, 0, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	good := false
	for _, s := range ok {
		good = good || resp.StatusCode == s
	}
	if !good {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorSize))
		msg := ""
		if e, err := ParseErrorBody(b); err == nil {
			msg = e.Error
		}
		return nil, resp.StatusCode, &StatusError{Op: op, Status: resp.StatusCode, Message: msg}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%s: reading reply: %w", op, err)
	}
	if len(b) > limit {
		return nil, resp.StatusCode, fmt.Errorf("%s: %w: reply over %d bytes", op, ErrTooLarge, limit)
	}
	return b, resp.StatusCode, nil
}
