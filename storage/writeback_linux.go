package storage

import (
	"cmp"
	"slices"

	"golang.org/x/sys/unix"
)

// StartWriteback asks the kernel to start writing the n bytes at
// torrent-global offset off to disk now (sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE), without waiting for them. A downloader calls it as
// pieces are written, so the disk works while the transfer goes on and the
// Sync at completion waits only for the last pieces, not for every dirty page
// of the torrent at once. It is advice: an error changes nothing but the cost
// of the final Sync.
func (s *Storage) StartWriteback(off, n int64) error {
	return s.StartWritebacks([]Extent{{Off: off, Len: n}})
}

// StartWritebacks is StartWriteback for several ranges at once, with one
// system call per file they touch: over the hull of the ranges' parts in
// that file. sync_file_range starts the write of the dirty pages in its
// range only, so the pages between the ranges cost nothing unless they are
// dirty too; and each call submits its writes as one batch, which on a
// virtual disk is one notification of the host (a VM exit) instead of one
// per range. It sorts exts. Ranges outside the torrent are ignored.
func (s *Storage) StartWritebacks(exts []Extent) error {
	if s.mode == ReadOnly {
		return nil
	}
	slices.SortFunc(exts, func(a, b Extent) int { return cmp.Compare(a.Off, b.Off) })
	file, lo, hi := -1, int64(0), int64(0)
	var first error
	flush := func() {
		if file < 0 {
			return
		}
		if err := s.syncFileRange(file, lo, hi-lo); err != nil && first == nil {
			first = err
		}
	}
	for _, e := range exts {
		if e.Off < 0 || e.Len <= 0 || e.Len > s.ix.total-e.Off {
			continue
		}
		s.ix.each(e.Off, int(e.Len), func(sp span) error {
			end := sp.fileOff + int64(sp.bufHi-sp.bufLo)
			if sp.file == file {
				hi = max(hi, end)
				return nil
			}
			flush()
			file, lo, hi = sp.file, sp.fileOff, end
			return nil
		})
	}
	flush()
	return first
}

// syncFileRange starts the write-back of n bytes at off in file i.
func (s *Storage) syncFileRange(i int, off, n int64) error {
	f, fd, err := s.fds.acquire(i)
	if err != nil {
		return err
	}
	defer fd.release()
	return startWrite(i, int(f.Fd()), off, n)
}

// startWrite is the system call of syncFileRange (i is the file's index,
// for tests that replace it to see the calls).
var startWrite = func(i, fd int, off, n int64) error {
	return unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
}
