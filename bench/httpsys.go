package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// chunk is the most bytes passed to a rate limiter at once; the limiters'
// burst is this size, so a link never sends more than one chunk ahead.
const chunk = 32 << 10

// newLimiter returns a limiter of bytesPerSec, or nil for no limit.
func newLimiter(bytesPerSec float64) *rate.Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(bytesPerSec), chunk)
}

// limitedWriter writes through a shared limiter, in chunks.
type limitedWriter struct {
	ctx context.Context
	w   io.Writer
	lim *rate.Limiter // nil: unlimited
	n   *atomic.Int64 // bytes written, shared by all writers of one server
}

func (lw limitedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), chunk)
		if lw.lim != nil {
			if err := lw.lim.WaitN(lw.ctx, n); err != nil {
				return written, err
			}
		}
		m, err := lw.w.Write(p[:n])
		written += m
		lw.n.Add(int64(m))
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// FileServer is the HTTP comparator's origin: it sends one file in full
// to every GET, all responses together limited to one upload rate, as a
// single machine serving a fleet would.
type FileServer struct {
	path string
	lim  *rate.Limiter
	sent atomic.Int64
}

// NewFileServer serves the file at path with a total upload limit of
// bytesPerSec (0: none).
func NewFileServer(path string, bytesPerSec float64) *FileServer {
	return &FileServer{path: path, lim: newLimiter(bytesPerSec)}
}

// Sent returns the body bytes sent so far.
func (s *FileServer) Sent() int64 { return s.sent.Load() }

// ServeHTTP sends the whole file (ranges are not supported).
func (s *FileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	f, err := os.Open(s.path)
	if err != nil {
		http.Error(w, "cannot open file", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot stat file", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	buf := make([]byte, chunk)
	_, _ = io.CopyBuffer(limitedWriter{ctx: r.Context(), w: w, lim: s.lim, n: &s.sent}, f, buf)
}

// Serve runs the server on ln until ctx ends.
func (s *FileServer) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http origin: %w", err)
	case <-ctx.Done():
		hs.Close()
		<-errc
		return nil
	}
}

// Fetch downloads url into the file out, reading at most bytesPerSec
// (0: no limit), and returns the bytes received. It fails unless the
// server sent a 200 with exactly its announced Content-Length.
func Fetch(ctx context.Context, url, out string, bytesPerSec float64) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	f, err := os.Create(out)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", url, err)
	}
	var got atomic.Int64
	lim := newLimiter(bytesPerSec)
	buf := make([]byte, chunk)
	_, err = io.CopyBuffer(limitedWriter{ctx: ctx, w: f, lim: lim, n: &got}, resp.Body, buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return got.Load(), fmt.Errorf("fetch %s: %w", url, err)
	}
	if resp.ContentLength >= 0 && got.Load() != resp.ContentLength {
		return got.Load(), fmt.Errorf("fetch %s: %w: got %d of %d bytes", url, io.ErrUnexpectedEOF, got.Load(), resp.ContentLength)
	}
	return got.Load(), nil
}
