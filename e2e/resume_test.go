package e2e

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/e2e/harness"
)

// downLimit is the getter's download cap in the resume test, written the way
// the CLI's --down-limit flag takes it. At 8 MiB/s a 64 MiB file takes about
// 8 s, leaving time to kill the getter half way.
const downLimit = "8MB"

// TestResumeAfterKill kills a rate-limited getter with SIGKILL once it has
// reported at least 40% progress, restarts it on the same output directory
// and checks that it finds the pieces it already had, fetches exactly the
// missing ones, and ends with a byte-identical file.
func TestResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: rate-limited 64 MiB download; skipped with -short")
	}
	ctx := harness.Context(t, 3*time.Minute)
	dir := t.TempDir()
	const size, pieceLen = 64 << 20, 256 << 10
	const totalPieces = size / pieceLen
	src := filepath.Join(dir, "src", "big.bin")
	harness.WriteTree(t, filepath.Join(dir, "src"), 2, harness.FileSpec{Path: "big.bin", Size: size})
	torrent := filepath.Join(dir, "big.torrent")
	shoal.CreateTorrent(ctx, t, src, torrent, pieceLen)
	_, seedAddr := shoal.StartSeeder(ctx, t, "seeder", torrent, src)

	out := filepath.Join(dir, "out")
	first := shoal.StartGetter(ctx, t, "getter-1st", torrent, out, "--peer", seedAddr, "--down-limit", downLimit)
	var frac float64
	err := first.WaitStderr(ctx, "40% progress", func(s string) bool {
		f, ok := lastProgress(s)
		frac = f
		return ok && f >= 0.4
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.Exited() {
		t.Fatalf("first getter exited (%v) before it could be killed at %.0f%%; the rate limit did not hold", first.Err(), frac*100)
	}
	if err := first.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if frac >= 1 {
		t.Fatalf("first getter reported %.0f%% before the kill; nothing left to resume", frac*100)
	}
	t.Logf("killed first getter at %.1f%%", frac*100)

	second := shoal.StartGetter(ctx, t, "getter-2nd", torrent, out, "--peer", seedAddr)
	second.MustFinish(ctx, t)
	harness.SameTree(t, src, filepath.Join(out, "big.bin"))

	downloaded, had, ok := finalCounts(second.Stderr().String())
	if !ok {
		t.Fatalf("second getter printed no final line with `downloaded N pieces` and `had M pieces`")
	}
	t.Logf("second run: had %d, downloaded %d of %d pieces", had, downloaded, totalPieces)
	if had <= 0 || had >= totalPieces {
		t.Fatalf("second run had %d pieces at start, want 0 < M < %d", had, totalPieces)
	}
	if had < totalPieces*3/10 {
		t.Errorf("second run had only %d of %d pieces after a kill at %.0f%%: verified pieces were lost", had, totalPieces, frac*100)
	}
	if downloaded != totalPieces-had {
		t.Errorf("second run downloaded %d pieces, want exactly total-had = %d", downloaded, totalPieces-had)
	}
}

var (
	piecesRE     = regexp.MustCompile(`(\d+)\s*/\s*(\d+)\s*pieces`)
	percentRE    = regexp.MustCompile(`(\d+(?:\.\d+)?)\s*%`)
	downloadedRE = regexp.MustCompile(`downloaded (\d+) pieces`)
	hadRE        = regexp.MustCompile(`had (\d+) pieces`)
)

// lastProgress finds the newest progress report in a getter's stderr: "N/M
// pieces" if present, else a percentage. It returns a fraction in [0,1].
func lastProgress(stderr string) (float64, bool) {
	lines := strings.Split(stderr, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if m := piecesRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseFloat(m[1], 64)
			d, _ := strconv.ParseFloat(m[2], 64)
			if d > 0 {
				return n / d, true
			}
		}
		if m := percentRE.FindStringSubmatch(l); m != nil {
			p, _ := strconv.ParseFloat(m[1], 64)
			return p / 100, true
		}
	}
	return 0, false
}

// finalCounts extracts N and M from the last `downloaded N pieces` and
// `had M pieces` in a getter's stderr.
func finalCounts(stderr string) (downloaded, had int, ok bool) {
	d := downloadedRE.FindAllStringSubmatch(stderr, -1)
	h := hadRE.FindAllStringSubmatch(stderr, -1)
	if d == nil || h == nil {
		return 0, 0, false
	}
	downloaded, _ = strconv.Atoi(d[len(d)-1][1])
	had, _ = strconv.Atoi(h[len(h)-1][1])
	return downloaded, had, true
}

// TestProgressParsing pins the parsers the resume test depends on.
func TestProgressParsing(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"listening on 127.0.0.1:4000\n", 0, false},
		{"progress 12/256 pieces\nprogress 128/256 pieces 8.0 MB/s\n", 0.5, true},
		{"x\n 41.5% done, 3 peers\n", 0.415, true},
		{"50%\nlistening on 1.2.3.4:5\n", 0.5, true},
	} {
		got, ok := lastProgress(tc.in)
		if ok != tc.ok || (ok && (got < tc.want-1e-9 || got > tc.want+1e-9)) {
			t.Errorf("lastProgress(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	d, h, ok := finalCounts("progress\ndone: downloaded 100 pieces, had 156 pieces at start\n")
	if !ok || d != 100 || h != 156 {
		t.Errorf("finalCounts = %d, %d, %v; want 100, 156, true", d, h, ok)
	}
	if _, _, ok := finalCounts("downloaded 3 pieces\n"); ok {
		t.Error("finalCounts accepted a line without `had M pieces`")
	}
}
