package metainfo

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrUnsafePath reports a file name or path in a torrent that could
// escape the download directory or cannot be mapped to a plain relative
// path on every common operating system.
var ErrUnsafePath = errors.New("metainfo: unsafe file path")

// LocalFile is one file of a torrent as it lands on disk.
type LocalFile struct {
	// Path is relative to the download directory, in OS form:
	// filepath.Join(name, components...) for a multi-file torrent, the
	// torrent name for a single-file torrent. It is always local (see
	// filepath.IsLocal).
	Path string
	// Length is the file's size in bytes.
	Length int64
	// Offset is where the file starts in the torrent's byte stream, the
	// concatenation of all files in order (BEP 3).
	Offset int64
}

// LocalFiles returns every file of the torrent, in torrent order, with its
// safe relative path, length and offset. It re-checks every path, so it is
// safe on an Info that was built by hand rather than by ParseInfo.
func (i *Info) LocalFiles() ([]LocalFile, error) {
	if err := checkComponent(i.Name); err != nil {
		return nil, unsafePathError(i.Name, err)
	}
	if !i.IsMultiFile() {
		if i.Length < 0 {
			return nil, fmt.Errorf("%w: negative length %d", ErrInvalid, i.Length)
		}
		return []LocalFile{{Path: i.Name, Length: i.Length}}, nil
	}
	files := make([]LocalFile, 0, len(i.Files))
	var off int64
	for _, f := range i.Files {
		if err := checkPath(f.Path); err != nil {
			return nil, unsafePathError(strings.Join(f.Path, "/"), err)
		}
		if f.Length < 0 || off+f.Length < off {
			return nil, fmt.Errorf("%w: file %q: bad length %d", ErrInvalid, strings.Join(f.Path, "/"), f.Length)
		}
		p := filepath.Join(append([]string{i.Name}, f.Path...)...)
		if !filepath.IsLocal(p) {
			return nil, unsafePathError(p, errors.New("not a local path"))
		}
		files = append(files, LocalFile{Path: p, Length: f.Length, Offset: off})
		off += f.Length
	}
	return files, nil
}

func unsafePathError(p string, why error) error {
	return fmt.Errorf("%w %q: %w", ErrUnsafePath, p, why)
}

// checkPath checks the path components of one file of a multi-file
// torrent.
func checkPath(components []string) error {
	if len(components) == 0 {
		return errors.New("empty path")
	}
	for _, c := range components {
		if err := checkComponent(c); err != nil {
			return err
		}
	}
	return nil
}

// checkComponent checks one path component (or the torrent name): it must
// name an entry inside its parent directory and nothing else.
func checkComponent(c string) error {
	switch {
	case c == "":
		return errors.New("empty component")
	case c == "." || c == "..":
		return fmt.Errorf("component %q", c)
	case strings.ContainsAny(c, "/\\\x00"):
		return fmt.Errorf("component %q contains a separator or NUL", c)
	case len(c) >= 2 && c[1] == ':' && isASCIILetter(c[0]):
		return fmt.Errorf("component %q looks like a Windows drive", c)
	}
	return nil
}

func isASCIILetter(b byte) bool {
	return ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z')
}
