package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// shoalBin is the binary TestMain built for the end-to-end runs, and
// buildErr why it could not be built.
var (
	shoalBin string
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shoal-bench-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: temp dir:", err)
		os.Exit(1)
	}
	shoalBin = filepath.Join(dir, "shoal")
	cmd := exec.Command("go", "build", "-o", shoalBin, "./cmd/shoal")
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build ./cmd/shoal: %w\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needShoal(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real processes; skipped with -short")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return shoalBin
}

// smallConfig is N=3 receivers of a 4 MB file on 4 MB/s links: about a
// second for a swarm, three for single-source HTTP.
func smallConfig(t *testing.T, systems ...string) Config {
	return Config{
		Shoal: needShoal(t), Dir: t.TempDir(), Peers: 3, Size: 4e6, Link: 4e6,
		PieceLength: 256 << 10, Systems: systems, RunTimeout: 60 * time.Second,
	}
}

// checkResult asserts that a run produced a complete, coherent report.
func checkResult(t *testing.T, r Result, cfg Config) {
	t.Helper()
	if r.Peers != cfg.Peers || r.SizeBytes != cfg.Size || len(r.FinishS) != cfg.Peers {
		t.Fatalf("%s: peers %d size %d finish times %d; want %d, %d, %d", r.System, r.Peers, r.SizeBytes, len(r.FinishS), cfg.Peers, cfg.Size, cfg.Peers)
	}
	for i, f := range r.FinishS {
		if !(f > 0) || f > r.TLastS {
			t.Errorf("%s: receiver %d finished at %v, T_last %v", r.System, i+1, f, r.TLastS)
		}
	}
	if !(r.P50S <= r.P90S && r.P90S <= r.TLastS) {
		t.Errorf("%s: p50 %v, p90 %v, T_last %v out of order", r.System, r.P50S, r.P90S, r.TLastS)
	}
	if want := Floor(float64(cfg.Size), cfg.Link, cfg.Link, cfg.Link, cfg.Peers); r.FloorS != want {
		t.Errorf("%s: floor %v, want %v", r.System, r.FloorS, want)
	}
	if !(r.Efficiency > 0 && r.Efficiency <= 1.05) {
		t.Errorf("%s: efficiency %v outside (0, 1.05]", r.System, r.Efficiency)
	}
	// Nobody but the origin has the data at first: it sends at least one copy.
	if r.OriginEgressRatio < 0.99 {
		t.Errorf("%s: origin egress %v copies, want at least 1", r.System, r.OriginEgressRatio)
	}
	if !(r.CPUSPerGB > 0) || r.PeakRSSBytes <= 0 || r.OriginRSSBytes <= 0 {
		t.Errorf("%s: cpu %v s/GB, peak RSS %d, origin RSS %d: want all positive", r.System, r.CPUSPerGB, r.PeakRSSBytes, r.OriginRSSBytes)
	}
	// Every host waited for the network at least once.
	if r.VoluntarySwitches < int64(cfg.Peers) || r.InvoluntarySwitches < 0 {
		t.Errorf("%s: %d voluntary, %d involuntary context switches; want at least one voluntary per receiver", r.System, r.VoluntarySwitches, r.InvoluntarySwitches)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"system", "peers", "size_bytes", "link_bytes_per_s", "floor_s", "t_last_s", "p50_s", "p90_s",
		"efficiency", "origin_egress_ratio", "cpu_s_per_gb", "peak_rss_bytes", "finish_s"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: JSON lacks %q", r.System, k)
		}
	}
}

func TestRunShoalAndHTTP(t *testing.T) {
	cfg := smallConfig(t, Shoal, HTTP)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].System != Shoal || results[1].System != HTTP {
		t.Fatalf("got %d results, want shoal then http", len(results))
	}
	for _, r := range results {
		checkResult(t, r, cfg)
	}
	// The HTTP origin sends every receiver its own copy.
	if got := results[1].OriginEgressRatio; got < 2.99 || got > 3.01 {
		t.Errorf("http origin egress %v copies, want 3", got)
	}
}

func TestRunLibtorrent(t *testing.T) {
	cfg := smallConfig(t, Libtorrent)
	if err := LibtorrentAvailable(""); err != nil {
		t.Skipf("libtorrent comparator not run: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1", len(results))
	}
	checkResult(t, results[0], cfg)
}

func TestRunRejectsBadConfig(t *testing.T) {
	good := Config{Shoal: "shoal", Dir: t.TempDir(), Peers: 1, Size: 1, Link: 1, Systems: []string{Shoal}}
	if err := good.check(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	bad := good
	bad.Systems = []string{"bittorrent"}
	if _, err := Run(context.Background(), bad); !errors.Is(err, ErrUnknownSystem) {
		t.Errorf("unknown system: got %v, want ErrUnknownSystem", err)
	}
	for name, mut := range map[string]func(*Config){
		"no binary":           func(c *Config) { c.Shoal = "" },
		"no peers":            func(c *Config) { c.Peers = 0 },
		"no size":             func(c *Config) { c.Size = 0 },
		"no link":             func(c *Config) { c.Link = 0 },
		"no systems":          func(c *Config) { c.Systems = nil },
		"no work dir":         func(c *Config) { c.Dir = "" },
		"MTU without netns":   func(c *Config) { c.MTU = 9000 },
		"MTU too small":       func(c *Config) { c.Netns, c.MTU = true, 100 },
		"MTU too large":       func(c *Config) { c.Netns, c.MTU = true, 70000 },
		"qdisc without netns": func(c *Config) { c.Qdisc = QdiscFIFO },
		"unknown qdisc":       func(c *Config) { c.Netns, c.Qdisc = true, "fq_codel" },
	} {
		c := good
		mut(&c)
		if err := c.check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestVerifyDetectsCorruption(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a")
	sum, err := Generate(src, 100_000, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(src, sum); err != nil {
		t.Fatalf("intact copy: %v", err)
	}
	data, _ := os.ReadFile(src)
	data[54_321] ^= 1
	bad := filepath.Join(dir, "b")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Verify(bad, sum); !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped bit: got %v, want ErrCorrupt", err)
	}
	if err := Verify(filepath.Join(dir, "missing"), sum); err == nil {
		t.Error("missing copy verified")
	}
	// The same seed gives the same bytes; another seed does not.
	if again, _ := Generate(filepath.Join(dir, "c"), 100_000, 7); again != sum {
		t.Error("generate is not deterministic for a seed")
	}
	if other, _ := Generate(filepath.Join(dir, "d"), 100_000, 8); other == sum {
		t.Error("different seeds gave the same bytes")
	}
}

func TestParseUploaded(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`{"Uploaded": 12345, "Downloaded": 0}`, 12345, true},
		{`{"Pieces":16,"Uploaded":0}`, 0, true},
		{`{"Downloaded": 5}`, 0, false},
		{`{"Uploaded": -1}`, 0, false},
		{`{"Uploaded": "many"}`, 0, false},
		{`not json`, 0, false},
	} {
		got, err := parseUploaded([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseUploaded(%s) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseUploaded(f *testing.F) {
	f.Add([]byte(`{"Uploaded": 12345}`))
	f.Add([]byte(`{"Uploaded": -3}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := parseUploaded(data)
		if err == nil && n < 0 {
			t.Fatalf("accepted negative egress %d", n)
		}
		if err == nil {
			back, err := parseUploaded([]byte(fmt.Sprintf(`{"Uploaded": %d}`, n)))
			if err != nil || back != n {
				t.Fatalf("round trip of %d: %d, %v", n, back, err)
			}
		}
	})
}

func TestHiddenHostCommands(t *testing.T) {
	// The hidden host commands must stay reachable through "shoal bench".
	bin := needShoal(t)
	out, _ := exec.Command(bin, "bench", "http-get", "-h").CombinedOutput()
	if !strings.Contains(string(out), "down-limit") {
		t.Errorf("shoal bench http-get -h: %s", out)
	}
}

// needNetns skips t unless --netns can run here: root, and tc.
func needNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("--netns needs root")
	}
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("--netns needs tc (iproute2)")
	}
}

func TestRunNetns(t *testing.T) {
	cfg := smallConfig(t, Shoal, HTTP)
	needNetns(t)
	cfg.Netns = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	results, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Qdisc != QdiscFair {
			t.Errorf("%s: qdisc %q, want the default %q", r.System, r.Qdisc, QdiscFair)
		}
		if r.CongestionControl != hostCongestion() {
			t.Errorf("%s: congestion control %q, want %q", r.System, r.CongestionControl, hostCongestion())
		}
	}
	// Jumbo frames, and the old FIFO: the results say so and the floor
	// takes their goodput.
	cfg.MTU, cfg.Systems, cfg.Qdisc = 9000, []string{Shoal}, QdiscFIFO
	jumbo, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(jumbo) != 1 || jumbo[0].MTU != 9000 || jumbo[0].Qdisc != QdiscFIFO {
		t.Errorf("MTU 9000 fifo run: results %+v", jumbo)
	}
	for _, r := range append(results, jumbo...) {
		if !r.Netns {
			t.Errorf("%s: result not marked netns", r.System)
		}
		// The floor comes from TCP goodput under tbf, not the raw rate.
		g := Goodput(r.MTU)
		if want := Floor(4e6, 4e6*g, 4e6*g, 4e6*g, 3); r.FloorS != want {
			t.Errorf("%s, MTU %d: floor %v, want %v", r.System, r.MTU, r.FloorS, want)
		}
		// 4 MB went to each of 3 receivers in segments of at most 64 KB.
		if r.TCPOutSegs < 3*4_000_000/65536 || r.TCPRetransSegs < 0 || r.TCPRetransSegs > r.TCPOutSegs {
			t.Errorf("%s: TCP segments %d sent, %d retransmitted", r.System, r.TCPOutSegs, r.TCPRetransSegs)
		}
		// The fabric's counters saw every receiver's copy come in.
		if u := r.LinkUse; u == nil || u.Samples < 2 || u.DownStartup+u.DownSteady+u.DownTail <= 0 || u.TailStartS > r.TLastS+1e-9 {
			t.Errorf("%s: link use %+v (T_last %.2f s)", r.System, u, r.TLastS)
		}
		r.FloorS = Floor(float64(cfg.Size), cfg.Link, cfg.Link, cfg.Link, cfg.Peers)
		checkResult(t, r, cfg)
	}
	// Nothing of the fabric may outlive the run.
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), fmt.Sprintf("shoal-%d-", os.Getpid()%100000)) {
		t.Errorf("namespaces left behind:\n%s", out)
	}
}

// TestGoodput: the measured figure at 1500 bytes (and by default), a
// full segment's share of its frame at other MTUs.
func TestGoodput(t *testing.T) {
	if Goodput(0) != TBFGoodput || Goodput(1500) != TBFGoodput {
		t.Errorf("Goodput(0), Goodput(1500) = %v, %v; want %v", Goodput(0), Goodput(1500), TBFGoodput)
	}
	if got, want := Goodput(9000), 8948.0/9014; got != want {
		t.Errorf("Goodput(9000) = %v, want %v", got, want)
	}
	if got := Goodput(1500 + 1); got < TBFGoodput-0.001 || got > TBFGoodput+0.001 {
		t.Errorf("Goodput(1501) = %v, far from the measured %v at 1500", got, TBFGoodput)
	}
}

// TestShapedEnv: a Shoal host learns its link's speed from the environment
// only when tc shapes it; with its own limiters it has the flags.
func TestShapedEnv(t *testing.T) {
	j := &job{}
	if env := j.shapedEnv(10e6); env != nil {
		t.Errorf("loopback: shapedEnv = %q, want none", env)
	}
	j.net = &fabric{}
	if env, want := j.shapedEnv(10e6), []string{"SHOAL_SHAPED_LINK=10000000"}; !slices.Equal(env, want) {
		t.Errorf("netns: shapedEnv = %q, want %q", env, want)
	}
	if env := j.shapedEnv(0); env != nil {
		t.Errorf("netns, unshaped: shapedEnv = %q, want none", env)
	}
}

// TestParseTCPSegs reads the TCP counters of /proc/net/snmp as this kernel
// (6.18) writes them, and rejects text without them.
func TestParseTCPSegs(t *testing.T) {
	const snmp = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 79178411
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 344614 337217 7369 47917 0 78996542 78500290 705153 0 40970 0
Udp: InDatagrams NoPorts
Udp: 12 3
`
	got, err := parseTCPSegs([]byte(snmp))
	if want := (tcpSegs{out: 78500290, retrans: 705153}); err != nil || got != want {
		t.Errorf("parseTCPSegs = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{
		"",
		"Ip: Forwarding\nIp: 1\n",
		"Tcp: OutSegs RetransSegs\n",              // names, no values
		"Tcp: OutSegs RetransSegs\nTcp: 5\n",      // too few values
		"Tcp: OutSegs InErrs\nTcp: 5 0\n",         // no RetransSegs
		"Tcp: OutSegs RetransSegs\nTcp: 5 many\n", // not a number
	} {
		if s, err := parseTCPSegs([]byte(bad)); err == nil {
			t.Errorf("parseTCPSegs(%q) = %+v, want an error", bad, s)
		}
	}
	// With /proc/net/netstat after it: the probes, DSACKs and timeouts too.
	const netstat = `TcpExt: SyncookiesSent TCPTimeouts TCPLossProbes TCPLossProbeRecovery TCPDSACKRecv TCPDSACKOfoRecv
TcpExt: 0 27 1196 3 587 1
IpExt: InNoRoutes
IpExt: 0
`
	got, err = parseTCPSegs([]byte(snmp + netstat))
	if want := (tcpSegs{out: 78500290, retrans: 705153, probes: 1196, dsacks: 587, timeouts: 27}); err != nil || got != want {
		t.Errorf("parseTCPSegs(snmp, netstat) = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{
		"TcpExt: TCPTimeouts TCPLossProbes TCPDSACKRecv\nTcpExt: 1 2\n",   // too few values
		"TcpExt: TCPTimeouts TCPLossProbes\nTcpExt: 1 2\n",                // no TCPDSACKRecv
		"TcpExt: TCPTimeouts TCPLossProbes TCPDSACKRecv\nTcpExt: 1 2 x\n", // not a number
	} {
		if s, err := parseTCPSegs([]byte(snmp + bad)); err == nil {
			t.Errorf("parseTCPSegs(snmp + %q) = %+v, want an error", bad, s)
		}
	}
}

// TestFabricMTU: every interface of a fabric made with an MTU has it.
func TestFabricMTU(t *testing.T) {
	needNetns(t)
	ctx := context.Background()
	f, err := newFabric(ctx, 2, []float64{10e6, 10e6}, []float64{10e6, 0}, 9000, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	for _, h := range f.hosts {
		for _, argv := range [][]string{{"ip", "-n", h.ns, "link", "show", "eth0"}, {"ip", "link", "show", h.veth}} {
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), " mtu 9000 ") {
				t.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
			}
		}
	}
}

// TestTBFBurst: tbf's bucket holds 20 ms at the rate, as the hosts' own
// limiters do, and never less than a 64 KB GSO segment.
func TestTBFBurst(t *testing.T) {
	for _, c := range []struct {
		rate float64
		want string
	}{{10e6, "200000"}, {1e9, "20000000"}, {1e6, "65536"}} {
		argv := tbf("eth0", c.rate)
		i := slices.Index(argv, "burst")
		if i < 0 || i+1 >= len(argv) || argv[i+1] != c.want {
			t.Errorf("tbf(eth0, %g) = %q, want burst %s", c.rate, argv, c.want)
		}
	}
}

// TestUploadFIFO: the old qdisc is tbf alone, as before session 12.
func TestUploadFIFO(t *testing.T) {
	got := upload("eth0", 10e6, 0, QdiscFIFO, []string{"10.77.0.2", "10.77.0.4"})
	if want := [][]string{tbf("eth0", 10e6)[1:]}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("upload(fifo) = %q, want %q", got, want)
	}
}

// TestUploadFair: a root class at the link's rate with tbf's bucket, a
// default class, and for every remote host a class of its own with its own
// FIFO, reached by a filter on that host's address; the classes' own
// buckets hold one frame, so they add no burst to the link's.
func TestUploadFair(t *testing.T) {
	remotes := []string{"10.77.0.2", "10.77.0.4", "10.77.0.5"}
	for _, c := range []struct {
		rate               float64
		mtu                int
		rate8, share       string // the root's rate, and each class's share
		burst, frame, fifo string
	}{
		{10e6, 0, "80000000bit", "20000000bit", "200000", "1514", "200000"},
		{4e6, 0, "32000000bit", "8000000bit", "80000", "1514", "196608"}, // a FIFO holds three 64 KB segments
		{1e9, 9000, "8000000000bit", "2000000000bit", "20000000", "9014", "20000000"},
	} {
		cmds := upload("eth0", c.rate, c.mtu, QdiscFair, remotes)
		lines := make([]string, len(cmds))
		for i, cmd := range cmds {
			lines[i] = strings.Join(cmd, " ")
		}
		want := []string{
			"qdisc add dev eth0 root handle 1: htb default 2",
			"class add dev eth0 parent 1: classid 1:1 htb rate " + c.rate8 + " ceil " + c.rate8 + " burst " + c.burst + " cburst " + c.burst + " quantum " + c.frame,
		}
		for i, id := range []string{"1:2", "1:10", "1:11", "1:12"} {
			want = append(want,
				"class add dev eth0 parent 1:1 classid "+id+" htb rate "+c.share+" ceil "+c.rate8+" burst "+c.frame+" cburst "+c.burst+" quantum "+c.frame,
				"qdisc add dev eth0 parent "+id+" bfifo limit "+c.fifo)
			if i > 0 {
				want = append(want, "filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst "+remotes[i-1]+"/32 flowid "+id)
			}
		}
		if !slices.Equal(lines, want) {
			t.Errorf("upload(%g, MTU %d):\n%s\nwant\n%s", c.rate, c.mtu, strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestResultPieceLength(t *testing.T) {
	if got := pieceLength(Config{Size: 64e6}); got != 128<<10 {
		t.Errorf("automatic piece length of 64 MB: %d, want %d (shoal create's)", got, 128<<10)
	}
	if got := pieceLength(Config{Size: 64e6, PieceLength: 1 << 20}); got != 1<<20 {
		t.Errorf("configured piece length: %d, want %d", got, 1<<20)
	}
}
