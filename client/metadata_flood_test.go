package client

import (
	"bytes"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// TestMetadataServerSharesReplies: two requests for a piece get the same
// bytes, not two copies, and a request out of range gets a reject.
func TestMetadataServerSharesReplies(t *testing.T) {
	info := bytes.Repeat([]byte("x"), 2*wire.MetadataPieceSize+5)
	s := newMetadataServer(info)
	if s.maxQueued() != 3+maxMetadataSlack {
		t.Fatalf("maxQueued = %d, want %d", s.maxQueued(), 3+maxMetadataSlack)
	}
	req := wire.MetadataMessage{Type: wire.MetadataRequest, Piece: 1}
	a, ok, err := s.reply(req)
	if err != nil || !ok {
		t.Fatalf("reply: %v %v", ok, err)
	}
	b, _, _ := s.reply(req)
	if &a[0] != &b[0] {
		t.Error("two replies for one piece are separate copies")
	}
	m, err := wire.ParseMetadataMessage(a)
	if err != nil || m.Type != wire.MetadataData || m.Piece != 1 || !bytes.Equal(m.Data, info[wire.MetadataPieceSize:2*wire.MetadataPieceSize]) {
		t.Fatalf("reply = %+v, %v", m, err)
	}
	rej, ok, _ := s.reply(wire.MetadataMessage{Type: wire.MetadataRequest, Piece: 3})
	if m, err := wire.ParseMetadataMessage(rej); !ok || err != nil || m.Type != wire.MetadataReject {
		t.Fatalf("out-of-range request answered with %+v, %v", m, err)
	}
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMetadataFloodBounded: a peer that speaks ut_metadata, asks for the
// info dictionary 100,000 times and never reads a reply must not grow the
// seeder's heap (before the bound every request queued a copy of the
// 15 KB dictionary: 1.5 GB), and is disconnected.
func TestMetadataFloodBounded(t *testing.T) {
	src := t.TempDir()
	writeRandomFile(t, filepath.Join(src, "f.bin"), 12<<20, 21)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 16<<10) // 768 pieces: a 15 KB dictionary
	seeder := newTestClient(t, Config{})
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})

	nc, err := net.Dial("tcp", seeder.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := peerHandshake(nc, mi.InfoHash, "-TT0001-metaflood000"); err != nil {
		t.Fatal(err)
	}
	eh, err := wire.ExtendedHandshake{M: map[string]int{extMetadata: 3}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	out, _ = wire.Message{Type: wire.Extended, ExtendedID: wire.ExtendedHandshakeID, ExtendedPayload: eh}.AppendBinary(out)
	req, _ := wire.MetadataMessage{Type: wire.MetadataRequest, Piece: 0}.Marshal()
	one, _ := wire.Message{Type: wire.Extended, ExtendedID: extMetadataID, ExtendedPayload: req}.AppendBinary(nil)

	base := heapInUse()
	const limit = 48 << 20
	const total, batch = 50_000, 2_000
	grown := func() int64 { return int64(heapInUse()) - int64(base) }
	sent, disconnected := 0, false
	nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for sent < total && !disconnected {
		for range batch {
			out = append(out, one...)
		}
		if _, err := nc.Write(out); err != nil {
			disconnected = true
			break
		}
		out = out[:0]
		sent += batch
		if g := grown(); g > limit {
			t.Fatalf("seeder heap grew by %d MiB after %d metadata requests (bound %d MiB)", g>>20, sent, limit>>20)
		}
	}
	// Much of the flood may still sit in socket buffers: keep watching the
	// heap while the seeder reads it, until it hangs up on us.
	deadline := time.Now().Add(20 * time.Second)
	for !disconnected && time.Now().Before(deadline) {
		if g := grown(); g > limit {
			t.Fatalf("seeder heap grew by %d MiB after %d metadata requests (bound %d MiB)", g>>20, sent, limit>>20)
		}
		nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := nc.Write(one); err != nil {
			var ne net.Error
			disconnected = !errors.As(err, &ne) || !ne.Timeout()
		}
		time.Sleep(50 * time.Millisecond) // polling a bound, not waiting for an event
	}
	if g := grown(); g > limit {
		t.Fatalf("seeder heap grew by %d MiB after %d metadata requests (bound %d MiB)", g>>20, sent, limit>>20)
	}
	if !disconnected {
		t.Fatalf("the seeder took %d metadata requests without our reading a reply and kept the connection", sent)
	}
	t.Logf("disconnected after at most %d requests; heap grew by %d KiB", sent, grown()>>10)
}
