package client

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
)

// startOrigin writes a file of n pieces of pl bytes and seeds it from a
// client that polls its files every 100 ms; it returns the file's path and
// bytes, the torrent and the seeding torrent.
func startOrigin(t *testing.T, pl int64, n int, seed uint64) (string, []byte, *metainfo.MetaInfo, *Client, *Torrent) {
	t.Helper()
	src := t.TempDir()
	path := filepath.Join(src, "f.bin")
	data := writeRandomFile(t, path, int(pl)*n, seed)
	mi := createTorrent(t, path, pl)
	seeder := newTestClient(t, Config{})
	seeder.recheckEvery = 100 * time.Millisecond
	return path, data, mi, seeder, addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})
}

// flipPiece overwrites piece p (of length pl) of the file at path with its
// bitwise complement, in place, and returns the original bytes.
func flipPiece(t *testing.T, path string, p int, pl int64) []byte {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	orig := make([]byte, pl)
	if _, err := f.ReadAt(orig, int64(p)*pl); err != nil {
		t.Fatal(err)
	}
	bad := make([]byte, pl)
	for i, b := range orig {
		bad[i] = ^b
	}
	if _, err := f.WriteAt(bad, int64(p)*pl); err != nil {
		t.Fatal(err)
	}
	return orig
}

// writeBack puts orig back as piece p and moves the file's mtime forward,
// as an operator restoring the file would.
func writeBack(t *testing.T, path string, p int, pl int64, orig []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(orig, int64(p)*pl); err != nil {
		t.Fatal(err)
	}
	f.Close()
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
}

// TestOriginDamagedInPlaceIsRetriedNotBanned: the origin's file is damaged
// in place with its size and mtime kept (nothing a stat can see). The
// getter's one source sends the bad piece; the getter bans it only for a
// while (it is the sole source), the origin sees it hang up right after the
// piece, re-verifies what it sent and stops offering the piece, and the
// getter comes back for the rest. Once the file is restored the origin
// offers the piece again and the download completes. Before, the getter
// banned its only source for good and stalled, and the origin kept
// serving the bad piece.
func TestOriginDamagedInPlaceIsRetriedNotBanned(t *testing.T) {
	const pl = 256 << 10
	path, data, mi, seeder, seed := startOrigin(t, pl, 16, 31)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	orig := flipPiece(t, path, 5, pl)
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}

	getter := newTestClient(t, Config{})
	getter.soleSourceRetry = 500 * time.Millisecond
	out := t.TempDir()
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{seeder.Addr().String()}})
	waitFor(t, 30*time.Second, "the origin to withhold the damaged piece", func() bool { return seed.Stats().Withheld == 1 })
	waitFor(t, 30*time.Second, "the getter to come back for every other piece", func() bool { return tor.Stats().Have == 15 })
	if st := tor.Stats(); st.HashFails < 1 || st.Banned < 1 {
		t.Errorf("getter stats %+v: want the bad piece caught and its sender banned", st)
	}

	writeBack(t, path, 5, pl, orig)
	waitDone(t, tor, 30*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
	if w := seed.Stats().Withheld; w != 0 {
		t.Errorf("origin still withholds %d pieces after the file was restored", w)
	}
}

// TestOriginFileReplacedIsNoticed: a new version of the origin's file is
// renamed over it. The origin notices the change by polling (another inode,
// another mtime), re-verifies the file's pieces from the new file and
// withholds the one that changed before anyone asks for it: the getter gets
// every other piece and no bad data. Restoring the file lets it finish.
func TestOriginFileReplacedIsNoticed(t *testing.T) {
	const pl = 64 << 10
	path, data, mi, seeder, seed := startOrigin(t, pl, 8, 33)

	changed := append([]byte(nil), data...)
	changed[3*pl+100] ^= 0xff
	tmp := path + ".new"
	if err := os.WriteFile(tmp, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the origin to withhold the changed piece", func() bool { return seed.Stats().Withheld == 1 })

	getter := newTestClient(t, Config{})
	out := t.TempDir()
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{seeder.Addr().String()}})
	waitFor(t, 30*time.Second, "the getter to get every other piece", func() bool { return tor.Stats().Have == 7 })
	if st := tor.Stats(); st.HashFails != 0 {
		t.Errorf("getter received %d bad pieces from an origin that knew", st.HashFails)
	}
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitDone(t, tor, 30*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
}

// TestCompletePeerLeavingIsNotSuspect: a getter that has every piece
// hangs up right after the origin sent it its last blocks, as every
// receiver does once complete. That is no sign of bad data (it verified
// all it got), so the origin re-hashes nothing. The file is damaged in
// place before the hang-up (size and mtime kept) to make a re-hash
// visible: one would withhold the damaged pieces. A getter that leaves
// before it completes still makes the origin re-hash what it sent
// (TestOriginDamagedInPlaceIsRetriedNotBanned).
func TestCompletePeerLeavingIsNotSuspect(t *testing.T) {
	const pl, n = 256 << 10, 16
	src := t.TempDir()
	path := filepath.Join(src, "f.bin")
	data := writeRandomFile(t, path, pl*n, 32)
	mi := createTorrent(t, path, pl)
	seeder := newTestClient(t, Config{})
	seeder.recheckEvery = time.Hour // no stat polls: only the hang-up could re-hash
	seed := addTorrent(t, seeder, mi, TorrentOptions{Dir: src, Seed: true})

	getter := newTestClient(t, Config{})
	out := t.TempDir()
	tor := addTorrent(t, getter, mi, TorrentOptions{Dir: out, Peers: []string{seeder.Addr().String()}})
	waitDone(t, tor, 30*time.Second)
	sameFile(t, filepath.Join(out, "f.bin"), data)
	time.Sleep(200 * time.Millisecond) // the getter's last Haves go out within haveDelay

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for p := range n {
		flipPiece(t, path, p, pl)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	getter.Close()
	waitFor(t, 5*time.Second, "the origin to see the getter leave", func() bool { return seed.Stats().Peers == 0 })
	time.Sleep(500 * time.Millisecond) // a re-hash of 8 pieces takes a few ms
	if w := seed.Stats().Withheld; w != 0 {
		t.Errorf("origin withholds %d pieces after a complete getter left: it re-hashed on the hang-up", w)
	}
}
