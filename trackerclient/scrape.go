package trackerclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Scrape asks the tracker whose announce URL is announceURL for the counts
// of the swarms of hashes (BEP 48 over HTTP, BEP 15 over UDP). The HTTP
// scrape URL is the announce URL with its last "announce" replaced by
// "scrape"; a URL without one cannot be scraped. A nil hc uses
// http.DefaultClient.
func Scrape(ctx context.Context, hc *http.Client, announceURL string, hashes [][20]byte) (map[[20]byte]SwarmStats, error) {
	out, err := scrape(ctx, hc, announceURL, hashes)
	if err != nil {
		return nil, fmt.Errorf("tracker: scrape %s: %w", announceURL, err)
	}
	return out, nil
}

func scrape(ctx context.Context, hc *http.Client, announceURL string, hashes [][20]byte) (map[[20]byte]SwarmStats, error) {
	u, err := url.Parse(announceURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "udp":
		return scrapeUDP(ctx, u, hashes)
	case "http", "https":
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedScheme, u.Scheme)
	}
	i := strings.LastIndex(u.Path, "/announce")
	if i < 0 {
		return nil, fmt.Errorf("%w: no /announce in the path to turn into /scrape", ErrUnsupportedScheme)
	}
	u.Path = u.Path[:i] + "/scrape" + u.Path[i+len("/announce"):]
	u.RawPath = ""
	q := u.RawQuery
	for _, h := range hashes {
		if q != "" {
			q += "&"
		}
		q += "info_hash=" + escapeBytes(h[:])
	}
	u.RawQuery = q
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, body, err := httpGet(ctx, hc, u.String())
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w %s", ErrHTTPStatus, resp.Status)
	}
	return ParseScrapeResponse(body)
}

// SwarmStats are one swarm's counts as a scrape reports them (BEP 48; the
// tags are its bencoded field names).
type SwarmStats struct {
	// Complete and Incomplete count live seeders and leechers.
	Complete   int `bencode:"complete"`
	Incomplete int `bencode:"incomplete"`
	// Downloaded counts the downloads the tracker saw complete.
	Downloaded int `bencode:"downloaded"`
}

// ParseScrapeResponse decodes the body of a tracker's HTTP scrape reply
// (BEP 48) into counts by info hash. A failure reason yields a
// *FailureError; anything undecodable, or a negative count, wraps
// ErrBadResponse. Entries not keyed by a 20-byte hash are skipped.
func ParseScrapeResponse(body []byte) (map[[20]byte]SwarmStats, error) {
	var top struct {
		Failure string                `bencode:"failure reason"`
		Files   map[string]SwarmStats `bencode:"files"`
	}
	if err := decodeBounded(body, &top); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if top.Failure != "" {
		return nil, &FailureError{Reason: top.Failure}
	}
	out := make(map[[20]byte]SwarmStats, len(top.Files))
	for h, f := range top.Files {
		if f.Complete < 0 || f.Incomplete < 0 || f.Downloaded < 0 {
			return nil, fmt.Errorf("%w: negative count in scrape of %x", ErrBadResponse, h)
		}
		if len(h) == 20 {
			out[[20]byte([]byte(h))] = f
		}
	}
	return out, nil
}
