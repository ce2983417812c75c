package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/metainfo"
)

// maxReply bounds an API reply the client reads (a file is streamed, not
// read whole).
const maxReply = 16 << 20

// APIClient talks to a running agent's API; the CLI uses it when --agent
// or SHOAL_AGENT names one.
type APIClient struct {
	base string
	hc   *http.Client
}

// APIError is an error reply of the agent: its status and message.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("agent answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// NewAPIClient returns a client for the agent at addr: an http:// URL,
// a host:port, or a unix socket as unix:/path or an absolute path.
func NewAPIClient(addr string) (*APIClient, error) {
	if addr == "" {
		addr = DefaultAPIAddr
	}
	if p, ok := strings.CutPrefix(addr, "unix:"); ok || strings.HasPrefix(addr, "/") {
		if !ok {
			p = addr
		}
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p)
		}}
		return &APIClient{base: "http://agent", hc: &http.Client{Transport: tr}}, nil
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("agent URL %q: want http://HOST:PORT, HOST:PORT or unix:/path", addr)
	}
	return &APIClient{base: strings.TrimSuffix(u.String(), "/"), hc: &http.Client{}}, nil
}

// do sends a request and decodes a JSON reply into out (if not nil).
func (c *APIClient) do(ctx context.Context, method, path string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("agent: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("agent: read reply: %w", err)
	}
	if resp.StatusCode >= 300 {
		var eb ErrorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(b))
		}
		return resp.StatusCode, &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("agent: decode reply to %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// AddTorrent adds a .torrent file's bytes.
func (c *APIClient) AddTorrent(ctx context.Context, torrent []byte) (AddResponse, error) {
	var r AddResponse
	_, err := c.do(ctx, "POST", "/v1/torrents", torrent, &r)
	return r, err
}

// Add adds a magnet link or local content (AddRequest).
func (c *APIClient) Add(ctx context.Context, req AddRequest) (AddResponse, error) {
	b, _ := json.Marshal(req)
	var r AddResponse
	_, err := c.do(ctx, "POST", "/v1/torrents", b, &r)
	return r, err
}

// Torrent returns one torrent's status.
func (c *APIClient) Torrent(ctx context.Context, ih metainfo.InfoHash) (TorrentStatus, error) {
	var st TorrentStatus
	_, err := c.do(ctx, "GET", "/v1/torrents/"+ih.String(), nil, &st)
	return st, err
}

// Torrents lists the agent's torrents.
func (c *APIClient) Torrents(ctx context.Context) ([]TorrentStatus, error) {
	var out []TorrentStatus
	_, err := c.do(ctx, "GET", "/v1/torrents", nil, &out)
	return out, err
}

// Channels lists the agent's channels.
func (c *APIClient) Channels(ctx context.Context) ([]ChannelStatus, error) {
	var out []ChannelStatus
	_, err := c.do(ctx, "GET", "/v1/channels", nil, &out)
	return out, err
}

// Subscribe subscribes the agent to a channel.
func (c *APIClient) Subscribe(ctx context.Context, name string, req SubscribeRequest) (ChannelStatus, error) {
	b, _ := json.Marshal(req)
	var st ChannelStatus
	_, err := c.do(ctx, "PUT", "/v1/channels/"+url.PathEscape(name), b, &st)
	return st, err
}

// Publish asks the agent to publish local content as the next release of
// a channel; it returns once a tracker registered it.
func (c *APIClient) Publish(ctx context.Context, name string, req PublishRequest) (channel.Release, error) {
	b, _ := json.Marshal(req)
	var rel channel.Release
	_, err := c.do(ctx, "POST", "/v1/channels/"+url.PathEscape(name)+"/releases", b, &rel)
	return rel, err
}

// File opens a file of a complete torrent (path as in TorrentStatus.Files).
func (c *APIClient) File(ctx context.Context, ih metainfo.InfoHash, path string) (io.ReadCloser, int64, error) {
	u := c.base + "/v1/torrents/" + ih.String() + "/files/" + (&url.URL{Path: path}).EscapedPath()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("agent: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var eb ErrorBody
		if json.Unmarshal(b, &eb) != nil {
			eb.Error = strings.TrimSpace(string(b))
		}
		return nil, 0, &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	return resp.Body, resp.ContentLength, nil
}

// IsStatus reports whether err is an agent reply with that status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}
