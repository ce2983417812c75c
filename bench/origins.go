package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// The client-server systems of the seed's comparison, beside HTTP (which
// is single under its old name): K origin processes, each with the
// origin's upload limit, serving over HTTP.
const (
	Single     = "single"     // one origin sends every receiver the whole file
	Replicated = "replicated" // replicated:K: origin k serves receivers k, k+K, ... the whole file
	Sharded    = "sharded"    // sharded:K: origin k holds the k-th of K shards; every receiver fetches all K at once
)

// maxOrigins bounds K, so a typo does not start a million processes.
const maxOrigins = 256

// originPlan is how a client-server system lays out its origins.
type originPlan struct {
	kind  string
	k     int
	files []string // the file origin k serves
	shard int64    // bytes per shard (sharded), the last one shorter
	// Filled in as the origins start:
	urls  []string
	stats []string // each origin's --stats-file
}

// originColors are the chart colours of the client-server systems by
// kind (http keeps its own).
var originColors = map[string]string{Single: "#2a9a3a", Replicated: "#8e44ad", Sharded: "#c0392b"}

// systemColor is sys's colour on the completion chart.
func systemColor(sys string) (string, bool) {
	if c, ok := systemColors[sys]; ok {
		return c, true
	}
	kind, _, ok, err := parseOriginSystem(sys)
	if !ok || err != nil {
		return "", false
	}
	return originColors[kind], true
}

// parseOriginSystem recognizes http, single, replicated:K and sharded:K.
func parseOriginSystem(sys string) (kind string, k int, ok bool, err error) {
	name, arg, hasK := strings.Cut(sys, ":")
	switch name {
	case HTTP, Single:
		if hasK {
			return "", 0, true, fmt.Errorf("bench: %w %q: %s takes no :K", ErrUnknownSystem, sys, name)
		}
		return Single, 1, true, nil
	case Replicated, Sharded:
		k, err := strconv.Atoi(arg)
		if !hasK || err != nil || k < 1 || k > maxOrigins {
			return "", 0, true, fmt.Errorf("bench: %w %q: want %s:K with K origins, 1 to %d", ErrUnknownSystem, sys, name, maxOrigins)
		}
		return name, k, true, nil
	}
	return "", 0, false, nil
}

// isOriginSystem reports whether sys is a client-server system (runOne
// runs it on the HTTP comparator's path).
func isOriginSystem(sys string) bool {
	_, _, ok, err := parseOriginSystem(sys)
	return ok && err == nil
}

// systemPath is the path of runOne a system takes: HTTP for every
// client-server system, else the system itself.
func systemPath(sys string) string {
	if isOriginSystem(sys) {
		return HTTP
	}
	return sys
}

// extraOrigins is how many origin hosts beyond the first the systems
// need (network namespaces are made for them up front).
func extraOrigins(systems []string) int {
	most := 1
	for _, s := range systems {
		if _, k, ok, err := parseOriginSystem(s); ok && err == nil {
			most = max(most, k)
		}
	}
	return most - 1
}

// originHostOf is the fabric host of origin k: the origin's, then after
// the receivers.
func (j *job) originHostOf(k int) int {
	if k == 0 {
		return originHost
	}
	return receiverHost + j.cfg.Peers + k - 1
}

// planOrigins lays out sys's origins in dir (writing the shards of a
// sharded system), or returns nil for a peer-to-peer system.
func (j *job) planOrigins(sys, dir string) (*originPlan, error) {
	kind, k, ok, err := parseOriginSystem(sys)
	if !ok || err != nil {
		return nil, err
	}
	p := &originPlan{kind: kind, k: k}
	if kind != Sharded {
		for range k {
			p.files = append(p.files, j.src)
		}
		return p, nil
	}
	p.shard = (j.cfg.Size + int64(k) - 1) / int64(k)
	src, err := os.Open(j.src)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	defer src.Close()
	for i := range k {
		path := filepath.Join(dir, fmt.Sprintf("shard%03d.bin", i))
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("shards: %w", err)
		}
		_, err = io.Copy(f, io.NewSectionReader(src, int64(i)*p.shard, p.shard))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("shards: %w", err)
		}
		p.files = append(p.files, path)
	}
	return p, nil
}

// originArgv is the command of origin k, writing its stats to stats.
func (j *job) originArgv(p *originPlan, k int, stats string) []string {
	return concat([]string{j.cfg.Shoal, "bench", "http-origin", "--listen", j.addr(j.originHostOf(k)) + ":0"},
		j.limit("--up-limit", j.cfg.OriginLink), []string{"--stats-file", stats, p.files[k]})
}

// startOtherOrigins starts origins 1..K-1 of p beside origin 0 (already
// up, serving url, writing stats0) and records every origin's URL.
func (j *job) startOtherOrigins(ctx context.Context, p *originPlan, dir string, hosts *hostSet, url, stats0 string) error {
	p.urls, p.stats = []string{url}, []string{stats0}
	for k := 1; k < p.k; k++ {
		stats := filepath.Join(dir, fmt.Sprintf("origin%03d-stats.json", k))
		o, err := startProc(fmt.Sprintf("origin %d", k+1), nil, j.argv(j.originHostOf(k), j.originArgv(p, k, stats)...), "listening on ")
		if err != nil {
			return err
		}
		hosts.add(o)
		line, _, err := o.wait(ctx, "listening on ")
		if err != nil {
			return err
		}
		p.urls = append(p.urls, "http://"+strings.TrimSpace(strings.TrimPrefix(line, "listening on "))+"/"+filepath.Base(p.files[k]))
		p.stats = append(p.stats, stats)
	}
	return nil
}

// receiverArgv is receiver i's command: fetch the whole file from its
// origin (single, replicated), or every shard from every origin at once
// into out (sharded).
func (j *job) receiverArgv(p *originPlan, i int, out string) []string {
	down := j.limit("--down-limit", j.cfg.Link)
	if p.kind == Sharded {
		return concat([]string{j.cfg.Shoal, "bench", "http-shards"}, down,
			[]string{"--shard-size", strconv.FormatInt(p.shard, 10), out}, p.urls)
	}
	return concat([]string{j.cfg.Shoal, "bench", "http-get"}, down, []string{p.urls[i%p.k], out})
}

// egress sums the payload bytes every origin sent.
func (p *originPlan) egress() (int64, error) {
	var total int64
	for _, s := range p.stats {
		n, err := readUploaded(s)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// FetchShards downloads shard k of a file from urls[k], all at once, into
// out at offset k×shardSize, the fetches sharing one download limit of
// bytesPerSec (0: none), and returns the bytes received. It fails unless
// every origin sent a 200 with exactly its announced Content-Length, every
// shard but the last is shardSize long and none is longer.
func FetchShards(ctx context.Context, urls []string, out string, shardSize int64, bytesPerSec float64) (int64, error) {
	if len(urls) == 0 || shardSize <= 0 {
		return 0, fmt.Errorf("fetch shards: %d URLs, shard size %d", len(urls), shardSize)
	}
	f, err := os.Create(out)
	if err != nil {
		return 0, fmt.Errorf("fetch shards: %w", err)
	}
	lim := newLimiter(bytesPerSec)
	var got atomic.Int64
	errs := make([]error, len(urls))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for k, url := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = fetchShard(ctx, url, f, int64(k)*shardSize, shardSize, k == len(urls)-1, lim, &got)
			if errs[k] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	for _, e := range errs {
		if e != nil && err == nil {
			err = e
		}
	}
	return got.Load(), err
}

// fetchShard fetches one shard into f at off.
func fetchShard(ctx context.Context, url string, f *os.File, off, shardSize int64, last bool, lim *rate.Limiter, got *atomic.Int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("fetch %s: %s", url, resp.Status)
	case resp.ContentLength < 0 || resp.ContentLength > shardSize || (!last && resp.ContentLength != shardSize):
		return fmt.Errorf("fetch %s: shard of %d bytes, want %d", url, resp.ContentLength, shardSize)
	}
	var n atomic.Int64
	w := limitedWriter{ctx: ctx, w: io.NewOffsetWriter(f, off), lim: lim, n: &n}
	_, err = io.CopyBuffer(w, io.LimitReader(resp.Body, resp.ContentLength), make([]byte, chunk))
	got.Add(n.Load())
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	if n.Load() != resp.ContentLength {
		return fmt.Errorf("fetch %s: %w: got %d of %d bytes", url, io.ErrUnexpectedEOF, n.Load(), resp.ContentLength)
	}
	return nil
}
