package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
)

// ErrOutOfRange is returned when a read, write or block lies outside the
// torrent's data or outside its piece, or names a piece that does not exist.
var ErrOutOfRange = errors.New("storage: out of range")

// ErrReadOnly is returned by writes to a Storage opened in ReadOnly mode.
var ErrReadOnly = errors.New("storage: opened read-only")

// ErrWrongSize is returned by Open in ReadOnly mode when a file on disk is
// not exactly as long as the layout says.
var ErrWrongSize = errors.New("storage: wrong file size")

// Mode says how Open treats the files on disk.
type Mode int

const (
	// ReadWrite is for downloading: missing directories and files are
	// created and every file is preallocated to its length. A file longer
	// than its length is truncated to it (the bytes past the end belong to
	// no piece, so no verification would catch them); Truncated reports it.
	ReadWrite Mode = iota
	// ReadOnly is for seeding: every file must already exist with exactly
	// its length, and nothing is written.
	ReadOnly
)

// String names the mode for messages.
func (m Mode) String() string {
	switch m {
	case ReadWrite:
		return "read-write"
	case ReadOnly:
		return "read-only"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Extent is a range of the torrent's byte stream: Len bytes at offset Off.
type Extent struct {
	Off, Len int64
}

// Storage holds the open files of one torrent and moves bytes between them
// and callers. Reads, writes and verification may run concurrently from many
// goroutines as long as concurrent writes touch disjoint ranges; Close must
// not race with them.
type Storage struct {
	layout Layout
	mode   Mode
	ix     index
	root   *os.Root // the download folder, open until Close
	fds    *fdCache
	// dirty says which files were written since the last Sync; a written
	// file's descriptor may have been closed since, so Sync opens it again.
	dirty []atomic.Bool
	// before holds each file's size as found by Open, before any
	// preallocation; written says whether this Storage has written to the
	// file since. Bytes past before in an unwritten file are known zeros.
	before  []int64
	written []atomic.Bool
	// truncated lists the files Open cut back to their length.
	truncated []Truncation
}

// Truncation is a file that Open, in ReadWrite mode, found longer than the
// layout says and cut back to its length.
type Truncation struct {
	Path     string // as in the layout
	From, To int64  // sizes before and after
}

// Open validates l and opens its files under dir. Each path must be local
// to dir (filepath.IsLocal) or Open fails with ErrUnsafePath; symbolic links
// leading out of dir are refused as well. In ReadWrite mode dir, the
// directories and the files are created as needed and each file shorter
// than its length is preallocated, so a full disk is reported here (the
// error wraps syscall.ENOSPC). In ReadOnly mode every file must exist with
// exactly its length. A failed Open leaves the folder as it found it: the
// files it created are removed and those it grew shrink back, so a full
// disk is not left full by the attempt.
func Open(dir string, l Layout, mode Mode) (*Storage, error) {
	if mode != ReadWrite && mode != ReadOnly {
		return nil, fmt.Errorf("storage: unknown mode %v", mode)
	}
	l = l.clone()
	if err := l.validate(); err != nil {
		return nil, err
	}
	if mode == ReadWrite {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("storage: create directory: %w", err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: open directory: %w", err)
	}
	names := make([]string, len(l.Files))
	for i, f := range l.Files {
		names[i] = filepath.Clean(f.Path)
	}
	flag := os.O_RDONLY
	if mode == ReadWrite {
		flag = os.O_RDWR
	}
	s := &Storage{
		layout: l,
		mode:   mode,
		ix:     newIndex(l.Files),
		root:   root,
		fds:    newFDCache(root, flag, names, maxOpenFiles),
		before: make([]int64, 0, len(l.Files)),
		// written and dirty are indexed by file and never grow.
		written: make([]atomic.Bool, len(l.Files)),
		dirty:   make([]atomic.Bool, len(l.Files)),
	}
	var changes []change
	for i, f := range l.Files {
		fh, size, err := openFile(root, f, mode, &changes)
		if err != nil {
			undo(root, changes)
			s.Close()
			return nil, err
		}
		if size > f.Length {
			s.truncated = append(s.truncated, Truncation{Path: f.Path, From: size, To: f.Length})
			size = f.Length
		}
		s.fds.put(i, fh)
		s.before = append(s.before, size)
	}
	return s, nil
}

// change is something Open did to the download folder, which it undoes if
// it fails: a directory or file it created, or a file it grew from size.
// A failed preallocation otherwise keeps the blocks it got (ext4 does;
// tmpfs gives them back), leaving the disk full after the error.
type change struct {
	name    string
	dir     bool
	created bool
	size    int64
}

// undo reverts changes, newest first: grown files shrink back to their
// size, created files and (then empty) directories are removed. It is best
// effort: the error that made Open fail is what the caller reports.
func undo(root *os.Root, changes []change) {
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		switch {
		case c.created:
			root.Remove(c.name)
		case !c.dir:
			if fh, err := root.OpenFile(c.name, os.O_WRONLY, 0); err == nil {
				fh.Truncate(c.size)
				fh.Close()
			}
		}
	}
}

// Truncated returns the files Open cut back to their length, in layout
// order (ReadWrite mode only; nil if none).
func (s *Storage) Truncated() []Truncation { return append([]Truncation(nil), s.truncated...) }

// openFile opens one file of the layout and returns it with the size it had
// before Open touched it. In ReadWrite mode it creates the file and its
// directories as needed, preallocates a short file and truncates a long one
// to its length, recording in changes what it created or grew so that a
// failed Open can undo it; a failed preallocation is undone at once.
func openFile(root *os.Root, f File, mode Mode, changes *[]change) (*os.File, int64, error) {
	name := filepath.Clean(f.Path)
	var fh *os.File
	var err error
	if mode == ReadWrite {
		if err := mkdirs(root, filepath.Dir(name), changes); err != nil {
			return nil, 0, fmt.Errorf("storage: create directory for %q in %q: %w", f.Path, root.Name(), unwrapPath(err))
		}
		fh, err = root.OpenFile(name, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			fh, err = root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
			if err == nil {
				*changes = append(*changes, change{name: name, created: true})
			}
		}
	} else {
		fh, err = root.OpenFile(name, os.O_RDONLY, 0)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("storage: open %q in %q: %w", f.Path, root.Name(), unwrapPath(err))
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, 0, fmt.Errorf("storage: stat %q: %w", f.Path, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		fh.Close()
		return nil, 0, fmt.Errorf("storage: %q in %q is not a regular file (%v)", f.Path, root.Name(), fi.Mode().Type())
	}
	size := fi.Size()
	switch {
	case mode == ReadOnly && size != f.Length:
		fh.Close()
		return nil, 0, fmt.Errorf("storage: %q in %q is %d bytes, want %d: %w", f.Path, root.Name(), size, f.Length, ErrWrongSize)
	case mode == ReadWrite && size > f.Length:
		if err := fh.Truncate(f.Length); err != nil {
			fh.Close()
			return nil, 0, fmt.Errorf("storage: truncate %q from %d to %d bytes: %w", f.Path, size, f.Length, unwrapPath(err))
		}
	case mode == ReadWrite && size < f.Length:
		if n := len(*changes); n == 0 || (*changes)[n-1].name != name {
			*changes = append(*changes, change{name: name, size: size})
		}
		if err := allocate(fh, size, f.Length); err != nil {
			fh.Truncate(size) // give back what the failed allocation got
			fh.Close()
			return nil, 0, fmt.Errorf("storage: allocate %q (%d bytes): %w", f.Path, f.Length, err)
		}
	}
	return fh, size, nil
}

// mkdirs creates dir and its missing parents under root, recording each it
// created, outermost first.
func mkdirs(root *os.Root, dir string, changes *[]change) error {
	if dir == "." {
		return nil
	}
	if fi, err := root.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%q is not a directory", dir)
		}
		return nil
	}
	if err := mkdirs(root, filepath.Dir(dir), changes); err != nil {
		return err
	}
	if err := root.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	*changes = append(*changes, change{name: dir, dir: true, created: true})
	return nil
}

// unwrapPath drops the *fs.PathError layer, whose operation and path repeat
// what our own message already says, keeping the cause for errors.Is.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadAt reads len(p) bytes at torrent-global offset off, across file
// boundaries, with positioned reads. Like io.ReaderAt it returns io.EOF when
// the range runs past the end of the data.
func (s *Storage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: read at offset %d", ErrOutOfRange, off)
	}
	n, atEnd := len(p), error(nil)
	if rest := s.ix.total - off; int64(n) > rest {
		n, atEnd = int(max(rest, 0)), io.EOF
	}
	read := 0
	err := s.ix.each(off, n, func(sp span) error {
		f, fd, err := s.fds.acquire(sp.file)
		if err != nil {
			return err
		}
		m, err := f.ReadAt(p[sp.bufLo:sp.bufHi], sp.fileOff)
		fd.release()
		read += m
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // the file is shorter than the layout says
			}
			return fmt.Errorf("storage: read %q at %d: %w", s.layout.Files[sp.file].Path, sp.fileOff+int64(m), unwrapPath(err))
		}
		return nil
	})
	if err != nil {
		return read, err
	}
	return read, atEnd
}

// pieceSize is Layout.PieceSize from the totals computed at Open, so the
// per-block paths don't re-sum the file lengths.
func (s *Storage) pieceSize(p int) int64 {
	if p < 0 || p >= len(s.layout.PieceHashes) {
		return 0
	}
	return min(s.layout.PieceLength, s.ix.total-int64(p)*s.layout.PieceLength)
}

// WriteAt writes p at torrent-global offset off, across file boundaries,
// with positioned writes. The whole range must lie inside the data or
// nothing is written and the error is ErrOutOfRange. Concurrent calls are
// safe when their ranges do not overlap.
func (s *Storage) WriteAt(p []byte, off int64) (int, error) {
	if s.mode == ReadOnly {
		return 0, ErrReadOnly
	}
	if off < 0 || int64(len(p)) > s.ix.total-off {
		return 0, fmt.Errorf("%w: write of %d bytes at offset %d, data is %d bytes", ErrOutOfRange, len(p), off, s.ix.total)
	}
	written := 0
	err := s.ix.each(off, len(p), func(sp span) error {
		if w := &s.written[sp.file]; !w.Load() {
			w.Store(true)
		}
		if d := &s.dirty[sp.file]; !d.Load() {
			d.Store(true)
		}
		f, fd, err := s.fds.acquire(sp.file)
		if err != nil {
			return err
		}
		m, err := f.WriteAt(p[sp.bufLo:sp.bufHi], sp.fileOff)
		fd.release()
		written += m
		if err != nil {
			return fmt.Errorf("storage: write %q at %d: %w", s.layout.Files[sp.file].Path, sp.fileOff+int64(m), unwrapPath(err))
		}
		return nil
	})
	return written, err
}

// ReadBlock fills p from piece at offset begin within the piece. The block
// must lie inside the piece, else ErrOutOfRange.
func (s *Storage) ReadBlock(piece int, begin int64, p []byte) error {
	off, err := s.blockOffset(piece, begin, len(p))
	if err != nil {
		return err
	}
	if _, err := s.ReadAt(p, off); err != nil {
		return fmt.Errorf("storage: read block %d+%d: %w", piece, begin, err)
	}
	return nil
}

// WriteBlock writes p into piece at offset begin within the piece. The
// block must lie inside the piece, else ErrOutOfRange. It does not verify
// the piece; call VerifyPiece once all its blocks are in.
func (s *Storage) WriteBlock(piece int, begin int64, p []byte) error {
	off, err := s.blockOffset(piece, begin, len(p))
	if err != nil {
		return err
	}
	if _, err := s.WriteAt(p, off); err != nil {
		return fmt.Errorf("storage: write block %d+%d: %w", piece, begin, err)
	}
	return nil
}

// blockOffset checks that n bytes at begin fit in piece and returns their
// torrent-global offset.
func (s *Storage) blockOffset(piece int, begin int64, n int) (int64, error) {
	size := s.pieceSize(piece)
	if size == 0 {
		return 0, fmt.Errorf("%w: piece %d of %d", ErrOutOfRange, piece, s.layout.NumPieces())
	}
	if begin < 0 || begin > size || int64(n) > size-begin {
		return 0, fmt.Errorf("%w: block of %d bytes at %d in piece %d of %d bytes", ErrOutOfRange, n, begin, piece, size)
	}
	return int64(piece)*s.layout.PieceLength + begin, nil
}

// Sync flushes written data of every file to stable storage.
func (s *Storage) Sync() error {
	if s.mode == ReadOnly {
		return nil
	}
	var errs []error
	for i := range s.dirty {
		if !s.dirty[i].Swap(false) {
			continue
		}
		f, fd, err := s.fds.acquire(i)
		if err == nil {
			err = f.Sync()
			fd.release()
		}
		if err != nil {
			s.dirty[i].Store(true)
			errs = append(errs, fmt.Errorf("storage: sync %q: %w", s.layout.Files[i].Path, unwrapPath(err)))
		}
	}
	return errors.Join(errs...)
}

// Close closes every file. It does not sync; call Sync first to make
// writes durable. Using the Storage after Close returns errors.
func (s *Storage) Close() error {
	err := s.fds.close()
	if rerr := s.root.Close(); rerr != nil && err == nil {
		err = fmt.Errorf("storage: close directory: %w", rerr)
	}
	return err
}

// FileStat returns what the file at file i's path is now (os.Stat through
// the download folder), for noticing that a file changed on disk.
func (s *Storage) FileStat(i int) (os.FileInfo, error) {
	if i < 0 || i >= len(s.layout.Files) {
		return nil, fmt.Errorf("%w: file %d of %d", ErrOutOfRange, i, len(s.layout.Files))
	}
	fi, err := s.root.Stat(s.fds.names[i])
	if err != nil {
		return nil, fmt.Errorf("storage: stat %q: %w", s.layout.Files[i].Path, unwrapPath(err))
	}
	return fi, nil
}

// Reopen makes the next access to file i open its path again, for a file
// that was replaced on disk (a new file renamed over it): the descriptor
// held so far still reads the old one.
func (s *Storage) Reopen(i int) {
	if i >= 0 && i < len(s.layout.Files) {
		s.fds.forget(i)
	}
}

// FilePieces returns the range [first, end) of the pieces holding bytes of
// file i; it is empty for an empty file.
func (s *Storage) FilePieces(i int) (first, end int) {
	if i < 0 || i >= len(s.layout.Files) || s.ix.lens[i] == 0 {
		return 0, 0
	}
	pl := s.layout.PieceLength
	start := s.ix.starts[i]
	return int(start / pl), int((start + s.ix.lens[i] + pl - 1) / pl)
}

// PieceFiles returns the paths of the files holding bytes of piece p.
func (s *Storage) PieceFiles(p int) []string {
	var paths []string
	s.ix.each(int64(p)*s.layout.PieceLength, int(s.pieceSize(p)), func(sp span) error {
		paths = append(paths, s.layout.Files[sp.file].Path)
		return nil
	})
	return paths
}

// Layout returns a copy of the layout the Storage was opened with.
func (s *Storage) Layout() Layout {
	return s.layout.clone()
}
