package storage

import "golang.org/x/sys/unix"

// StartWriteback asks the kernel to start writing the n bytes at
// torrent-global offset off to disk now (sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE), without waiting for them. A downloader calls it as
// pieces are written, so the disk works while the transfer goes on and the
// Sync at completion waits only for the last pieces, not for every dirty page
// of the torrent at once. It is advice: an error changes nothing but the cost
// of the final Sync.
func (s *Storage) StartWriteback(off, n int64) error {
	if s.mode == ReadOnly || off < 0 || n <= 0 || n > s.ix.total-off {
		return nil
	}
	return s.ix.each(off, int(n), func(sp span) error {
		f, fd, err := s.fds.acquire(sp.file)
		if err != nil {
			return err
		}
		defer fd.release()
		return unix.SyncFileRange(int(f.Fd()), sp.fileOff, int64(sp.bufHi-sp.bufLo), unix.SYNC_FILE_RANGE_WRITE)
	})
}
