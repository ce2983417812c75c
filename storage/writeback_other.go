//go:build !linux

package storage

// StartWriteback does nothing where sync_file_range(2) does not exist; the
// Sync at completion then writes everything.
func (s *Storage) StartWriteback(off, n int64) error { return nil }

// StartWritebacks does nothing where sync_file_range(2) does not exist.
func (s *Storage) StartWritebacks(exts []Extent) error { return nil }
