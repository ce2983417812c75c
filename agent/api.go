package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/metainfo"
)

// ErrorBody is the body of every API error reply.
type ErrorBody struct {
	Error string `json:"error"`
	// Progress accompanies 409 for a file of an incomplete torrent.
	Progress *float64 `json:"progress,omitempty"`
}

// AddResponse is the reply to POST /v1/torrents.
type AddResponse struct {
	InfoHash string `json:"info_hash"`
	Name     string `json:"name,omitempty"`
	// Created is false when the torrent was already in the store (200).
	Created bool `json:"created"`
}

// Handler serves the agent's API (see docs/API.md).
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
			if err := h(rec, r); err != nil {
				a.writeError(rec, r, err)
			}
			a.metrics.apiRequests.WithLabelValues(pattern, strconv.Itoa(rec.code)).Inc()
		})
	}
	route("GET /healthz", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
		return nil
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	route("GET /{$}", a.servePage)
	route("/", func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("%s %s: no such endpoint (see docs/API.md): %w", r.Method, r.URL.Path, ErrNotFound)
	})
	route("GET /v1/torrents", func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, http.StatusOK, a.Torrents())
	})
	route("POST /v1/torrents", a.handleAdd)
	route("GET /v1/torrents/{infohash}", func(w http.ResponseWriter, r *http.Request) error {
		ih, err := parseInfoHashParam(r.PathValue("infohash"))
		if err != nil {
			return err
		}
		st, ok := a.Torrent(ih)
		if !ok {
			return fmt.Errorf("torrent %s: %w", ih, ErrNotFound)
		}
		return writeJSON(w, http.StatusOK, st)
	})
	route("DELETE /v1/torrents/{infohash}", func(w http.ResponseWriter, r *http.Request) error {
		ih, err := parseInfoHashParam(r.PathValue("infohash"))
		if err != nil {
			return err
		}
		if err := a.remove(ih, "api", false); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	route("GET /v1/torrents/{infohash}/files/{path...}", a.handleFile)
	route("GET /v1/channels", func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, http.StatusOK, a.Channels())
	})
	route("GET /v1/channels/{name}", func(w http.ResponseWriter, r *http.Request) error {
		name, _, err := channelRequest(w, r, false)
		if err != nil {
			return err
		}
		st, ok := a.Channel(name)
		if !ok {
			return fmt.Errorf("channel %q: %w", name, ErrNotFound)
		}
		return writeJSON(w, http.StatusOK, st)
	})
	route("PUT /v1/channels/{name}", func(w http.ResponseWriter, r *http.Request) error {
		name, body, err := channelRequest(w, r, true)
		if err != nil {
			return err
		}
		req, err := parseSubscribeBody(body)
		if err != nil {
			return err
		}
		st, err := a.Subscribe(name, req.Pin)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, st)
	})
	route("DELETE /v1/channels/{name}", func(w http.ResponseWriter, r *http.Request) error {
		name, _, err := channelRequest(w, r, false)
		if err != nil {
			return err
		}
		if err := a.Unsubscribe(name); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	route("POST /v1/channels/{name}/releases", func(w http.ResponseWriter, r *http.Request) error {
		name, body, err := channelRequest(w, r, true)
		if err != nil {
			return err
		}
		req, err := parsePublishBody(body)
		if err != nil {
			return err
		}
		rel, err := a.Publish(r.Context(), name, req)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, rel)
	})
	return mux
}

// channelRequest checks the {name} of a channel route and reads its JSON
// body if withBody.
func channelRequest(w http.ResponseWriter, r *http.Request, withBody bool) (string, []byte, error) {
	name := r.PathValue("name")
	if err := parseChannelName(name); err != nil {
		return "", nil, err
	}
	if !withBody {
		return name, nil, nil
	}
	body, err := readBody(w, r, MaxJSONBody)
	return name, body, err
}

// handleAdd is POST /v1/torrents.
func (a *Agent) handleAdd(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, MaxTorrentBody)
	if err != nil {
		return err
	}
	in, err := parseAddBody(body)
	if err != nil {
		return err
	}
	var e *entry
	var created bool
	o := addOptions{pinned: in.pin}
	switch {
	case in.mi != nil && in.path != "":
		o.path = in.path
		if e, created, err = a.addMeta(in.mi, o); err != nil && !errors.Is(err, ErrDiskFull) {
			err = requestError{fmt.Errorf("seed %s from %s: %w", in.mi.Info.Name, in.path, err)}
		}
	case in.mi != nil:
		e, created, err = a.addMeta(in.mi, o)
	case in.magnet != nil:
		e, created, err = a.addMagnet(*in.magnet, o)
	default:
		e, created, err = a.addLocal(in.path, in.pieceLength, o)
	}
	if err != nil {
		if errors.Is(err, metainfo.ErrEmpty) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) ||
			errors.Is(err, metainfo.ErrUnsafePath) {
			err = requestError{err}
		}
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	a.mu.Lock()
	resp := AddResponse{InfoHash: e.rec.InfoHash, Name: e.rec.Name, Created: created}
	a.mu.Unlock()
	return writeJSON(w, code, resp)
}

// handleFile is GET /v1/torrents/{infohash}/files/{path...}: a file's
// verified bytes, with Range. Before the torrent completes it answers 409
// (with the progress) rather than waiting: a reader never blocks on a
// download and never sees unverified bytes.
func (a *Agent) handleFile(w http.ResponseWriter, r *http.Request) error {
	ih, err := parseInfoHashParam(r.PathValue("infohash"))
	if err != nil {
		return err
	}
	f, size, done, err := a.openFile(ih, r.PathValue("path"))
	if err != nil {
		return err
	}
	defer done()
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != size || !fi.Mode().IsRegular() {
		return fmt.Errorf("file %s is %d bytes on disk (%v), the torrent says %d: %w", r.PathValue("path"), fi.Size(), fi.Mode().Type(), size, ErrChanged)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+ih.String()+`"`)
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}

// openFile opens a file of a complete torrent by its path in the torrent
// (as listed in TorrentStatus.Files) and counts a reader on it, so the
// collector leaves it alone until done is called. Only paths the torrent
// lists are served, through an os.Root of the torrent's folder, so no path
// leads outside the store.
func (a *Agent) openFile(ih metainfo.InfoHash, path string) (f *os.File, size int64, done func(), err error) {
	a.mu.Lock()
	e := a.entries[ih]
	if e == nil {
		a.mu.Unlock()
		return nil, 0, nil, fmt.Errorf("torrent %s: %w", ih, ErrNotFound)
	}
	if !e.isComplete() {
		st := a.torrentStatusLocked(e, false)
		a.mu.Unlock()
		return nil, 0, nil, incompleteError{ih: ih, progress: st.Progress}
	}
	rec := e.rec
	e.readers++
	a.mu.Unlock()
	done = func() {
		a.mu.Lock()
		e.readers--
		a.mu.Unlock()
	}
	fail := func(err error) (*os.File, int64, func(), error) {
		done()
		return nil, 0, nil, err
	}
	info, err := metainfo.ParseInfo(rec.Info)
	if err != nil {
		return fail(err)
	}
	files, err := info.LocalFiles()
	if err != nil {
		return fail(err)
	}
	base, root := a.contentDir(rec.InfoHash), info.Name
	if rec.Path != "" {
		base, root = filepath.Dir(rec.Path), filepath.Base(rec.Path)
	}
	for _, lf := range files {
		if filepath.ToSlash(lf.Path) != path {
			continue
		}
		r, err := os.OpenRoot(base)
		if err != nil {
			return fail(err)
		}
		defer r.Close()
		fh, err := r.Open(root + strings.TrimPrefix(lf.Path, info.Name))
		if err != nil {
			// Verified once, not openable now through the torrent's
			// folder: gone, or a symlink leading out of the store.
			return fail(fmt.Errorf("open %s: %w: %w", path, ErrChanged, err))
		}
		return fh, lf.Length, done, nil
	}
	return fail(fmt.Errorf("no file %q in torrent %s (GET /v1/torrents/%s lists its files): %w", path, ih, ih, ErrNotFound))
}

// incompleteError is a file asked of a torrent still downloading.
type incompleteError struct {
	ih       metainfo.InfoHash
	progress float64
}

func (e incompleteError) Error() string {
	return fmt.Sprintf("torrent %s is not complete (%.1f%% verified): files are served once every piece is verified", e.ih, 100*e.progress)
}

func (e incompleteError) Unwrap() error { return ErrIncomplete }

// readBody reads a request body of at most limit bytes; a longer one is
// 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLargeError{limit}
	}
	if err != nil {
		return nil, badRequest("read body: %w", err)
	}
	return b, nil
}

type tooLargeError struct{ limit int64 }

func (e tooLargeError) Error() string {
	return fmt.Sprintf("request body over its limit of %d bytes", e.limit)
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	var re requestError
	var tl tooLargeError
	switch {
	case errors.As(err, &tl):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &re):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound), errors.Is(err, channel.ErrUnknownChannel):
		return http.StatusNotFound
	case errors.Is(err, ErrDiskFull), errors.Is(err, ErrReadOnly):
		return http.StatusInsufficientStorage
	case errors.Is(err, ErrInUse), errors.Is(err, ErrIncomplete), errors.Is(err, channel.ErrConflict), errors.Is(err, ErrChanged),
		errors.Is(err, ErrTooManyChannels):
		return http.StatusConflict
	case errors.Is(err, channel.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, channel.ErrInvalid), errors.Is(err, ErrNoTracker), errors.Is(err, metainfo.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, channel.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func (a *Agent) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	body := ErrorBody{Error: err.Error()}
	var ie incompleteError
	if errors.As(err, &ie) {
		body.Progress = &ie.progress
		w.Header().Set("Retry-After", "1")
	}
	if code >= 500 {
		a.log.Error("api", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	} else {
		a.log.Info("api", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	return nil
}

// statusRecorder remembers the status code written, for the metrics.
type statusRecorder struct {
	http.ResponseWriter
	code    int
	written bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.written {
		s.code, s.written = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.written = true
	return s.ResponseWriter.Write(b)
}

// Listen opens the API's listener: a TCP address (default
// 127.0.0.1:7800), or a unix socket given as unix:/path or an absolute
// path (created mode 0660; a stale socket file is replaced).
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAPIAddr
	}
	if p, ok := strings.CutPrefix(addr, "unix:"); ok || strings.HasPrefix(addr, "/") {
		if !ok {
			p = addr
		}
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(p)
		}
		ln, err := net.Listen("unix", p)
		if err != nil {
			return nil, fmt.Errorf("api: listen on %s: %w", p, err)
		}
		os.Chmod(p, 0o660)
		return ln, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves the API on ln until ctx ends.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	hs.Shutdown(shut)
	return nil
}
