package storage

import "golang.org/x/sys/unix"

// isHole reports whether the n bytes at off in file i hold no data
// (lseek(2) SEEK_DATA finds none before off+n). Filesystems without
// SEEK_DATA report all of a file as data, so the answer is then false.
func (s *Storage) isHole(i int, off, n int64) bool {
	f, fd, err := s.fds.acquire(i)
	if err != nil {
		return false
	}
	defer fd.release()
	next, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
	if err == unix.ENXIO {
		return true // no data at or after off
	}
	return err == nil && next >= off+n
}
