package client

import (
	"net"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// TestNonReadingPeerDisconnected floods a seeder with requests from a
// wire-level peer that never reads. The peer never says it is interested,
// so every request is answered with a Reject (BEP 6), and the replies pile
// up in the seeder's send queue once the socket buffers are full. The
// seeder must drop the peer when its queue reaches its byte bound, and its
// heap must stay bounded meanwhile (without the bound it grew by about
// 110 bytes per request: 1.5 M requests, ~160 MB).
//
// Not parallel: it measures the process's heap.
func TestNonReadingPeerDisconnected(t *testing.T) {
	src := t.TempDir()
	writeRandomFile(t, filepath.Join(src, "f.bin"), 256<<10, 3)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 32<<10)
	seeder := newTestClient(t, Config{})
	tor := addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})

	// A small receive buffer, set before connecting so the window stays
	// small, makes the seeder's socket fill after a few MB.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", seeder.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var id [20]byte
	copy(id[:], "-XX0000-neverreads!!")
	hs := wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: mi.InfoHash, PeerID: id}
	if _, err := nc.Write(hs.Marshal()); err != nil {
		t.Fatal(err)
	}
	if _, err := wire.ReadHandshake(nc); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	waitFor(t, 10*time.Second, "the seeder to count the peer", func() bool { return tor.Stats().Peers == 1 })

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc

	// 1.5 M requests, written in chunks of 4096.
	const total, chunk = 1_500_000, 4096
	blocks := int(mi.Info.TotalLength() / wire.BlockSize)
	buf := make([]byte, 0, chunk*17)
	floodErr := make(chan error, 1)
	go func() {
		for sent := 0; sent < total; sent += chunk {
			buf = buf[:0]
			for i := range chunk {
				k := (sent + i) % blocks
				m := wire.Message{Type: wire.Request, Index: uint32(k * wire.BlockSize / int(mi.Info.PieceLength)),
					Begin: uint32(k * wire.BlockSize % int(mi.Info.PieceLength)), Length: wire.BlockSize}
				buf, _ = m.AppendBinary(buf)
			}
			nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
			if _, err := nc.Write(buf); err != nil {
				floodErr <- err
				return
			}
		}
		floodErr <- nil
	}()

	var peak uint64
	sample := time.NewTicker(20 * time.Millisecond)
	defer sample.Stop()
	deadline := time.After(15 * time.Second)
	dropped := false
	for !dropped {
		select {
		case <-sample.C:
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			dropped = tor.Stats().Peers == 0
		case <-deadline:
			t.Fatalf("the seeder kept a peer that never reads (heap grew by %d MB)", (peak-base)>>20)
		}
	}
	grew := int64(peak) - int64(base)
	t.Logf("heap grew by %.1f MB before the peer was dropped; flood ended with %v", float64(grew)/1e6, <-floodErr)
	if grew > 32<<20 {
		t.Errorf("heap grew by %.1f MB while one peer flooded requests, want at most 32 MB", float64(grew)/1e6)
	}
}
