package tracker

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/anacrolix/torrent/bencode"
)

// maxScrapeHashes bounds the info hashes one HTTP scrape may name.
const maxScrapeHashes = 100

// parseScrapeQuery reads the info_hash parameters of a scrape (BEP 48).
// A scrape naming no torrent (a "full scrape") is refused: on a fleet
// tracker it would list every swarm.
func parseScrapeQuery(raw string) ([][20]byte, error) {
	if len(raw) > maxQueryLen {
		return nil, fmt.Errorf("%w: query longer than %d bytes", errBadQuery, maxQueryLen)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed query", errBadQuery)
	}
	hs := vals["info_hash"]
	if len(hs) == 0 {
		return nil, fmt.Errorf("%w: full scrape not supported; name info_hash", errBadQuery)
	}
	if len(hs) > maxScrapeHashes {
		return nil, fmt.Errorf("%w: more than %d info hashes", errBadQuery, maxScrapeHashes)
	}
	out := make([][20]byte, 0, len(hs))
	for _, h := range hs {
		if len(h) != 20 {
			return nil, fmt.Errorf("%w: info_hash must be 20 bytes", errBadQuery)
		}
		out = append(out, [20]byte([]byte(h)))
	}
	return out, nil
}

// marshalScrape encodes a scrape reply: {"files": {hash: counts}}.
func marshalScrape(hashes [][20]byte, stats []SwarmStats) ([]byte, error) {
	files := make(map[string]SwarmStats, len(hashes))
	for i, h := range hashes {
		files[string(h[:])] = stats[i]
	}
	return bencode.Marshal(map[string]any{"files": files})
}

func (s *Server) serveHTTPScrape(w http.ResponseWriter, r *http.Request, pathKey string) {
	hashes, err := parseScrapeQuery(r.URL.RawQuery)
	if err != nil {
		s.failHTTP(w, &refusal{err.Error(), "bad_request"})
		return
	}
	key := pathKey
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	stats, ref := s.scrape(r.Context(), key, hashes, "http")
	if ref != nil {
		s.failHTTP(w, ref)
		return
	}
	body, err := marshalScrape(hashes, stats)
	if err != nil {
		s.failHTTP(w, errInternal)
		return
	}
	writeBencode(w, body)
}
