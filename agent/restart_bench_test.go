package agent

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkRestart measures what a restart costs an agent holding three
// complete torrents of 128 MiB, with the resume state the index keeps and
// without it (its records deleted: every piece hashed, as before the resume
// state existed), side by side; the files' page cache is dropped before
// each start so the hashing reads the disk. It reports wall time to all
// seeding, CPU seconds and pieces hashed:
//
//	go test ./agent -run '^$' -bench Restart -benchtime 1x -v
func BenchmarkRestart(b *testing.B) {
	const files, size = 3, 128 << 20
	dir, src := b.TempDir(), b.TempDir()
	var paths []string
	for i := range files {
		p := filepath.Join(src, fmt.Sprintf("release-%d.bin", i))
		writeRandom(b, p, size, uint64(200+i))
		paths = append(paths, p)
	}
	a, err := New(Config{Dir: dir, ListenAddr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range paths {
		if _, _, err := a.addLocal(p, 256<<10, addOptions{pinned: true}); err != nil {
			b.Fatal(err)
		}
	}
	waitSeeding(b, a, files)
	a.Close()
	for range b.N {
		for _, mode := range []string{"with resume state", "without (every piece hashed)"} {
			if mode != "with resume state" {
				db, err := bolt.Open(filepath.Join(dir, "index.db"), 0o600, nil)
				if err != nil {
					b.Fatal(err)
				}
				db.Update(func(tx *bolt.Tx) error {
					tx.DeleteBucket(bucketResume)
					_, err := tx.CreateBucket(bucketResume)
					return err
				})
				db.Close()
			}
			dropCache(paths)
			cpu0 := cpuSeconds()
			start := time.Now()
			a, err := New(Config{Dir: dir, ListenAddr: "127.0.0.1:0"})
			if err != nil {
				b.Fatal(err)
			}
			waitSeeding(b, a, files)
			wall, cpu := time.Since(start), cpuSeconds()-cpu0
			hashed := 0
			for _, st := range a.Torrents() {
				hashed += st.HashedAtStart
			}
			a.Close()
			b.Logf("restart %s: %v to all seeding, %.2f s CPU, %d pieces hashed (%d MiB held)", mode, wall.Round(time.Millisecond), cpu, hashed, files*size>>20)
		}
	}
}

func waitSeeding(b *testing.B, a *Agent, n int) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		seeding := 0
		for _, st := range a.Torrents() {
			if st.State == StateSeeding {
				seeding++
			}
		}
		if seeding == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d torrents seeding after 5 min", seeding, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
