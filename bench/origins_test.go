package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseOriginSystem(t *testing.T) {
	for _, tc := range []struct {
		sys      string
		kind     string
		k        int
		ok, fail bool
	}{
		{"http", Single, 1, true, false},
		{"single", Single, 1, true, false},
		{"replicated:10", Replicated, 10, true, false},
		{"sharded:3", Sharded, 3, true, false},
		{"shoal", "", 0, false, false},
		{"libtorrent", "", 0, false, false},
		{"sharded", "", 0, true, true},
		{"replicated:0", "", 0, true, true},
		{"replicated:100000", "", 0, true, true},
		{"single:2", "", 0, true, true},
	} {
		kind, k, ok, err := parseOriginSystem(tc.sys)
		if ok != tc.ok || (err != nil) != tc.fail || (err == nil && (kind != tc.kind || k != tc.k)) {
			t.Errorf("parseOriginSystem(%q) = %q, %d, %v, %v", tc.sys, kind, k, ok, err)
		}
		if err != nil && !errors.Is(err, ErrUnknownSystem) {
			t.Errorf("%q: %v is not ErrUnknownSystem", tc.sys, err)
		}
	}
	if got := extraOrigins([]string{"shoal", "replicated:4", "sharded:7", "http"}); got != 6 {
		t.Errorf("extra origin hosts %d, want 6", got)
	}
}

// TestFetchShards: shards served by separate origins are reassembled at
// their offsets under one limit; a shard of the wrong length is refused.
func TestFetchShards(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	const size, k = 1_000_003, 3
	sum, err := Generate(src, size, 5)
	if err != nil {
		t.Fatal(err)
	}
	j := &job{cfg: Config{Size: size}, src: src}
	plan, err := j.planOrigins(fmt.Sprintf("sharded:%d", k), dir)
	if err != nil || len(plan.files) != k || plan.shard != 333_335 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var urls []string
	var servers []*FileServer
	for _, f := range plan.files {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := NewFileServer(f, 0)
		servers = append(servers, srv)
		go srv.Serve(ctx, ln)
		urls = append(urls, "http://"+ln.Addr().String()+"/"+filepath.Base(f))
	}
	out := filepath.Join(dir, "out")
	n, err := FetchShards(ctx, urls, out, plan.shard, 4e6)
	if err != nil || n != size {
		t.Fatalf("fetched %d bytes, %v", n, err)
	}
	if err := Verify(out, sum); err != nil {
		t.Fatal(err)
	}
	for i, srv := range servers {
		if want := min(plan.shard, size-int64(i)*plan.shard); srv.Sent() != want {
			t.Errorf("origin %d sent %d bytes, want its shard's %d", i, srv.Sent(), want)
		}
	}
	// Shards in the wrong order: the first is not a full shard.
	if _, err := FetchShards(ctx, []string{urls[2], urls[0], urls[1]}, out, plan.shard, 0); err == nil {
		t.Error("a short shard in the middle was accepted")
	}
	if _, err := FetchShards(ctx, nil, out, plan.shard, 0); err == nil {
		t.Error("no URLs accepted")
	}
}

// TestRunOriginSystems runs the client-server comparators as processes:
// every receiver gets a verified copy, the origins send N copies between
// them, and K origins finish sooner than one.
func TestRunOriginSystems(t *testing.T) {
	cfg := smallConfig(t, Single, "replicated:2", "sharded:3")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("got %d results", len(results))
	}
	for _, r := range results {
		checkResult(t, r, cfg)
		if got := r.OriginEgressRatio; got < 2.99 || got > 3.01 {
			t.Errorf("%s: origin egress %v copies, want 3", r.System, got)
		}
	}
	single := results[0].TLastS
	for _, r := range results[1:] {
		if r.TLastS >= single {
			t.Errorf("%s: T_last %.2fs, not below one origin's %.2fs", r.System, r.TLastS, single)
		}
	}
	if entries, _ := os.ReadDir(cfg.Dir); len(entries) == 0 {
		t.Error("work folder empty")
	}
}
