package tracker

import (
	"log/slog"
	"net/http"
	"time"
)

// The limits of the http.Server that [Server.HTTPServer] returns. Real
// announces and scrapes are one short GET with a few hundred bytes of
// headers, answered at once; these bound what a slow or hostile client
// can hold.
const (
	// HTTPReadHeaderTimeout bounds how long a client may take to send its
	// request line and headers (a slow-loris connection is closed).
	HTTPReadHeaderTimeout = 10 * time.Second
	// HTTPReadTimeout bounds reading a whole request.
	HTTPReadTimeout = 15 * time.Second
	// HTTPWriteTimeout bounds writing a reply, from the end of the
	// request's headers.
	HTTPWriteTimeout = 15 * time.Second
	// HTTPIdleTimeout closes a kept-alive connection idle this long.
	HTTPIdleTimeout = 60 * time.Second
	// HTTPMaxHeaderBytes bounds a request's headers; a client sending more
	// gets 431.
	HTTPMaxHeaderBytes = 16 << 10
)

// HTTPServer returns an http.Server that serves s with the limits above,
// logging the server's own errors (a TLS handshake, a broken connection)
// to the tracker's logger at debug level. It is what `shoal tracker`, the
// demo and a library user should serve s with; the caller owns it (Serve,
// Shutdown) and may adjust it. A handler that holds a request longer than
// HTTPWriteTimeout on purpose (a long poll) extends its own deadline with
// http.ResponseController's SetWriteDeadline.
func (s *Server) HTTPServer() *http.Server {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: HTTPReadHeaderTimeout,
		ReadTimeout:       HTTPReadTimeout,
		WriteTimeout:      HTTPWriteTimeout,
		IdleTimeout:       HTTPIdleTimeout,
		MaxHeaderBytes:    HTTPMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	hs.RegisterOnShutdown(s.EndStreams) // long polls and fleet event streams would hold Shutdown
	return hs
}
