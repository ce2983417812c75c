package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/shoal-p2p/shoal/tracker"
)

// runTracker serves the HTTP tracker until interrupted.
func runTracker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
	listen := fs.String("listen", ":6969", "TCP `address` to serve announces on (/announce)")
	interval := fs.Duration("interval", 30*time.Second, "announce interval handed to peers")
	verbose := fs.Bool("verbose", false, "log every request")
	if _, err := parseFlags(fs, args, 0, 0, ""); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", *listen, err)
	}
	srv := &http.Server{
		Handler:           tracker.NewServer(tracker.ServerConfig{Interval: *interval, Logger: newLogger(*verbose)}),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	fmt.Fprintf(os.Stderr, "listening on %s\n", ln.Addr())
	fmt.Fprintf(os.Stderr, "announce URL: http://%s/announce\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
