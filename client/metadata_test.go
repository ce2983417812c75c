package client

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"path/filepath"
	"testing"

	"github.com/shoal-p2p/shoal/wire"
)

// testInfo returns the info dictionary of a torrent with enough pieces to
// take three metadata pieces.
func testInfo(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	writeRandomFile(t, filepath.Join(dir, "f.bin"), 2000*16<<10, 1)
	mi := createTorrent(t, filepath.Join(dir, "f.bin"), 16<<10)
	if n := wire.MetadataPieces(len(mi.InfoBytes)); n != 3 {
		t.Fatalf("info dictionary of %d bytes makes %d metadata pieces, want 3", len(mi.InfoBytes), n)
	}
	return mi.InfoBytes
}

func TestMetadataServeAndFetchRoundTrip(t *testing.T) {
	info := testInfo(t)
	ih := sha1.Sum(info)
	buf, err := newMetadataBuffer(len(info))
	if err != nil {
		t.Fatal(err)
	}
	var asked []int
	for p, ok := buf.nextRequest(); ok; p, ok = buf.nextRequest() {
		asked = append(asked, p)
	}
	if len(asked) != 3 || asked[0] != 0 || asked[2] != 2 {
		t.Fatalf("requests %v, want [0 1 2]", asked)
	}
	// Serve them out of order, one twice.
	for _, p := range []int{2, 0, 0, 1} {
		reply, ok := metadataReply(info, wire.MetadataMessage{Type: wire.MetadataRequest, Piece: p})
		if !ok || reply.Type != wire.MetadataData {
			t.Fatalf("reply to request %d: %+v, %v", p, reply, ok)
		}
		// Through the wire codec, as a peer would see it.
		b, err := reply.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := wire.ParseMetadataMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		if buf.complete() {
			t.Fatalf("complete before piece %d", p)
		}
		if err := buf.put(parsed); err != nil {
			t.Fatal(err)
		}
	}
	if !buf.complete() {
		t.Fatal("not complete after every piece")
	}
	mi, err := buf.verify(ih)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mi.InfoBytes, info) || mi.InfoHash != ih || mi.Info.NumPieces() != 2000 {
		t.Fatalf("verified metainfo differs: %d pieces", mi.Info.NumPieces())
	}
}

func TestMetadataRejectsWrongHashAndSizes(t *testing.T) {
	info := testInfo(t)
	buf, _ := newMetadataBuffer(len(info))
	for p := range 3 {
		reply, _ := metadataReply(info, wire.MetadataMessage{Type: wire.MetadataRequest, Piece: p})
		buf.put(reply)
	}
	var other [20]byte
	if _, err := buf.verify(other); !errors.Is(err, ErrMetadataHash) {
		t.Errorf("verify against another hash: %v, want ErrMetadataHash", err)
	}
	for _, size := range []int{0, -1, maxMetadataSize + 1} {
		if _, err := newMetadataBuffer(size); !errors.Is(err, ErrMetadataSize) {
			t.Errorf("size %d: %v, want ErrMetadataSize", size, err)
		}
	}
	small, _ := newMetadataBuffer(100)
	lying := wire.MetadataMessage{Type: wire.MetadataData, Piece: 0, TotalSize: 200, Data: make([]byte, 200)}
	if err := small.put(lying); !errors.Is(err, ErrMetadataSize) {
		t.Errorf("data with another total size: %v, want ErrMetadataSize", err)
	}
	if _, err := small.verify(other); err == nil {
		t.Error("verify of incomplete metadata succeeded")
	}
}

func TestMetadataReplyRejectsOutOfRange(t *testing.T) {
	info := testInfo(t)
	r, ok := metadataReply(info, wire.MetadataMessage{Type: wire.MetadataRequest, Piece: 3})
	if !ok || r.Type != wire.MetadataReject || r.Piece != 3 {
		t.Errorf("request beyond the end: %+v, %v; want a reject of piece 3", r, ok)
	}
	r, ok = metadataReply(nil, wire.MetadataMessage{Type: wire.MetadataRequest, Piece: 0})
	if !ok || r.Type != wire.MetadataReject {
		t.Errorf("request with no metadata: %+v, %v; want a reject", r, ok)
	}
	if _, ok := metadataReply(info, wire.MetadataMessage{Type: wire.MetadataData, Piece: 0, TotalSize: 1, Data: []byte{1}}); ok {
		t.Error("answered a data message")
	}
	last, _ := metadataReply(info, wire.MetadataMessage{Type: wire.MetadataRequest, Piece: 2})
	if want := len(info) - 2*wire.MetadataPieceSize; len(last.Data) != want || last.TotalSize != len(info) {
		t.Errorf("last piece: %d bytes of %d, want %d of %d", len(last.Data), last.TotalSize, want, len(info))
	}
}
