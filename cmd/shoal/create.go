package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
)

// runCreate makes a .torrent of a file or folder and prints its info hash.
func runCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	out := fs.String("o", "", "output `file` (default: NAME.torrent in the current folder)")
	var trackers stringList
	fs.Var(&trackers, "tracker", "announce `URL` (repeatable)")
	pieceLen := fs.String("piece-length", "", "piece length in `bytes`, a power of two (default: automatic, 256KiB-16MiB)")
	comment := fs.String("comment", "", "comment stored in the torrent")
	private := fs.Bool("private", false, "mark the torrent private (BEP 27)")
	pos, err := parseFlags(fs, args, 1, 1, "PATH")
	if err != nil {
		return err
	}
	opts := metainfo.CreateOptions{Trackers: trackers, Comment: *comment, Private: *private}
	if *pieceLen != "" {
		v, err := parseSize(*pieceLen)
		if err != nil {
			return err
		}
		opts.PieceLength = int64(v) // metainfo.Create checks it
	}
	path := pos[0]
	if isTerminal(os.Stderr) {
		start := time.Now()
		opts.Progress = func(done, total int64) {
			if total > 0 {
				fmt.Fprintf(os.Stderr, "\rhashing %5.1f%% (%s of %s, %s/s)", 100*float64(done)/float64(total),
					formatBytes(float64(done)), formatBytes(float64(total)),
					formatBytes(float64(done)/max(time.Since(start).Seconds(), 1e-3)))
			}
		}
	}
	mi, err := metainfo.Create(path, opts)
	if opts.Progress != nil {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	data, err := mi.Marshal()
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Base(filepath.Clean(path)) + ".torrent"
	}
	if err := writeFileAtomic(*out, data); err != nil {
		return err
	}
	fmt.Println(mi.InfoHash.String())
	return ctx.Err()
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it into place, so a crash never leaves a half-written file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".shoal-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
