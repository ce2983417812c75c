package metainfo

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/anacrolix/torrent/bencode"
)

// MaxPieceLength bounds the piece length ParseInfo accepts. Callers size
// piece buffers from it, so a hostile torrent must not choose it freely.
const MaxPieceLength = 256 << 20

// FileInfo is one file of a multi-file torrent, as listed in the info
// dictionary's "files" list (BEP 3).
type FileInfo struct {
	// Length is the file's size in bytes.
	Length int64
	// Path holds the path components below the torrent's directory, as in
	// the torrent (use Info.LocalFiles for an OS path).
	Path []string
}

// Info is the decoded info dictionary of a torrent (BEP 3, BEP 27): the
// part of the metainfo that the info hash covers.
type Info struct {
	// Name is the file name (single-file mode) or the directory name
	// (multi-file mode).
	Name string
	// PieceLength is the size of every piece but possibly the last.
	PieceLength int64
	// Pieces holds the concatenated 20-byte SHA-1 hashes of the pieces.
	Pieces []byte
	// Length is the file size in single-file mode and 0 when Files is set.
	Length int64
	// Files lists the files in multi-file mode, in byte-stream order.
	Files []FileInfo
	// Private is the BEP 27 flag: peers come only from the trackers, not
	// from the DHT or peer exchange.
	Private bool
}

// infoDict and fileDict are the bencode forms of Info and FileInfo, used
// when encoding. The encoder sorts keys as bencode requires.
type infoDict struct {
	Files       []fileDict `bencode:"files,omitempty"`
	Length      int64      `bencode:"length,omitempty"`
	Name        string     `bencode:"name"`
	PieceLength int64      `bencode:"piece length"`
	Pieces      []byte     `bencode:"pieces"`
	Private     int64      `bencode:"private,omitempty"`
}

type fileDict struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

// ParseInfo decodes and validates a bencoded info dictionary, as found in
// a metainfo file or received by metadata exchange (BEP 9). It checks that
// the name and every file path are safe (ErrUnsafePath), that the piece
// length is positive and at most MaxPieceLength, that lengths are
// non-negative and the total is positive, and that the number of piece
// hashes matches the total length. Unknown keys are ignored; a repeated
// key, at any depth, is an error (ErrInvalid). The Info does not refer to
// b.
func ParseInfo(b []byte) (*Info, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxSize)
	}
	return parseInfo(bytes.Clone(b))
}

// parseInfo is ParseInfo on a buffer the Info may keep: Pieces is a
// sub-slice of b.
func parseInfo(b []byte) (*Info, error) {
	d, err := parseDict(b)
	if err != nil {
		return nil, fmt.Errorf("%w: info dictionary: %w", ErrInvalid, err)
	}
	var info Info
	if err := info.decode(d); err != nil {
		return nil, err
	}
	if err := info.validate(); err != nil {
		return nil, err
	}
	return &info, nil
}

// decode fills i from the raw info dictionary, checking types and the
// presence of required keys.
func (i *Info) decode(d rawDict) error {
	if ok, err := d.decodeField("name", &i.Name); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: info has no name", ErrInvalid)
	}
	if ok, err := d.decodeField("piece length", &i.PieceLength); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: info has no piece length", ErrInvalid)
	}
	if raw, ok := d["pieces"]; !ok {
		return fmt.Errorf("%w: info has no pieces", ErrInvalid)
	} else if p, err := parseBytes(raw); err != nil {
		return fmt.Errorf("%w: key %q: %w", ErrInvalid, "pieces", err)
	} else {
		i.Pieces = p
	}
	var private int64
	if _, err := d.decodeField("private", &private); err != nil {
		return err
	}
	i.Private = private != 0
	hasLength, err := d.decodeField("length", &i.Length)
	if err != nil {
		return err
	}
	var files []rawDict
	rawFiles, hasFiles := d["files"]
	if hasFiles {
		items, err := parseList(rawFiles)
		if err != nil {
			return fmt.Errorf("%w: key %q: %w", ErrInvalid, "files", err)
		}
		files = make([]rawDict, len(items))
		for n, it := range items {
			if files[n], err = parseDict(it); err != nil {
				return fmt.Errorf("%w: key %q: file %d: %w", ErrInvalid, "files", n, err)
			}
		}
	}
	switch {
	case hasLength && hasFiles:
		return fmt.Errorf("%w: info has both length and files", ErrInvalid)
	case !hasLength && !hasFiles:
		return fmt.Errorf("%w: info has neither length nor files (v2-only torrents are not supported)", ErrInvalid)
	case hasFiles:
		if len(files) == 0 {
			return fmt.Errorf("%w: info has an empty files list", ErrInvalid)
		}
		i.Files = make([]FileInfo, len(files))
		for n, fd := range files {
			if err := i.Files[n].decode(fd); err != nil {
				return fmt.Errorf("file %d: %w", n, err)
			}
		}
	}
	return nil
}

func (f *FileInfo) decode(d rawDict) error {
	if ok, err := d.decodeField("length", &f.Length); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: file has no length", ErrInvalid)
	}
	if ok, err := d.decodeField("path", &f.Path); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: file has no path", ErrInvalid)
	}
	return nil
}

// validate checks the invariants ParseInfo promises.
func (i *Info) validate() error {
	if err := checkComponent(i.Name); err != nil {
		return unsafePathError(i.Name, err)
	}
	if i.PieceLength <= 0 || i.PieceLength > MaxPieceLength {
		return fmt.Errorf("%w: piece length %d out of range (1..%d)", ErrInvalid, i.PieceLength, MaxPieceLength)
	}
	if len(i.Pieces)%20 != 0 {
		return fmt.Errorf("%w: pieces length %d is not a multiple of 20", ErrInvalid, len(i.Pieces))
	}
	total, err := i.checkedTotal()
	if err != nil {
		return err
	}
	if total == 0 {
		return fmt.Errorf("%w: torrent holds no data", ErrInvalid)
	}
	want := total / i.PieceLength
	if total%i.PieceLength != 0 {
		want++
	}
	if got := int64(i.NumPieces()); got != want {
		return fmt.Errorf("%w: %d piece hashes for %d bytes in pieces of %d, want %d", ErrInvalid, got, total, i.PieceLength, want)
	}
	return i.checkFileTree()
}

// checkedTotal sums the lengths, refusing negative lengths and overflow.
func (i *Info) checkedTotal() (int64, error) {
	if !i.IsMultiFile() {
		if i.Length < 0 {
			return 0, fmt.Errorf("%w: negative length %d", ErrInvalid, i.Length)
		}
		return i.Length, nil
	}
	var total int64
	for n, f := range i.Files {
		if f.Length < 0 {
			return 0, fmt.Errorf("%w: file %d: negative length %d", ErrInvalid, n, f.Length)
		}
		if total+f.Length < total {
			return 0, fmt.Errorf("%w: total length overflows", ErrInvalid)
		}
		total += f.Length
	}
	return total, nil
}

// checkFileTree checks every file path and refuses two files at the same
// path or a file that is also another file's directory, which no file
// system can hold.
func (i *Info) checkFileTree() error {
	if !i.IsMultiFile() {
		return nil
	}
	files := make(map[string]bool, len(i.Files))
	dirs := make(map[string]bool)
	for _, f := range i.Files {
		joined := strings.Join(f.Path, "/")
		if err := checkPath(f.Path); err != nil {
			return unsafePathError(joined, err)
		}
		if files[joined] || dirs[joined] {
			return fmt.Errorf("%w: path %q used twice", ErrInvalid, joined)
		}
		files[joined] = true
		for n := 1; n < len(f.Path); n++ {
			dir := strings.Join(f.Path[:n], "/")
			if files[dir] {
				return fmt.Errorf("%w: %q is both a file and a directory", ErrInvalid, dir)
			}
			dirs[dir] = true
		}
	}
	return nil
}

// NumPieces returns the number of pieces, from the piece hashes.
func (i *Info) NumPieces() int { return len(i.Pieces) / 20 }

// PieceHash returns the SHA-1 hash of piece p, or the zero hash if p is
// out of range.
func (i *Info) PieceHash(p int) [20]byte {
	var h [20]byte
	if p < 0 || p >= i.NumPieces() {
		return h
	}
	copy(h[:], i.Pieces[p*20:])
	return h
}

// TotalLength returns the size of the torrent's byte stream: the file
// length in single-file mode, the sum of the file lengths otherwise.
func (i *Info) TotalLength() int64 {
	if !i.IsMultiFile() {
		return i.Length
	}
	var total int64
	for _, f := range i.Files {
		total += f.Length
	}
	return total
}

// PieceSize returns the size of piece p: PieceLength for all but the last
// piece, which holds the remainder. It returns 0 if p is out of range.
func (i *Info) PieceSize(p int) int64 {
	if p < 0 || p >= i.NumPieces() || i.PieceLength <= 0 {
		return 0
	}
	if p < i.NumPieces()-1 {
		return i.PieceLength // only the last piece needs the total length
	}
	start := int64(p) * i.PieceLength
	return max(0, min(i.PieceLength, i.TotalLength()-start))
}

// IsMultiFile reports whether the torrent uses the multi-file layout (a
// directory named Name holding Files).
func (i *Info) IsMultiFile() bool { return i.Files != nil }

// encode returns the canonical bencoding of i.
func (i *Info) encode() ([]byte, error) {
	d := infoDict{
		Name:        i.Name,
		PieceLength: i.PieceLength,
		Pieces:      i.Pieces,
	}
	if i.Private {
		d.Private = 1
	}
	if i.IsMultiFile() {
		d.Files = make([]fileDict, len(i.Files))
		for n, f := range i.Files {
			d.Files[n] = fileDict{Length: f.Length, Path: f.Path}
		}
	} else {
		d.Length = i.Length
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("metainfo: encode info: %w", err)
	}
	return b, nil
}
