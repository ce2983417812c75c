package tracker

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
	return parseScrapeResponse(body)
}
