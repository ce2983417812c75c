package client

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
)

// sparseTorrent writes a sparse file of size bytes at path whose bytes are
// zero except for the regions given (offset: length), filled with random
// data, and returns its metainfo. Piece hashes of untouched pieces are the
// SHA-1 of zeros, so nothing is read to build it.
func sparseTorrent(t *testing.T, path string, size, pieceLen int64, regions map[int64]int) *metainfo.MetaInfo {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(size), 7))
	touched := map[int64]bool{}
	for off, n := range regions {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		for p := off / pieceLen; p <= (off+int64(n)-1)/pieceLen; p++ {
			touched[p] = true
		}
	}
	pieces := (size + pieceLen - 1) / pieceLen
	zero := sha1.Sum(make([]byte, pieceLen))
	hashes := make([]byte, 0, 20*pieces)
	buf := make([]byte, pieceLen)
	for p := int64(0); p < pieces; p++ {
		n := min(pieceLen, size-p*pieceLen)
		if !touched[p] && n == pieceLen {
			hashes = append(hashes, zero[:]...)
			continue
		}
		if _, err := f.ReadAt(buf[:n], p*pieceLen); err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(buf[:n])
		hashes = append(hashes, sum[:]...)
	}
	name := filepath.Base(path)
	raw := fmt.Appendf(nil, "d6:lengthi%de4:name%d:%s12:piece lengthi%de6:pieces%d:", size, len(name), name, pieceLen, len(hashes))
	raw = append(append(raw, hashes...), 'e')
	info, err := metainfo.ParseInfo(raw)
	if err != nil {
		t.Fatal(err)
	}
	return &metainfo.MetaInfo{Info: *info, InfoBytes: raw, InfoHash: sha1.Sum(raw)}
}

// sameRegions fails the test unless the regions of got and want match and
// both files have the same size.
func sameRegions(t *testing.T, got, want string, regions map[int64]int) {
	t.Helper()
	g, err := os.Open(got)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	w, err := os.Open(want)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	gs, _ := g.Stat()
	ws, _ := w.Stat()
	if gs.Size() != ws.Size() {
		t.Fatalf("%s is %d bytes, want %d", got, gs.Size(), ws.Size())
	}
	for off, n := range regions {
		a, b := make([]byte, n), make([]byte, n)
		g.ReadAt(a, off)
		w.ReadAt(b, off)
		if !bytes.Equal(a, b) {
			t.Fatalf("%d bytes at %d differ from the source", n, off)
		}
	}
}

// TestLargeSparseTorrent runs a torrent of 4 GiB + 1 MiB in 32 KiB pieces
// (131,104 pieces, a 16 KiB bitfield) between two clients. The files are
// sparse: both sides find the zero pieces in holes without reading them,
// and the getter fetches the pieces with data, around and past the 4 GiB
// mark, so every offset past 32 bits goes through the data path.
func TestLargeSparseTorrent(t *testing.T) {
	t.Parallel()
	const size, pieceLen = 4<<30 + 1<<20, 32 << 10
	regions := map[int64]int{
		4<<30 - 40_000: 80_000,  // across the 4 GiB mark
		size - 300_000: 300_000, // the last pieces, the short one included
		123 << 20:      1,       // one byte in an early piece
	}
	src := filepath.Join(t.TempDir(), "big.bin")
	mi := sparseTorrent(t, src, size, pieceLen, regions)
	if n := mi.Info.NumPieces(); n < 100_000 {
		t.Fatalf("%d pieces, want over 100,000", n)
	}
	out := t.TempDir()
	dst := filepath.Join(out, "big.bin")
	if err := os.WriteFile(dst, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(dst, size); err != nil { // a sparse copy of zeros
		t.Fatal(err)
	}
	seeder := newTestClient(t, Config{})
	addTorrent(t, seeder, mi, TorrentOptions{Path: src, Seed: true})
	getter := newTestClient(t, Config{})
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{seeder.Addr().String()}})
	st := tor.Stats()
	if missing := st.Pieces - st.HadAtStart; missing < 10 || missing > 20 {
		t.Fatalf("the getter misses %d pieces at start, want the 10 to 20 with data", missing)
	}
	waitDone(t, tor, 60*time.Second)
	sameRegions(t, dst, src, regions)
}

// TestMaxPieceLength moves a file in 16 MiB pieces (1,024 blocks each, the
// usual bound of clients), the last piece short, between two clients.
func TestMaxPieceLength(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), 2*16<<20+5<<20+123, 5)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 16<<20)
	seeder := newTestClient(t, Config{})
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})
	getter := newTestClient(t, Config{})
	out := t.TempDir()
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{seeder.Addr().String()}})
	waitDone(t, tor, 60*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
}
