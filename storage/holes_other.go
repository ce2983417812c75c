//go:build !linux

package storage

// isHole reports false: without SEEK_DATA every byte counts as data.
func (s *Storage) isHole(i int, off, n int64) bool { return false }
