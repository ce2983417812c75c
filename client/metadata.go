package client

import (
	"crypto/sha1"
	"errors"
	"fmt"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/wire"
)

// Extended message ids we ask peers to use when they send to us (BEP 10
// "m"). Peers pick their own ids; we always send with theirs.
const (
	extPEXID      = 1
	extMetadataID = 2
)

// Extension names of BEP 11 and BEP 9.
const (
	extPEX      = "ut_pex"
	extMetadata = "ut_metadata"
)

// maxMetadataSize bounds the info dictionary we fetch from peers: 8 MiB is
// the info dictionary of a multi-terabyte torrent, far beyond what Shoal
// distributes, and keeps a hostile "metadata_size" from costing more.
const maxMetadataSize = 8 << 20

// Errors of metadata exchange callers may branch on.
var (
	// ErrMetadataSize reports a peer's metadata_size of zero or above the
	// bound.
	ErrMetadataSize = errors.New("client: metadata size out of bounds")
	// ErrMetadataHash reports metadata whose SHA-1 is not the info hash.
	ErrMetadataHash = errors.New("client: metadata does not match the info hash")
	// ErrNoMetadata reports that no peer gave us the metadata.
	ErrNoMetadata = errors.New("client: no peer sent the metadata")
)

// metadataBuffer collects the pieces of one info dictionary fetched with
// ut_metadata (BEP 9) from one peer. It is pure: the caller moves the
// messages.
type metadataBuffer struct {
	size   int
	pieces [][]byte
	have   int
	next   int // next piece to request
}

// newMetadataBuffer prepares to receive size bytes of metadata.
func newMetadataBuffer(size int) (*metadataBuffer, error) {
	if size <= 0 || size > maxMetadataSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrMetadataSize, size, maxMetadataSize)
	}
	return &metadataBuffer{size: size, pieces: make([][]byte, wire.MetadataPieces(size))}, nil
}

// nextRequest returns the next piece to ask for, false once every piece
// was asked for.
func (b *metadataBuffer) nextRequest() (int, bool) {
	for b.next < len(b.pieces) && b.pieces[b.next] != nil {
		b.next++
	}
	if b.next >= len(b.pieces) {
		return 0, false
	}
	b.next++
	return b.next - 1, true
}

// put stores a data message's piece. It refuses a message whose total size
// differs from the announced one; the length of Data was checked by
// wire.ParseMetadataMessage against that total size.
func (b *metadataBuffer) put(m wire.MetadataMessage) error {
	if m.TotalSize != b.size {
		return fmt.Errorf("%w: data message says %d bytes, handshake said %d", ErrMetadataSize, m.TotalSize, b.size)
	}
	if m.Piece < 0 || m.Piece >= len(b.pieces) {
		return fmt.Errorf("metadata piece %d out of range", m.Piece)
	}
	if b.pieces[m.Piece] == nil {
		b.have++
	}
	b.pieces[m.Piece] = append([]byte(nil), m.Data...)
	return nil
}

// complete reports whether every piece arrived.
func (b *metadataBuffer) complete() bool { return b.have == len(b.pieces) }

// verify joins the pieces, checks their SHA-1 against ih and parses the
// info dictionary.
func (b *metadataBuffer) verify(ih metainfo.InfoHash) (*metainfo.MetaInfo, error) {
	if !b.complete() {
		return nil, errors.New("metadata incomplete")
	}
	raw := make([]byte, 0, b.size)
	for _, p := range b.pieces {
		raw = append(raw, p...)
	}
	return metaInfoFromInfo(raw, ih)
}

// metaInfoFromInfo builds a MetaInfo from a raw info dictionary received
// from a peer, after checking it hashes to ih (BEP 9).
func metaInfoFromInfo(raw []byte, ih metainfo.InfoHash) (*metainfo.MetaInfo, error) {
	if sha1.Sum(raw) != ih {
		return nil, ErrMetadataHash
	}
	info, err := metainfo.ParseInfo(raw)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return &metainfo.MetaInfo{Info: *info, InfoBytes: raw, InfoHash: ih}, nil
}

// metadataReply answers a peer's ut_metadata message from the info
// dictionary we hold (BEP 9): a data message for a valid request, a reject
// for a request out of range. ok is false when nothing is to be sent.
func metadataReply(infoBytes []byte, m wire.MetadataMessage) (wire.MetadataMessage, bool) {
	if m.Type != wire.MetadataRequest {
		return wire.MetadataMessage{}, false
	}
	n := wire.MetadataPieces(len(infoBytes))
	if m.Piece >= n || len(infoBytes) > wire.MaxMetadataSize {
		return wire.MetadataMessage{Type: wire.MetadataReject, Piece: m.Piece}, true
	}
	start := m.Piece * wire.MetadataPieceSize
	end := min(start+wire.MetadataPieceSize, len(infoBytes))
	return wire.MetadataMessage{Type: wire.MetadataData, Piece: m.Piece, TotalSize: len(infoBytes), Data: infoBytes[start:end]}, true
}

// metadataServer answers ut_metadata requests for one torrent (BEP 9). It
// marshals each data message once and hands out the same bytes to every
// peer, so a queued reply costs a reference, not a 16 KiB copy. It is owned
// by the torrent loop.
type metadataServer struct {
	info    []byte
	replies [][]byte // marshalled data messages, by piece, built on demand
}

// maxMetadataSlack is how many metadata requests beyond one whole copy of
// the dictionary a peer may have unanswered; see metadataServer.maxQueued.
const maxMetadataSlack = 8

func newMetadataServer(info []byte) *metadataServer {
	return &metadataServer{info: info, replies: make([][]byte, wire.MetadataPieces(len(info)))}
}

// maxQueued is how many of one peer's metadata requests may wait to be
// written at once: a whole copy of the dictionary (what an honest peer
// fetching it asks for in one go) plus maxMetadataSlack. A peer over it
// asked for the dictionary again and again without reading our replies; the
// runtime disconnects it, as it does a peer that overflows its request
// queue.
func (s *metadataServer) maxQueued() int { return len(s.replies) + maxMetadataSlack }

// reply returns the marshalled answer to m: a data message for a valid
// request, a reject for one out of range. ok is false when nothing is to be
// sent. The returned bytes are shared and must not be modified.
func (s *metadataServer) reply(m wire.MetadataMessage) (payload []byte, ok bool, err error) {
	r, ok := metadataReply(s.info, m)
	if !ok {
		return nil, false, nil
	}
	if r.Type != wire.MetadataData {
		payload, err = r.Marshal()
		return payload, err == nil, err
	}
	if s.replies[m.Piece] == nil {
		if s.replies[m.Piece], err = r.Marshal(); err != nil {
			return nil, false, err
		}
	}
	return s.replies[m.Piece], true, nil
}
