package metainfo

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrEmpty reports that Create found no data to share.
var ErrEmpty = errors.New("metainfo: nothing to share")

// Piece length bounds used by AutoPieceLength.
const (
	minAutoPieceLength = 128 << 10
	maxAutoPieceLength = 16 << 20
	targetMaxPieces    = 4000
)

// CreateOptions controls Create.
type CreateOptions struct {
	// PieceLength is the piece size, a power of two of at least 16 KiB;
	// 0 chooses AutoPieceLength of the total size.
	PieceLength int64
	// Trackers are announce URLs. The first becomes Announce; when there
	// are several, each also goes into AnnounceList as its own tier, in
	// order (BEP 12). Empty and repeated URLs are dropped.
	Trackers []string
	// Comment is stored as the metainfo comment.
	Comment string
	// CreatedBy names the creator; empty means "shoal".
	CreatedBy string
	// CreationDate is stored in Unix seconds; 0 omits it. Create never
	// reads the clock, so the same input gives the same file.
	CreationDate int64
	// Private sets the BEP 27 private flag.
	Private bool
	// Progress, if set, is called as bytes are hashed with the bytes done
	// so far and the total.
	Progress func(done, total int64)
}

// sourceFile is a regular file found by Create.
type sourceFile struct {
	osPath     string
	components []string // below the root directory; nil in single-file mode
	length     int64
}

// Create builds a metainfo for the file or directory at path. A directory
// is walked recursively and every regular file is included (symbolic
// links and other non-regular files are skipped), ordered by path
// component by component. Files are streamed through SHA-1, with pieces
// spanning file boundaries as BEP 3 lays them out. An empty directory, or
// one holding only empty files, is ErrEmpty. The output depends only on
// the file tree and the options.
func Create(path string, opts CreateOptions) (*MetaInfo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("metainfo: create %s: %w", path, err)
	}
	name := filepath.Base(abs)
	if err := checkComponent(name); err != nil {
		return nil, fmt.Errorf("metainfo: create %s: %w", path, unsafePathError(name, err))
	}
	files, multi, err := collectFiles(abs)
	if err != nil {
		return nil, fmt.Errorf("metainfo: create %s: %w", path, err)
	}
	var total int64
	for _, f := range files {
		total += f.length
	}
	if total == 0 {
		return nil, fmt.Errorf("metainfo: create %s: %w: no files or only empty files", path, ErrEmpty)
	}
	pieceLength := opts.PieceLength
	if pieceLength == 0 {
		pieceLength = AutoPieceLength(total)
	}
	if pieceLength < 16<<10 || pieceLength > MaxPieceLength || pieceLength&(pieceLength-1) != 0 {
		return nil, fmt.Errorf("metainfo: create %s: %w: piece length %d is not a power of two in 16 KiB..%d", path, ErrInvalid, pieceLength, MaxPieceLength)
	}
	pieces, err := hashFiles(files, pieceLength, total, opts.Progress)
	if err != nil {
		return nil, fmt.Errorf("metainfo: create %s: %w", path, err)
	}
	info := Info{Name: name, PieceLength: pieceLength, Pieces: pieces, Private: opts.Private}
	if multi {
		info.Files = make([]FileInfo, len(files))
		for n, f := range files {
			info.Files[n] = FileInfo{Length: f.length, Path: f.components}
		}
	} else {
		info.Length = total
	}
	infoBytes, err := info.encode()
	if err != nil {
		return nil, err
	}
	// Parse our own output so Create never emits what Parse would refuse.
	parsed, err := ParseInfo(infoBytes)
	if err != nil {
		return nil, fmt.Errorf("metainfo: create %s: %w", path, err)
	}
	m := &MetaInfo{
		Comment:      opts.Comment,
		CreatedBy:    opts.CreatedBy,
		CreationDate: opts.CreationDate,
		InfoBytes:    infoBytes,
		Info:         *parsed,
		InfoHash:     sha1.Sum(infoBytes),
	}
	if m.CreatedBy == "" {
		m.CreatedBy = "shoal"
	}
	trackers := dedup(opts.Trackers)
	if len(trackers) > 0 {
		m.Announce = trackers[0]
	}
	if len(trackers) > 1 {
		for _, t := range trackers {
			m.AnnounceList = append(m.AnnounceList, []string{t})
		}
	}
	return m, nil
}

// AutoPieceLength picks a piece length for total bytes: the smallest
// power of two from 128 KiB up that keeps the piece count at or below
// 4,000, capped at 16 MiB. Files from 500 MiB to 62.5 GiB thus get 2,000
// to 4,000 pieces (5 GB: 2,385 of 2 MiB), smaller ones 128 KiB pieces.
//
// A swarm's lag behind its origin is counted in pieces: a receiver
// trails the origin by about the time a new piece takes to cross the
// hops between them, each at a fraction of an uploader's link while it
// serves several peers at once. So a file cut into few large pieces
// spreads slowly: 64 MB to 30 processes at 10 MB/s took 7.20 s (median
// of 6) with 256 KiB pieces and 6.93 s with 128 KiB, against a floor of
// 6.40 s; 64 KiB gained nothing more on the real run (6.91 s) and cost
// more CPU per byte at 1 GB/s, where every piece's hash, write and Haves
// count. At the other end 5 GB to 1,000 simulated hosts at 5 GB/s came
// within 0.893 of the floor with 4 MiB pieces (a 2,000-piece target) and
// 0.918 with 2 MiB; with 5% of them leaving, 0.843 and 0.916; only the
// racks row lost, its last rack late (docs/BENCHMARKS.md, "Session 13").
func AutoPieceLength(total int64) int64 {
	p := int64(minAutoPieceLength)
	for p < maxAutoPieceLength && total > p*targetMaxPieces {
		p *= 2
	}
	return p
}

// collectFiles lists the regular files at root: root itself, or every
// regular file below it sorted by path components.
func collectFiles(root string) (files []sourceFile, multi bool, err error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, false, err
	}
	if st.Mode().IsRegular() {
		return []sourceFile{{osPath: root, length: st.Size()}}, false, nil
	}
	if !st.IsDir() {
		return nil, false, fmt.Errorf("%w: not a regular file or directory", ErrInvalid)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		components := strings.Split(filepath.ToSlash(rel), "/")
		if err := checkPath(components); err != nil {
			return unsafePathError(rel, err)
		}
		files = append(files, sourceFile{osPath: p, components: components, length: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if len(files) == 0 {
		return nil, false, fmt.Errorf("%w: no regular files in directory", ErrEmpty)
	}
	slices.SortFunc(files, func(a, b sourceFile) int { return slices.Compare(a.components, b.components) })
	return files, true, nil
}

// hashFiles streams the files, in order, through a piece hasher.
func hashFiles(files []sourceFile, pieceLength, total int64, progress func(done, total int64)) ([]byte, error) {
	ph := &pieceHasher{h: sha1.New(), pieceLength: pieceLength, total: total, progress: progress}
	buf := make([]byte, 256<<10)
	for _, f := range files {
		if err := ph.hashFile(f, buf); err != nil {
			return nil, err
		}
	}
	return ph.finish(), nil
}

// pieceHasher turns a byte stream into concatenated piece hashes.
type pieceHasher struct {
	h           hash.Hash
	pieceLength int64
	inPiece     int64 // bytes of the current piece hashed so far
	pieces      []byte
	done, total int64
	progress    func(done, total int64)
}

// hashFile hashes exactly f.length bytes of f; a file that shrank since it
// was listed is an error.
func (ph *pieceHasher) hashFile(f sourceFile, buf []byte) error {
	fh, err := os.Open(f.osPath)
	if err != nil {
		return err
	}
	defer fh.Close()
	n, err := io.CopyBuffer(ph, io.LimitReader(fh, f.length), buf)
	if err != nil {
		return fmt.Errorf("hash %s: %w", f.osPath, err)
	}
	if n != f.length {
		return fmt.Errorf("hash %s: read %d bytes, expected %d (file changed?)", f.osPath, n, f.length)
	}
	return nil
}

// Write hashes p, closing a piece each time it reaches the piece length.
func (ph *pieceHasher) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		n := int(min(int64(len(p)), ph.pieceLength-ph.inPiece))
		ph.h.Write(p[:n])
		ph.inPiece += int64(n)
		p = p[n:]
		if ph.inPiece == ph.pieceLength {
			ph.pieces = ph.h.Sum(ph.pieces)
			ph.h.Reset()
			ph.inPiece = 0
		}
	}
	ph.done += int64(written)
	if ph.progress != nil {
		ph.progress(ph.done, ph.total)
	}
	return written, nil
}

// finish closes the last, short piece if there is one.
func (ph *pieceHasher) finish() []byte {
	if ph.inPiece > 0 {
		ph.pieces = ph.h.Sum(ph.pieces)
		ph.h.Reset()
		ph.inPiece = 0
	}
	return ph.pieces
}

// dedup drops empty and repeated strings, keeping the first occurrence.
func dedup(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
