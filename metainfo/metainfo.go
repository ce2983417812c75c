package metainfo

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/anacrolix/torrent/bencode"
)

// MetaInfo is a parsed metainfo (.torrent) file (BEP 3, BEP 12).
type MetaInfo struct {
	// Announce is the tracker URL of BEP 3.
	Announce string
	// AnnounceList holds tiers of tracker URLs (BEP 12). When present,
	// clients use it instead of Announce.
	AnnounceList [][]string
	// Comment is free text from the creator.
	Comment string
	// CreatedBy names the program that made the file.
	CreatedBy string
	// CreationDate is in Unix seconds; 0 means absent.
	CreationDate int64
	// InfoBytes is the bencoded info dictionary exactly as received, so
	// that unknown keys survive a round trip and the hash stays right.
	InfoBytes []byte
	// Info is InfoBytes decoded.
	Info Info
	// InfoHash is the SHA-1 of InfoBytes.
	InfoHash InfoHash

	// extra holds top-level keys this package does not interpret (for
	// example BEP 19 "url-list"), so that Marshal keeps them.
	extra rawDict
}

// Keys of the top-level dictionary that MetaInfo interprets.
const (
	keyAnnounce     = "announce"
	keyAnnounceList = "announce-list"
	keyComment      = "comment"
	keyCreatedBy    = "created by"
	keyCreationDate = "creation date"
	keyInfo         = "info"
)

// Parse decodes a metainfo file. It refuses input larger than MaxSize
// (ErrTooLarge), malformed bencode, a dictionary that repeats a key or
// trailing bytes (ErrInvalid), and any info dictionary that ParseInfo
// refuses. Wrongly typed informational fields (comment, created by,
// creation date) are ignored; a wrongly typed announce or announce-list is
// an error. The MetaInfo does not refer to data.
func Parse(data []byte) (*MetaInfo, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxSize)
	}
	return parse(bytes.Clone(data))
}

// parse is Parse on a buffer the MetaInfo may keep: InfoBytes, the piece
// hashes and unknown keys are sub-slices of data, so parsing costs about
// one copy of the file in all.
func parse(data []byte) (*MetaInfo, error) {
	d, err := parseDict(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	m := &MetaInfo{}
	if _, err := d.decodeField(keyAnnounce, &m.Announce); err != nil {
		return nil, err
	}
	if _, err := d.decodeField(keyAnnounceList, &m.AnnounceList); err != nil {
		return nil, err
	}
	// Informational only: a bad value is dropped rather than failing.
	if _, err := d.decodeField(keyComment, &m.Comment); err != nil {
		m.Comment = ""
	}
	if _, err := d.decodeField(keyCreatedBy, &m.CreatedBy); err != nil {
		m.CreatedBy = ""
	}
	if _, err := d.decodeField(keyCreationDate, &m.CreationDate); err != nil {
		m.CreationDate = 0
	}
	raw, ok := d[keyInfo]
	if !ok {
		return nil, fmt.Errorf("%w: no info dictionary", ErrInvalid)
	}
	info, err := parseInfo(raw)
	if err != nil {
		return nil, err
	}
	m.Info = *info
	m.InfoBytes = raw
	m.InfoHash = sha1.Sum(raw)
	for _, k := range []string{keyAnnounce, keyAnnounceList, keyComment, keyCreatedBy, keyCreationDate, keyInfo} {
		delete(d, k)
	}
	if len(d) > 0 {
		m.extra = d
	}
	return m, nil
}

// Load reads and parses the metainfo file at path, reading at most
// MaxSize bytes. The file is read into one buffer of its size, which the
// MetaInfo keeps (InfoBytes and the piece hashes point into it): loading
// costs about the file's size in memory.
func Load(path string) (*MetaInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("metainfo: %w", err) // the error names the path
	}
	defer f.Close()
	data, err := readBounded(f)
	if err != nil {
		return nil, fmt.Errorf("metainfo: %w", err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: %w: over %d bytes", path, ErrTooLarge, MaxSize)
	}
	m, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err) // err starts "metainfo: "
	}
	return m, nil
}

// readBounded reads f whole, at most MaxSize+1 bytes. A regular file is
// read into one buffer of the size stat gives (plus one byte, to see that
// it did not grow), not grown by doubling.
func readBounded(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > MaxSize {
		return io.ReadAll(io.LimitReader(f, MaxSize+1))
	}
	buf := make([]byte, fi.Size()+1)
	n, err := io.ReadFull(f, buf)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return buf[:n:n], nil
	case err != nil:
		return nil, err
	}
	// It grew while we read: take the rest, still bounded.
	rest, err := io.ReadAll(io.LimitReader(f, MaxSize+1-int64(n)))
	return append(buf, rest...), err
}

// Marshal encodes the metainfo file. The info value is InfoBytes written
// verbatim; empty optional fields are omitted, and top-level keys that
// Parse did not interpret are kept.
func (m *MetaInfo) Marshal() ([]byte, error) {
	if len(m.InfoBytes) == 0 {
		return nil, errors.New("metainfo: marshal: InfoBytes is empty")
	}
	d := make(rawDict, len(m.extra)+6)
	for k, v := range m.extra {
		d[k] = v
	}
	d[keyInfo] = m.InfoBytes
	set := func(key string, v any) error {
		b, err := bencode.Marshal(v)
		if err != nil {
			return fmt.Errorf("metainfo: marshal %q: %w", key, err)
		}
		d[key] = b
		return nil
	}
	var err error
	if m.Announce != "" {
		err = errors.Join(err, set(keyAnnounce, m.Announce))
	}
	if len(m.AnnounceList) > 0 {
		err = errors.Join(err, set(keyAnnounceList, m.AnnounceList))
	}
	if m.Comment != "" {
		err = errors.Join(err, set(keyComment, m.Comment))
	}
	if m.CreatedBy != "" {
		err = errors.Join(err, set(keyCreatedBy, m.CreatedBy))
	}
	if m.CreationDate != 0 {
		err = errors.Join(err, set(keyCreationDate, m.CreationDate))
	}
	if err != nil {
		return nil, err
	}
	b, err := bencode.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("metainfo: marshal: %w", err)
	}
	return b, nil
}

// Trackers returns the tracker URLs to try: the BEP 12 announce-list
// flattened tier by tier without duplicates or empty entries, or, when
// that yields nothing, Announce alone.
func (m *MetaInfo) Trackers() []string {
	var out []string
	seen := make(map[string]bool)
	for _, tier := range m.AnnounceList {
		for _, t := range tier {
			if t != "" && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	if len(out) == 0 && m.Announce != "" {
		out = []string{m.Announce}
	}
	return out
}

// Magnet returns a magnet link for the torrent: its info hash, name and
// trackers.
func (m *MetaInfo) Magnet() Magnet {
	return Magnet{
		InfoHash:    m.InfoHash,
		DisplayName: m.Info.Name,
		Trackers:    m.Trackers(),
	}
}
