package client

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOneSeederThreeGetters runs a seeder and three getters that know each
// other's addresses; every getter must end with identical bytes.
func TestOneSeederThreeGetters(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "payload.bin"), 2<<20+12345, 1)
	mi := createTorrent(t, filepath.Join(src, "payload.bin"), 64<<10)

	seeder := newTestClient(t, Config{})
	getters := []*Client{newTestClient(t, Config{}), newTestClient(t, Config{}), newTestClient(t, Config{})}
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})

	var tors []*Torrent
	var dirs []string
	for i, g := range getters {
		peers := []string{seeder.Addr().String()}
		for j, o := range getters {
			if j != i {
				peers = append(peers, o.Addr().String())
			}
		}
		dir := t.TempDir()
		dirs = append(dirs, dir)
		tors = append(tors, addTorrent(t, g, mi, TorrentOptions{Dir: dir, Peers: peers}))
	}
	for i, tor := range tors {
		waitDone(t, tor, 60*time.Second)
		st := tor.Stats()
		if st.Have != st.Pieces || !st.Complete || st.BytesLeft != 0 {
			t.Errorf("getter %d: stats %+v, want every piece", i, st)
		}
		if st.HadAtStart != 0 {
			t.Errorf("getter %d: HadAtStart = %d on an empty folder", i, st.HadAtStart)
		}
		if st.Banned != 0 || st.HashFails != 0 {
			t.Errorf("getter %d: %d bans, %d hash failures among honest peers", i, st.Banned, st.HashFails)
		}
		sameFile(t, filepath.Join(dirs[i], "payload.bin"), data)
	}
}

// TestMultiFileSeedPathRenamed seeds a multi-file torrent from a folder
// named differently from the torrent.
func TestMultiFileSeedPathRenamed(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	orig := filepath.Join(base, "album")
	files := map[string][]byte{
		"a.bin":         writeRandomFile(t, filepath.Join(orig, "a.bin"), 100_000, 2),
		"sub/b.bin":     writeRandomFile(t, filepath.Join(orig, "sub", "b.bin"), 33_333, 3),
		"sub/deep/c.sh": writeRandomFile(t, filepath.Join(orig, "sub", "deep", "c.sh"), 250_001, 4),
		"z.txt":         writeRandomFile(t, filepath.Join(orig, "z.txt"), 7, 5),
	}
	mi := createTorrent(t, orig, 32<<10)
	if mi.Info.Name != "album" || !mi.Info.IsMultiFile() {
		t.Fatalf("torrent name %q multi=%v", mi.Info.Name, mi.Info.IsMultiFile())
	}
	renamed := filepath.Join(base, "renamed-copy")
	if err := os.Rename(orig, renamed); err != nil {
		t.Fatal(err)
	}

	seeder := newTestClient(t, Config{})
	addTorrent(t, seeder, mi, TorrentOptions{Path: renamed, Seed: true})
	getter := newTestClient(t, Config{})
	out := t.TempDir()
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{seeder.Addr().String()}})
	waitDone(t, tor, 30*time.Second)
	for rel, want := range files {
		sameFile(t, filepath.Join(out, "album", filepath.FromSlash(rel)), want)
	}
	if _, err := os.Stat(filepath.Join(base, "album")); !os.IsNotExist(err) {
		t.Errorf("seeding with Path created the torrent's own name next to it: %v", err)
	}
}

// TestResumeFromPartialFile pre-writes the first half of the file plus part
// of a piece: those whole pieces count as had at start and only the rest
// is downloaded.
func TestResumeFromPartialFile(t *testing.T) {
	t.Parallel()
	const pieceLen = 32 << 10
	const pieces = 32
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), pieces*pieceLen, 6)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), pieceLen)

	out := t.TempDir()
	const whole = pieces / 2
	if err := os.WriteFile(filepath.Join(out, "f.bin"), data[:whole*pieceLen+10_000], 0o644); err != nil {
		t.Fatal(err)
	}
	seeder := newTestClient(t, Config{})
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})
	getter := newTestClient(t, Config{})
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{seeder.Addr().String()}})
	if got := tor.Stats().HadAtStart; got != whole {
		t.Fatalf("HadAtStart = %d, want %d", got, whole)
	}
	waitDone(t, tor, 30*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
	st := tor.Stats()
	rest := int64((pieces - whole) * pieceLen)
	if st.Downloaded < rest || st.Downloaded > rest+rest/10 {
		t.Errorf("Downloaded = %d bytes, want about %d (only the missing pieces)", st.Downloaded, rest)
	}
	if st.Verified != pieces-whole {
		t.Errorf("Verified = %d pieces this run, want %d", st.Verified, pieces-whole)
	}
}

// countingProxy forwards every connection to target, counts them, and can
// cut the ones open.
type countingProxy struct {
	ln       net.Listener
	accepted atomic.Int32
	wg       sync.WaitGroup
	mu       sync.Mutex
	open     []net.Conn
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.open = append(p.open, in, out)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(out, in); out.Close() }()
			go func() { defer p.wg.Done(); io.Copy(in, out); in.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut(); p.wg.Wait() })
	return p
}

// addr is the proxy's address.
func (p *countingProxy) addr() string { return p.ln.Addr().String() }

// cut closes every connection open through the proxy.
func (p *countingProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

// TestSelfConnection gives a getter its own address (directly and through
// a forwarding proxy, as a tracker behind NAT would): it must not ban
// itself nor dial itself again, and still complete from the real seeder.
func TestSelfConnection(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "f.bin"), 512<<10, 7)
	mi := createTorrent(t, filepath.Join(src, "f.bin"), 32<<10)

	seeder := newTestClient(t, Config{})
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})
	getter := newTestClient(t, Config{})
	proxy := newCountingProxy(t, getter.Addr().String())
	out := t.TempDir()
	self := getter.Addr().String()
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out,
		Peers: []string{self, proxy.ln.Addr().String(), seeder.Addr().String()}})
	waitDone(t, tor, 30*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)

	id := getter.PeerID()
	if getter.isBanned("id:"+string(id[:])) || getter.isBanned(addrBanKeys(self)...) ||
		getter.isBanned(addrBanKeys(proxy.ln.Addr().String())...) {
		t.Error("the getter banned itself")
	}
	if st := tor.Stats(); st.Banned != 0 {
		t.Errorf("Banned = %d, want 0", st.Banned)
	}
	// A retry would come after the 5 s back-off of a closed candidate;
	// give it a few ticks.
	before := proxy.accepted.Load()
	if before != 1 {
		t.Errorf("proxy saw %d connections before completion, want 1", before)
	}
	tor.AddPeers([]string{self, proxy.ln.Addr().String()}) // offered again, as a tracker would
	time.Sleep(1500 * time.Millisecond)                    // absence check: no condition to wait on
	if got := proxy.accepted.Load(); got != before {
		t.Errorf("the getter dialed itself again through the proxy: %d connections, was %d", got, before)
	}
}

// TestDownloadLimit checks the download limit is a lower bound on the
// transfer time of 8 MB at 4 MB/s.
func TestDownloadLimit(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	src := t.TempDir()
	data := writeRandomFile(t, filepath.Join(src, "big.bin"), size, 8)
	mi := createTorrent(t, filepath.Join(src, "big.bin"), 256<<10)

	seeder := newTestClient(t, Config{})
	addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})
	for _, tc := range []struct {
		name    string
		global  float64
		perTorr float64
	}{{"global", 4 << 20, 0}, {"per-torrent", 0, 4 << 20}} {
		getter := newTestClient(t, Config{DownloadLimit: tc.global})
		out := t.TempDir()
		start := time.Now()
		tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, DownloadLimit: tc.perTorr,
			Peers: []string{seeder.Addr().String()}})
		waitDone(t, tor, 60*time.Second)
		elapsed := time.Since(start)
		if elapsed < 1500*time.Millisecond {
			t.Errorf("%s: 8 MiB at 4 MiB/s took %v, want at least 1.5 s", tc.name, elapsed)
		}
		sameFile(t, filepath.Join(out, "big.bin"), data)
		getter.Close()
	}
}

// TestStartupStats: a getter records when its first piece was verified
// (after its first peer) and a seeder when it first sent a block; a
// getter nobody asks for data has sent none.
func TestStartupStats(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeRandomFile(t, filepath.Join(src, "payload.bin"), 1<<20, 3)
	mi := createTorrent(t, filepath.Join(src, "payload.bin"), 64<<10)
	seeder := newTestClient(t, Config{})
	seed := addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})
	getter := newTestClient(t, Config{})
	get := addTorrent(t, getter, mi, TorrentOptions{Dir: t.TempDir(), Peers: []string{seeder.Addr().String()}})
	waitDone(t, get, 60*time.Second)
	st := get.Stats()
	if st.FirstPieceAfter <= 0 || st.FirstPieceAfter < st.FirstPeerAfter {
		t.Errorf("getter: FirstPieceAfter %v, FirstPeerAfter %v: want 0 < first peer <= first piece", st.FirstPieceAfter, st.FirstPeerAfter)
	}
	if st.FirstUploadAfter != 0 {
		t.Errorf("getter: FirstUploadAfter %v, want 0 (it sent no block)", st.FirstUploadAfter)
	}
	if s := seed.Stats(); s.FirstUploadAfter <= 0 || s.FirstPieceAfter != 0 {
		t.Errorf("seeder: FirstUploadAfter %v, FirstPieceAfter %v: want a first upload and no piece verified", s.FirstUploadAfter, s.FirstPieceAfter)
	}
}
