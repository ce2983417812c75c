package agent

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/shoal-p2p/shoal/metainfo"
)

// handTorrent builds a .torrent of files (path components, length) with
// zero-filled content, bypassing metainfo.Create's sanity.
func handTorrent(t *testing.T, name string, files [][]string, length int64) []byte {
	t.Helper()
	const pl = 16 << 10
	var fl []map[string]any
	total := int64(0)
	for _, p := range files {
		fl = append(fl, map[string]any{"length": length, "path": p})
		total += length
	}
	var pieces []byte
	for off := int64(0); off < total; off += pl {
		h := sha1.Sum(make([]byte, min(pl, total-off)))
		pieces = append(pieces, h[:]...)
	}
	info := map[string]any{"name": name, "piece length": pl, "pieces": string(pieces), "files": fl}
	ib, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := bencode.Marshal(map[string]any{"info": bencode.Bytes(ib)})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// TestHostilePaths: what a careless operator or a hostile .torrent gives
// as paths gets a clear 4xx and leaves the store as it was.
func TestHostilePaths(t *testing.T) {
	mt := newMemTracker("k")
	a := startAgent(t, Config{ChannelTrackers: []ChannelTracker{mt}, Trackers: []string{"http://127.0.0.1:1/announce"}})
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("n", 300)
	type req struct {
		name, method, path string
		body               []byte
		want               int
		mention            string
	}
	pub := func(p string) []byte { b, _ := json.Marshal(PublishRequest{Path: p, Key: "k"}); return b }
	add := func(p string) []byte { b, _ := json.Marshal(AddRequest{Path: p}); return b }
	cases := []req{
		// Publishing the data folder would copy it into itself until the
		// disk is full.
		{"publish the data folder", "POST", "/v1/channels/build/releases", pub(a.Dir()), 400, "data folder"},
		{"publish inside the data folder", "POST", "/v1/channels/build/releases", pub(filepath.Join(a.Dir(), "content")), 400, "data folder"},
		{"publish a parent of the data folder", "POST", "/v1/channels/build/releases", pub(filepath.Dir(a.Dir())), 400, "data folder"},
		{"publish a missing path", "POST", "/v1/channels/build/releases", pub("/no/such/release"), 400, "no such file"},
		{"publish a fifo", "POST", "/v1/channels/build/releases", pub(fifo), 400, "not a regular file"},
		{"seed the data folder", "POST", "/v1/torrents", add(a.Dir()), 400, "data folder"},
		{"seed inside the data folder", "POST", "/v1/torrents", add(filepath.Join(a.Dir(), "index.db")), 400, "data folder"},
		{"two files at one path", "POST", "/v1/torrents", handTorrent(t, "dup", [][]string{{"a"}, {"a"}}, 100), 400, "used twice"},
		{"a file where a folder goes", "POST", "/v1/torrents", handTorrent(t, "dir", [][]string{{"a"}, {"a", "b"}}, 100), 400, "both a file and a directory"},
		{"a name too long for the filesystem", "POST", "/v1/torrents", handTorrent(t, long, [][]string{{"a"}}, 100), 400, "too long"},
		{"a file name too long", "POST", "/v1/torrents", handTorrent(t, "ok", [][]string{{long}}, 100), 400, "too long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var eb ErrorBody
			code := call(t, c.method, a.api+c.path, "", c.body, &eb)
			if code != c.want || !strings.Contains(eb.Error, c.mention) {
				t.Fatalf("%d %q, want %d mentioning %q", code, eb.Error, c.want, c.mention)
			}
		})
	}
	if ts := a.Torrents(); len(ts) != 0 {
		t.Fatalf("refused requests left torrents: %+v", ts)
	}
	ents, _ := os.ReadDir(filepath.Join(a.Dir(), "content"))
	if len(ents) != 0 {
		t.Fatalf("refused requests left %d entries in the content folder", len(ents))
	}
}

// TestFilesWithUnicodeNamesAndPlantedSymlinks: a file named in any script
// is served by its (percent-encoded) path; a symlink planted in the store
// in place of a file is not followed out of it.
func TestFilesWithUnicodeNamesAndPlantedSymlinks(t *testing.T) {
	src := filepath.Join(t.TempDir(), "выпуск 7")
	names := []string{"données.bin", "日本語 ファイル.txt", "emoji-🚀.dat", "a%2Fb.bin"}
	var datas [][]byte
	for i, n := range names {
		datas = append(datas, writeRandom(t, filepath.Join(src, n), 20<<10+i, uint64(60+i)))
	}
	dir := t.TempDir()
	first := incarnate(t, Config{Dir: dir})
	// A stored (not local) torrent, its file put in place by hand and
	// found at the next start.
	mi, _ := metainfo.Create(filepath.Join(src, names[0]), metainfo.CreateOptions{PieceLength: 16 << 10})
	se, _, err := first.addMeta(mi, addOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(first.contentDir(se.rec.InfoHash), names[0])
	os.WriteFile(p, datas[0], 0o644)
	first.stop(false)
	a := startAgent(t, Config{Dir: dir})
	e, _, err := a.addLocal(src, 16<<10, addOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ih, _ := metainfo.ParseInfoHash(e.rec.InfoHash)
	waitUntil(t, 30*time.Second, "seeding", func() bool {
		st, _ := a.Torrent(ih)
		return st.State == StateSeeding
	})
	for i, n := range names {
		u := a.api + "/v1/torrents/" + ih.String() + "/files/" + url.PathEscape("выпуск 7") + "/" + url.PathEscape(n)
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(b, datas[i]) {
			t.Fatalf("GET %s: %d, %d bytes, equal=%v", n, resp.StatusCode, len(b), bytes.Equal(b, datas[i]))
		}
	}

	// The stored file is replaced by a symlink to a file outside the
	// store.
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("not for the API"), 0o600)
	waitUntil(t, 30*time.Second, "stored copy seeding", func() bool {
		st, _ := a.Torrent(mi.InfoHash)
		return st.State == StateSeeding
	})
	os.Remove(p)
	if err := os.Symlink(secret, p); err != nil {
		t.Fatal(err)
	}
	var eb ErrorBody
	code := call(t, "GET", a.api+"/v1/torrents/"+mi.InfoHash.String()+"/files/"+url.PathEscape(names[0]), "", nil, &eb)
	if code != 409 || !strings.Contains(eb.Error, "changed on disk") {
		t.Fatalf("GET through a planted symlink: %d %q, want 409 saying the store's copy changed on disk", code, eb.Error)
	}
}

// TestHostileRanges: ranges cannot amplify a file (many overlapping ones
// are served as the whole file once), malformed ones are 416 or ignored,
// and multi-range answers hold exactly the bytes asked for.
func TestHostileRanges(t *testing.T) {
	src := filepath.Join(t.TempDir(), "r.bin")
	data := writeRandom(t, src, 100<<10, 71)
	a := startAgent(t, Config{})
	e, _, err := a.addLocal(src, 16<<10, addOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ih, _ := metainfo.ParseInfoHash(e.rec.InfoHash)
	waitUntil(t, 30*time.Second, "seeding", func() bool { st, _ := a.Torrent(ih); return st.State == StateSeeding })
	u := a.api + "/v1/torrents/" + ih.String() + "/files/r.bin"
	get := func(rng string) (int, []byte, http.Header) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Range", rng)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header
	}
	many := "bytes=" + strings.TrimSuffix(strings.Repeat("0-102399,", 2000), ",")
	if code, b, _ := get(many); len(b) > len(data)+1<<10 {
		t.Fatalf("2000 overlapping whole-file ranges: %d, %d bytes for a %d-byte file", code, len(b), len(data))
	}
	for _, bad := range []string{"bytes=500-100", "bytes=999999-"} {
		if code, _, _ := get(bad); code != 416 {
			t.Errorf("Range %q: %d, want 416", bad, code)
		}
	}
	if code, b, _ := get("bytes=-10"); code != 206 || !bytes.Equal(b, data[len(data)-10:]) {
		t.Errorf("suffix range: %d %d bytes", code, len(b))
	}
	code, b, h := get("bytes=0-9,1000-1009")
	if code != 206 || !strings.HasPrefix(h.Get("Content-Type"), "multipart/byteranges") ||
		!bytes.Contains(b, data[0:10]) || !bytes.Contains(b, data[1000:1010]) || len(b) > 1024 {
		t.Errorf("two ranges: %d %s %d bytes", code, h.Get("Content-Type"), len(b))
	}
}
