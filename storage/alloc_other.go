//go:build !linux

package storage

import "os"

// allocate grows f to length bytes. Without fallocate(2) the file is made
// sparse, so a full disk is only noticed when blocks are written.
func allocate(f *os.File, size, length int64) error {
	return f.Truncate(length)
}
