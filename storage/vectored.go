package storage

import "fmt"

// WritevAt writes the concatenation of bufs at torrent-global offset off,
// like WriteAt, with one vectored write (pwritev(2) where the system has it)
// per file the range touches, so a piece held as a list of blocks reaches
// the page cache in one system call and without being gathered first. The
// whole range must lie inside the data or nothing is written and the error
// is ErrOutOfRange. Concurrent calls are safe when their ranges do not
// overlap.
func (s *Storage) WritevAt(bufs [][]byte, off int64) (int, error) {
	if s.mode == ReadOnly {
		return 0, ErrReadOnly
	}
	n := vecLen(bufs)
	if off < 0 || int64(n) > s.ix.total-off {
		return 0, fmt.Errorf("%w: write of %d bytes at offset %d, data is %d bytes", ErrOutOfRange, n, off, s.ix.total)
	}
	written := 0
	err := s.eachVec(bufs, off, n, func(file int, vec [][]byte, fileOff int64) error {
		if w := &s.written[file]; !w.Load() {
			w.Store(true)
		}
		if d := &s.dirty[file]; !d.Load() {
			d.Store(true)
		}
		f, fd, err := s.fds.acquire(file)
		if err != nil {
			return err
		}
		m, err := pwritev(f, vec, fileOff)
		fd.release()
		written += m
		if err != nil {
			return fmt.Errorf("storage: write %q at %d: %w", s.layout.Files[file].Path, fileOff+int64(m), unwrapPath(err))
		}
		return nil
	})
	return written, err
}

// ReadvAt fills bufs, in order, from the bytes at torrent-global offset off,
// with one vectored read (preadv(2) where the system has it) per file the
// range touches. The whole range must lie inside the data, else
// ErrOutOfRange; a file shorter than the layout says gives
// io.ErrUnexpectedEOF.
func (s *Storage) ReadvAt(bufs [][]byte, off int64) error {
	n := vecLen(bufs)
	if off < 0 || int64(n) > s.ix.total-off {
		return fmt.Errorf("%w: read of %d bytes at offset %d, data is %d bytes", ErrOutOfRange, n, off, s.ix.total)
	}
	return s.eachVec(bufs, off, n, func(file int, vec [][]byte, fileOff int64) error {
		f, fd, err := s.fds.acquire(file)
		if err != nil {
			return err
		}
		m, err := preadv(f, vec, fileOff)
		fd.release()
		if err != nil {
			return fmt.Errorf("storage: read %q at %d: %w", s.layout.Files[file].Path, fileOff+int64(m), unwrapPath(err))
		}
		return nil
	})
}

// eachVec calls fn for every file holding part of the n bytes of bufs at
// off, with the buffers (or parts of them) that belong there. When one file
// holds everything, as for most pieces, fn gets bufs itself.
func (s *Storage) eachVec(bufs [][]byte, off int64, n int, fn func(file int, vec [][]byte, fileOff int64) error) error {
	var vec [][]byte
	bi, bo := 0, 0 // where the next span starts: bufs[bi][bo:]
	return s.ix.each(off, n, func(sp span) error {
		if sp.bufLo == 0 && sp.bufHi == n {
			return fn(sp.file, bufs, sp.fileOff)
		}
		vec = vec[:0]
		for need := sp.bufHi - sp.bufLo; need > 0; {
			b := bufs[bi][bo:]
			take := min(len(b), need)
			if take > 0 {
				vec = append(vec, b[:take])
			}
			need -= take
			if bo += take; bo == len(bufs[bi]) {
				bi, bo = bi+1, 0
			}
		}
		return fn(sp.file, vec, sp.fileOff)
	})
}

// vecLen is the total length of bufs.
func vecLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}
