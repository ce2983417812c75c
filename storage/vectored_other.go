//go:build !linux

package storage

import (
	"io"
	"os"
)

// pwritev writes vec at off in f, one positioned write per buffer.
func pwritev(f *os.File, vec [][]byte, off int64) (int, error) {
	written := 0
	for _, b := range vec {
		n, err := f.WriteAt(b, off)
		written, off = written+n, off+int64(n)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// preadv fills vec from off in f, one positioned read per buffer.
func preadv(f *os.File, vec [][]byte, off int64) (int, error) {
	done := 0
	for _, b := range vec {
		n, err := f.ReadAt(b, off)
		done, off = done+n, off+int64(n)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}
