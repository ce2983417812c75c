package client

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/dht"
	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/wire"
)

// TestMagnetFetchesMetadataFromSeeder: a getter with only the info hash
// and the seeder's address gets the info dictionary, then the file.
func TestMagnetFetchesMetadataFromSeeder(t *testing.T) {
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), 3<<20, 20)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 16<<10) // 192 pieces: a 2-piece info dict
	seed := newTestClient(t, Config{})
	addTorrent(t, seed, mi, TorrentOptions{Dir: src, Seed: true})

	getter := newTestClient(t, Config{})
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m := metainfo.Magnet{InfoHash: mi.InfoHash, Peers: []string{seed.Addr().String()}}
	tor, err := getter.AddMagnet(ctx, m, TorrentOptions{Dir: out})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, tor, 30*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
	st := tor.Stats()
	if st.MetadataAfter <= 0 || st.FirstPeerAfter <= 0 || st.FirstPeerAfter > st.MetadataAfter {
		t.Errorf("MetadataAfter %v, FirstPeerAfter %v: want 0 < first peer <= metadata", st.MetadataAfter, st.FirstPeerAfter)
	}
}

// TestMagnetSkipsPeerWithBadMetadata: a peer whose info dictionary does
// not hash to the magnet's info hash is not believed; the honest seeder's
// copy is used.
func TestMagnetSkipsPeerWithBadMetadata(t *testing.T) {
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), 200_000, 21)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 16<<10)
	// The liar serves the info dictionary of another file under this hash.
	other := t.TempDir()
	writeRandomFile(t, filepath.Join(other, "f.bin"), 200_000, 22)
	fake := createTorrent(t, filepath.Join(other, "f.bin"), 16<<10)
	liar := fakeMetadataPeer(t, mi.InfoHash, fake.InfoBytes)

	getter := newTestClient(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := getter.AddMagnet(ctx, metainfo.Magnet{InfoHash: mi.InfoHash, Peers: []string{liar}}, TorrentOptions{Dir: t.TempDir()})
	if !errors.Is(err, ErrNoMetadata) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("magnet with only a lying peer: %v, want ErrNoMetadata after the deadline", err)
	}

	seed := newTestClient(t, Config{})
	addTorrent(t, seed, mi, TorrentOptions{Dir: src, Seed: true})
	out := t.TempDir()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	tor, err := getter.AddMagnet(ctx2, metainfo.Magnet{InfoHash: mi.InfoHash, Peers: []string{liar, seed.Addr().String()}}, TorrentOptions{Dir: out})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, tor, 20*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
}

// fakeMetadataPeer listens on loopback and answers every connection for ih
// with a handshake, an extended handshake and info as its metadata.
func fakeMetadataPeer(t *testing.T, ih metainfo.InfoHash, info []byte) string {
	t.Helper()
	eh := wire.ExtendedHandshake{M: map[string]int{extMetadata: 7}, MetadataSize: len(info)}
	return servePeer(t, ih, eh, func(nc net.Conn) {
		r := wire.NewReader(nc, 1<<20)
		for {
			m, err := r.ReadMessage()
			if err != nil {
				return
			}
			if m.Type != wire.Extended || m.ExtendedID != 7 {
				continue
			}
			req, err := wire.ParseMetadataMessage(m.ExtendedPayload)
			if err != nil {
				return
			}
			reply, _ := metadataReply(info, req)
			b, _ := appendExt(nil, extMetadataID, reply.Marshal)
			nc.Write(b)
		}
	})
}

// TestPEXIntroducesPeers: two getters that each know only the seeder
// learn of each other by PEX and connect.
func TestPEXIntroducesPeers(t *testing.T) {
	src := t.TempDir()
	writeRandomFile(t, filepath.Join(src, "f.bin"), 4<<20, 23)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 64<<10)
	seed := newTestClient(t, Config{UploadLimit: 256 << 10}) // slow: the getters stay busy
	seed.pexEvery = 200 * time.Millisecond
	addTorrent(t, seed, mi, TorrentOptions{Dir: src, Seed: true})

	a := newTestClient(t, Config{})
	b := newTestClient(t, Config{})
	a.pexEvery, b.pexEvery = 200*time.Millisecond, 200*time.Millisecond
	ta := addTorrent(t, a, mi, TorrentOptions{Dir: t.TempDir(), Peers: []string{seed.Addr().String()}})
	tb := addTorrent(t, b, mi, TorrentOptions{Dir: t.TempDir(), Peers: []string{seed.Addr().String()}})
	waitFor(t, 15*time.Second, "the getters to connect to each other", func() bool {
		return ta.Stats().Peers >= 2 && tb.Stats().Peers >= 2
	})
}

// TestPrivateTorrentHasNoPEXOrDHT: the extended handshake of a private
// torrent (BEP 27) offers ut_metadata but not ut_pex, and the torrent
// stays off the DHT.
func TestPrivateTorrentHasNoPEXOrDHT(t *testing.T) {
	for _, private := range []bool{false, true} {
		src := t.TempDir()
		writeRandomFile(t, filepath.Join(src, "f.bin"), 100_000, 24)
		mi, err := metainfo.Create(filepath.Join(src, "f.bin"), metainfo.CreateOptions{PieceLength: 16 << 10, Private: private})
		if err != nil {
			t.Fatal(err)
		}
		seed := newTestClient(t, Config{DHT: true})
		tor := addTorrent(t, seed, mi, TorrentOptions{Dir: src, Seed: true})
		if got := tor.usesDHT(); got == private {
			t.Errorf("private=%v: usesDHT = %v", private, got)
		}
		eh := rawExtendedHandshake(t, seed.Addr().String(), mi.InfoHash)
		if _, has := eh.M[extPEX]; has == private {
			t.Errorf("private=%v: extended handshake m = %v", private, eh.M)
		}
		if eh.M[extMetadata] == 0 || eh.MetadataSize != len(mi.InfoBytes) {
			t.Errorf("private=%v: ut_metadata %d, metadata_size %d; want an id and %d", private, eh.M[extMetadata], eh.MetadataSize, len(mi.InfoBytes))
		}
	}
}

// rawExtendedHandshake connects to addr as a bare peer and returns the
// extended handshake it sends.
func rawExtendedHandshake(t *testing.T, addr string, ih metainfo.InfoHash) wire.ExtendedHandshake {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	hs := wire.Handshake{Reserved: wire.DefaultReserved(), InfoHash: ih, PeerID: NewPeerID()}
	nc.Write(hs.AppendBinary(nil))
	var buf [68]byte
	if _, err := io.ReadFull(nc, buf[:]); err != nil {
		t.Fatal(err)
	}
	r := wire.NewReader(nc, 1<<20)
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("no extended handshake: %v", err)
		}
		if m.Type == wire.Extended && m.ExtendedID == 0 {
			eh, err := wire.ParseExtendedHandshake(m.ExtendedPayload)
			if err != nil {
				t.Fatal(err)
			}
			return eh
		}
	}
}

// TestDHTMagnetWithoutTrackerOrPeers: a seeder and a getter both join a
// DHT through one bootstrap node; the getter has only the info hash.
func TestDHTMagnetWithoutTrackerOrPeers(t *testing.T) {
	boot, err := dht.New(LoopbackDHTConfig(dht.Config{ListenAddr: "127.0.0.1:0"}))
	if err != nil {
		t.Fatal(err)
	}
	boot.Start()
	t.Cleanup(func() { boot.Close() })
	bootAddr := boot.Addr().String()

	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), 1<<20, 25)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 32<<10)
	seed := newTestClient(t, Config{DHT: true, DHTBootstrap: []string{bootAddr}})
	addTorrent(t, seed, mi, TorrentOptions{Dir: src, Seed: true})

	getter := newTestClient(t, Config{DHT: true, DHTBootstrap: []string{bootAddr}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := t.TempDir()
	tor, err := getter.AddMagnet(ctx, metainfo.Magnet{InfoHash: mi.InfoHash}, TorrentOptions{Dir: out})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, tor, 30*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
	if n := getter.DHT().Stats().Nodes; n < 2 {
		t.Errorf("getter's routing table has %d nodes, want the bootstrap node and the seeder", n)
	}
}
