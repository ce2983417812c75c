package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
)

// incarnation starts an agent on dir; stop closes it (once), as a clean
// stop or, with crash, as a kill -9 would leave the index (no final
// resume records).
type incarnation struct {
	*Agent
	stopped bool
}

func incarnate(t *testing.T, cfg Config) *incarnation {
	t.Helper()
	cfg.ListenAddr = "127.0.0.1:0"
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := &incarnation{Agent: a}
	t.Cleanup(func() { in.stop(false) })
	return in
}

func (in *incarnation) stop(crash bool) {
	if in.stopped {
		return
	}
	in.stopped = true
	in.mu.Lock()
	in.crashed = crash
	in.mu.Unlock()
	in.Close()
}

// started waits for a restored torrent to be past its start-up check.
func started(t *testing.T, a *Agent, ih metainfo.InfoHash) TorrentStatus {
	t.Helper()
	var st TorrentStatus
	waitUntil(t, 30*time.Second, "torrent past its check", func() bool {
		var ok bool
		st, ok = a.Torrent(ih)
		return ok && (st.State == StateDownloading || st.State == StateSeeding) && st.Pieces > 0
	})
	return st
}

// TestRestartTrustsUnchangedData: a restart hashes nothing of complete
// torrents whose files are as they were (neither the fetched release nor
// the origin's own files seeded in place), and hashes again exactly the
// pieces of a file changed while the agent was down, which then comes back
// from a peer.
func TestRestartTrustsUnchangedData(t *testing.T) {
	announce := testTracker(t)
	src := filepath.Join(t.TempDir(), "rel")
	const pl = 16 << 10
	dataA := writeRandom(t, filepath.Join(src, "a.bin"), 200<<10+7, 11)
	dataB := writeRandom(t, filepath.Join(src, "b.bin"), 300<<10, 12)
	mi, err := metainfo.Create(src, metainfo.CreateOptions{Trackers: []string{announce}, PieceLength: pl})
	if err != nil {
		t.Fatal(err)
	}
	seedDir, fetchDir := t.TempDir(), t.TempDir()
	seeder := incarnate(t, Config{Dir: seedDir, Trackers: []string{announce}})
	if _, _, err := seeder.addLocal(src, pl, addOptions{pinned: true}); err != nil {
		t.Fatal(err)
	}
	fetcher := incarnate(t, Config{Dir: fetchDir, Trackers: []string{announce}})
	if _, _, err := fetcher.addMeta(mi, addOptions{pinned: true}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "fetcher complete", func() bool {
		st, _ := fetcher.Torrent(mi.InfoHash)
		return st.State == StateSeeding
	})
	n := mi.Info.NumPieces()

	// Unchanged: nothing is hashed, on either side.
	fetcher.stop(false)
	seeder.stop(false)
	seeder = incarnate(t, Config{Dir: seedDir, Trackers: []string{announce}})
	fetcher = incarnate(t, Config{Dir: fetchDir, Trackers: []string{announce}})
	for who, a := range map[string]*incarnation{"seeder": seeder, "fetcher": fetcher} {
		st := started(t, a.Agent, mi.InfoHash)
		if st.HashedAtStart != 0 || st.HadAtStart != n || st.State != StateSeeding {
			t.Fatalf("%s restarted: hashed %d pieces, had %d of %d, state %s; want 0 hashed, all had, seeding",
				who, st.HashedAtStart, st.HadAtStart, n, st.State)
		}
	}

	// b.bin changes while the fetcher is down (same size, one byte).
	fetcher.stop(false)
	bPath := filepath.Join(fetchDir, "content", mi.InfoHash.String(), "rel", "b.bin")
	bad := bytes.Clone(dataB)
	bad[100<<10] ^= 0xff
	if err := os.WriteFile(bPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(bPath, later, later) // a distinct mtime, whatever the filesystem's granularity
	fetcher = incarnate(t, Config{Dir: fetchDir, Trackers: []string{announce}})
	st := started(t, fetcher.Agent, mi.InfoHash)
	first := len(dataA) / pl // the piece holding b.bin's first byte
	if want := n - first; st.HashedAtStart != want || st.HadAtStart != n-1 {
		t.Fatalf("restart after b.bin changed: hashed %d, had %d of %d; want %d hashed (b.bin's pieces), %d had",
			st.HashedAtStart, st.HadAtStart, n, want, n-1)
	}
	waitUntil(t, 30*time.Second, "damaged piece fetched again", func() bool {
		st, _ := fetcher.Torrent(mi.InfoHash)
		return st.State == StateSeeding
	})
	if got, _ := os.ReadFile(bPath); !bytes.Equal(got, dataB) {
		t.Fatal("b.bin not restored to the torrent's content")
	}
}

// TestCrashResumeHashesWhatWasNotRecorded: after a crash (no clean stop),
// the pieces recorded at the last checkpoint are trusted and every other
// piece is hashed: those verified or written after it are found again by
// their hashes, and bytes that do not match are not counted. A clean stop
// then records everything, and a file changed after a clean stop is hashed
// again even though the torrent is incomplete.
func TestCrashResumeHashesWhatWasNotRecorded(t *testing.T) {
	const pl, n = 16 << 10, 32
	src := filepath.Join(t.TempDir(), "part.bin")
	data := writeRandom(t, src, pl*n, 21)
	mi, err := metainfo.Create(src, metainfo.CreateOptions{PieceLength: pl})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "content", mi.InfoHash.String(), "part.bin")
	// On disk before the add: pieces 0-15 right, 16-31 garbage (written,
	// not holes, so each costs a hash).
	onDisk := bytes.Clone(data)
	copy(onDisk[16*pl:], writeRandom(t, filepath.Join(t.TempDir(), "junk"), 16*pl, 22))
	cfg := Config{Dir: dir, CheckpointEvery: 20 * time.Millisecond}
	a := incarnate(t, cfg) // (before the file: a start removes folders the index does not know)
	os.MkdirAll(filepath.Dir(file), 0o755)
	if err := os.WriteFile(file, onDisk, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.addMeta(mi, addOptions{pinned: true}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "a checkpoint of 16 pieces", func() bool {
		r, _ := a.ix.resume(mi.InfoHash.String())
		return r != nil && countTrue(unpackBits(r.Have, r.Pieces)) == 16
	})
	a.stop(true)

	// Before the crash, pieces 16-23 were fetched and verified after the
	// checkpoint; 24-31 hold what was in flight (garbage).
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(data[16*pl:24*pl], 16*pl)
	f.Close()
	a = incarnate(t, cfg)
	st := started(t, a.Agent, mi.InfoHash)
	if st.HadAtStart != 24 || st.HashedAtStart != 16 {
		t.Fatalf("after the crash: had %d, hashed %d; want 24 had (16 trusted + 8 found by hashing), 16 hashed", st.HadAtStart, st.HashedAtStart)
	}

	a.stop(false) // clean: everything verified is recorded
	a = incarnate(t, cfg)
	if st := started(t, a.Agent, mi.InfoHash); st.HadAtStart != 24 || st.HashedAtStart != 8 {
		// 24-31 are not verified: they are hashed at each start until fetched.
		t.Fatalf("after a clean stop: had %d, hashed %d; want 24 had, 8 hashed", st.HadAtStart, st.HashedAtStart)
	}

	a.stop(false)
	f, _ = os.OpenFile(file, os.O_WRONLY, 0)
	f.WriteAt([]byte{^data[5]}, 5) // piece 0 damaged while down
	f.Close()
	later := time.Now().Add(time.Hour)
	os.Chtimes(file, later, later)
	a = incarnate(t, cfg)
	if st := started(t, a.Agent, mi.InfoHash); st.HadAtStart != 23 || st.HashedAtStart != n {
		t.Fatalf("after the file changed: had %d, hashed %d; want 23 had, all %d hashed", st.HadAtStart, st.HashedAtStart, n)
	}
}

func TestTrustedPieces(t *testing.T) {
	// Files of 10, 0, 25 and 5 bytes, pieces of 10: pieces 0 | 1 2 3(+5).
	lengths := []int64{10, 0, 25, 5}
	st := func(size, mtime int64, ino uint64) fileStamp { return fileStamp{Size: size, Mtime: mtime, Ino: ino} }
	was := []fileStamp{st(10, 1, 1), st(0, 1, 2), st(25, 1, 3), st(5, 1, 4)}
	all := packBits([]bool{true, true, true, true})
	for _, c := range []struct {
		name  string
		clean bool
		now   []fileStamp
		want  []bool
	}{
		{"unchanged", true, was, []bool{true, true, true, true}},
		{"mtime of file 2, clean", true, []fileStamp{was[0], was[1], st(25, 2, 3), was[3]}, []bool{true, false, false, false}},
		{"mtime of file 2, after a crash", false, []fileStamp{was[0], was[1], st(25, 2, 3), was[3]}, []bool{true, true, true, true}},
		{"file 3 replaced (inode)", false, []fileStamp{was[0], was[1], was[2], st(5, 1, 9)}, []bool{true, true, true, false}},
		{"file 0 truncated", false, []fileStamp{st(4, 1, 1), was[1], was[2], was[3]}, []bool{false, true, true, true}},
		{"file 3 missing", true, []fileStamp{was[0], was[1], was[2], {Missing: true}}, []bool{true, true, true, false}},
		{"empty file touched", true, []fileStamp{was[0], st(0, 7, 2), was[2], was[3]}, []bool{true, true, true, true}},
	} {
		got := trustedPieces(&resumeRecord{Pieces: 4, Have: all, Files: was, Clean: c.clean}, c.now, lengths, 10, 4)
		if !slicesEqual(got, c.want) {
			t.Errorf("%s: trusted %v, want %v", c.name, got, c.want)
		}
	}
	if got := trustedPieces(&resumeRecord{Pieces: 5, Have: all, Files: was}, was, lengths, 10, 4); got != nil {
		t.Errorf("record of another piece count trusted %v", got)
	}
	if got := trustedPieces(&resumeRecord{Pieces: 4, Have: []byte{0xf0, 0}, Files: was}, was, lengths, 10, 4); got != nil {
		t.Errorf("bitfield of the wrong length trusted %v", got)
	}
}

func slicesEqual(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
