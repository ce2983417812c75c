package storage

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// hashChunk is the size of the pooled buffers pieces are hashed through.
// Pieces are streamed through it, so memory stays bounded however large the
// piece length is, and one read per chunk keeps syscall cost negligible.
const hashChunk = 256 << 10

var hashBufs = sync.Pool{New: func() any { b := make([]byte, hashChunk); return &b }}

// VerifyPiece reads piece back from disk and reports whether its SHA-1
// matches the layout (BEP 3). A mismatch is (false, nil); an error means the
// piece could not be read.
func (s *Storage) VerifyPiece(piece int) (bool, error) {
	return s.verify(context.Background(), piece)
}

// verify is VerifyPiece, giving up between chunks once ctx is done.
func (s *Storage) verify(ctx context.Context, piece int) (bool, error) {
	size := s.pieceSize(piece)
	if size == 0 {
		return false, fmt.Errorf("%w: piece %d of %d", ErrOutOfRange, piece, s.layout.NumPieces())
	}
	bp := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(bp)
	buf := *bp

	h := sha1.New()
	off := int64(piece) * s.layout.PieceLength
	for done := int64(0); done < size; {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		n := int(min(int64(len(buf)), size-done))
		if _, err := s.ReadAt(buf[:n], off+done); err != nil {
			return false, fmt.Errorf("storage: verify piece %d: %w", piece, err)
		}
		h.Write(buf[:n])
		done += int64(n)
	}
	var sum [20]byte
	h.Sum(sum[:0])
	return sum == s.layout.PieceHashes[piece], nil
}

// Check verifies every piece on disk and returns which are good, for
// resuming a download. A piece that includes bytes past the end a file had
// before Open (a file that did not exist, was empty or was short), in a file
// not written since, cannot hold downloaded data and is reported missing
// without hashing. A piece lying wholly in holes of its files (a sparse
// file, or space preallocated and never written) reads as zeros: it is
// compared with the SHA-1 of zeros without being read. The rest are hashed
// in parallel on up to runtime.NumCPU()
// goroutines. progress, if not nil, is called from the calling goroutine
// after each piece with the number of pieces done so far and the total.
// Cancelling ctx stops the check and returns its error; so does the first
// read error.
func (s *Storage) Check(ctx context.Context, progress func(done, total int)) ([]bool, error) {
	good, _, err := s.CheckTrusting(ctx, nil, progress)
	return good, err
}

// CheckTrusting is Check that takes the caller's word for the pieces set in
// trusted (resume state kept from an earlier run, for files unchanged since):
// they are reported good without being read, unless they lie past the end of
// their file. It also returns how many pieces it read and hashed. A nil
// trusted trusts nothing.
func (s *Storage) CheckTrusting(ctx context.Context, trusted []bool, progress func(done, total int)) ([]bool, int, error) {
	total := s.layout.NumPieces()
	good := make([]bool, total)
	workers := min(runtime.NumCPU(), total)
	var hashed atomic.Int64

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		results = make(chan error, workers)
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				p := int(next.Add(1) - 1)
				if p >= total {
					return
				}
				var err error
				switch {
				case s.neverWritten(p):
				case p < len(trusted) && trusted[p]:
					good[p] = true
				case s.holePiece(p): // reads as zeros: no need to read it
					good[p] = s.layout.PieceHashes[p] == zeroSum(s.pieceSize(p))
				default:
					hashed.Add(1)
					good[p], err = s.verify(ctx, p)
				}
				select {
				case results <- err:
				case <-ctx.Done():
					return
				}
			}
		})
	}

	var firstErr error
	for done := 0; done < total && firstErr == nil; {
		// Results may already be queued; a cancelled check stops at once.
		if err := ctx.Err(); err != nil {
			firstErr = err
			continue
		}
		select {
		case err := <-results:
			if err != nil {
				firstErr = err
				continue
			}
			done++
			if progress != nil {
				progress(done, total)
			}
		case <-ctx.Done():
			firstErr = ctx.Err()
		}
	}
	cancel()
	wg.Wait()
	if firstErr != nil {
		if errors.Is(firstErr, context.Canceled) || errors.Is(firstErr, context.DeadlineExceeded) {
			return nil, 0, fmt.Errorf("storage: check: %w", firstErr)
		}
		return nil, 0, firstErr
	}
	return good, int(hashed.Load()), nil
}

// neverWritten reports whether piece p includes bytes that lay past the end
// of their file when Open found it, in a file not written to since, so the
// piece cannot be complete.
func (s *Storage) neverWritten(p int) bool {
	off := int64(p) * s.layout.PieceLength
	size := s.pieceSize(p)
	fresh := false
	s.ix.each(off, int(size), func(sp span) error {
		if sp.fileOff+int64(sp.bufHi-sp.bufLo) > s.before[sp.file] && !s.written[sp.file].Load() {
			fresh = true
		}
		return nil
	})
	return fresh
}
