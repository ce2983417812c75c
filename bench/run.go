package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
)

// The systems a bench can compare.
const (
	Shoal      = "shoal"
	Libtorrent = "libtorrent"
	HTTP       = "http"
)

// ErrUnknownSystem is returned for a system name Run does not know.
var ErrUnknownSystem = errors.New("unknown system")

//go:embed scripts/lt_bench.py
var ltScript []byte

// Config describes one bench invocation.
type Config struct {
	Shoal       string   // path of the shoal binary that runs every Shoal and HTTP host
	Python      string   // interpreter with the libtorrent module (default /usr/bin/python3)
	Dir         string   // working folder; the file and every copy live here
	Peers       int      // receivers N
	Size        int64    // file size F in bytes
	Link        float64  // every receiver's upload and download limit, bytes per second
	OriginLink  float64  // the origin's upload limit (0: Link)
	PieceLength int64    // 0: shoal create's default
	Runs        int      // repetitions of every system, interleaved (default 1)
	Systems     []string // in the order they run within a repetition
	Log         io.Writer
	// Netns runs every host in its own network namespace (needs root and
	// ip/tc), shaped with tc tbf instead of the hosts' own limiters.
	Netns bool
	// MTU is the namespaces' interface MTU (0: the kernel's 1500); with
	// Netns only.
	MTU int
	// Qdisc is how tc shapes every link with Netns: QdiscFair (the
	// default, "") or QdiscFIFO.
	Qdisc string
	// RunTimeout bounds one system's run (default: ten times the slower
	// of the floor and the single-source time, plus a minute).
	RunTimeout time.Duration
	// DiskProbe is how many bytes ProbeDisk writes in Dir before the runs
	// to measure the disk every host shares (0: 256 MiB; negative: none).
	DiskProbe int64
}

// hostSet is the processes of one run, in the order they started.
type hostSet struct {
	procs []*proc
}

func (h *hostSet) add(p *proc) *proc { h.procs = append(h.procs, p); return p }

// stopAll ends every process still running, receivers first.
func (h *hostSet) stopAll() {
	for i := len(h.procs) - 1; i >= 0; i-- {
		p := h.procs[i]
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(os.Interrupt)
		}
	}
	for i := len(h.procs) - 1; i >= 0; i-- {
		h.procs[i].stop(10 * time.Second)
	}
}

// Run generates the file, then runs every system Runs times, interleaved
// (A B A B), and returns one Result per system per run. Every copy is
// verified byte for byte (by SHA-256) before a run counts.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Python == "" {
		cfg.Python = "/usr/bin/python3"
	}
	if cfg.OriginLink <= 0 {
		cfg.OriginLink = cfg.Link
	}
	if cfg.Runs < 1 {
		cfg.Runs = 1
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Netns && cfg.Qdisc == "" {
		cfg.Qdisc = QdiscFair // check keeps a qdisc off loopback runs
	}
	src := filepath.Join(cfg.Dir, "origin", "payload.bin")
	fmt.Fprintf(cfg.Log, "generating %d bytes in %s\n", cfg.Size, src)
	sum, err := Generate(src, cfg.Size, 1)
	if err != nil {
		return nil, err
	}
	script := filepath.Join(cfg.Dir, "lt_bench.py")
	if err := os.WriteFile(script, ltScript, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	j := job{cfg: cfg, src: src, sum: sum, script: script}
	if cfg.DiskProbe >= 0 {
		size := cfg.DiskProbe
		if size == 0 {
			size = 256 << 20
		}
		rate, err := ProbeDisk(cfg.Dir, size)
		if err != nil {
			return nil, err
		}
		j.diskRate = rate
		fmt.Fprintf(cfg.Log, "disk: %.0f MB/s synced writes in %s; every host writes its copy to this one disk\n", rate/1e6, cfg.Dir)
	}
	if cfg.Netns {
		// Host 0 is the tracker, 1 the origin, 2.. the receivers.
		// Then the extra origins of replicated:K and sharded:K.
		n := cfg.Peers + 2 + extraOrigins(cfg.Systems)
		up, down := make([]float64, n), make([]float64, n)
		up[1] = cfg.OriginLink
		for i := 2; i < n; i++ {
			up[i], down[i] = cfg.Link, cfg.Link
		}
		for i := cfg.Peers + 2; i < n; i++ {
			up[i], down[i] = cfg.OriginLink, 0
		}
		fmt.Fprintf(cfg.Log, "creating %d network namespaces\n", n)
		f, err := newFabric(ctx, n, up, down, cfg.MTU, cfg.Qdisc)
		if err != nil {
			return nil, err
		}
		defer f.close()
		j.net = f
	}
	var results []Result
	for run := 1; run <= cfg.Runs; run++ {
		for _, sys := range cfg.Systems {
			fmt.Fprintf(cfg.Log, "run %d/%d: %s, %d receivers\n", run, cfg.Runs, sys, cfg.Peers)
			r, err := j.runOne(ctx, sys, run)
			if err != nil {
				return results, fmt.Errorf("%s run %d: %w", sys, run, err)
			}
			fmt.Fprintf(cfg.Log, "  %s: T_last %.2fs (floor %.2fs, efficiency %.3f), p50 %.2fs, origin egress %.2f F, %.1f CPU s/GB\n",
				sys, r.TLastS, r.FloorS, r.Efficiency, r.P50S, r.OriginEgressRatio, r.CPUSPerGB)
			fmt.Fprintf(cfg.Log, "  machine: %s-bound; cores %.0f%% busy (all processes; %.0f%% in softirq), iowait %.0f%%, disk %s %.0f%% busy, %.2f GB written; CPU work/cores %.2fs; disk floor %.2fs; receiver RSS max %.1f MB\n",
				r.Bound, 100*r.Machine.CPUBusy, 100*r.Machine.SoftIRQ, 100*r.Machine.IOWait, r.Machine.Disk, 100*r.Machine.DiskBusy,
				float64(r.Machine.DiskWriteBytes)/1e9, r.CPUOverCoresS, r.DiskFloorS, float64(r.PeakRSSBytes)/1e6)
			fmt.Fprintf(cfg.Log, "  %s\n", r.schedLine())
			if r.Netns {
				fmt.Fprintf(cfg.Log, "  tcp: %d segments sent, %d retransmitted (%.2f%%); %d tail-loss probes, %d DSACKs received, %d timeouts\n",
					r.TCPOutSegs, r.TCPRetransSegs, 100*float64(r.TCPRetransSegs)/float64(max(r.TCPOutSegs, 1)),
					r.TCPLossProbes, r.TCPDSACKs, r.TCPTimeouts)
			}
			if r.LinkUse != nil {
				fmt.Fprintf(cfg.Log, "  %s\n", r.LinkUse.line())
			}
			if l := r.startupLine(); l != "" {
				fmt.Fprintf(cfg.Log, "  %s\n", l)
			}
			results = append(results, r)
		}
	}
	return results, nil
}

// check rejects a configuration that cannot run.
func (c Config) check() error {
	switch {
	case c.Shoal == "":
		return errors.New("bench: no shoal binary")
	case c.Dir == "":
		return errors.New("bench: no working folder")
	case c.Peers < 1:
		return errors.New("bench: need at least one receiver")
	case c.Size < 1:
		return errors.New("bench: size must be positive")
	case c.Link <= 0:
		return errors.New("bench: link rate must be positive")
	case len(c.Systems) == 0:
		return errors.New("bench: no system to run")
	case c.MTU != 0 && !c.Netns:
		return errors.New("bench: an MTU needs --netns (loopback keeps its own)")
	case c.Qdisc != "" && !c.Netns:
		return errors.New("bench: a qdisc needs --netns")
	case c.Qdisc != "" && c.Qdisc != QdiscFair && c.Qdisc != QdiscFIFO:
		return fmt.Errorf("bench: unknown qdisc %q (want %s or %s)", c.Qdisc, QdiscFair, QdiscFIFO)
	case c.MTU != 0 && (c.MTU < 576 || c.MTU > 65535):
		return fmt.Errorf("bench: MTU %d out of range (576-65535)", c.MTU)
	}
	for _, s := range c.Systems {
		if _, _, ok, err := parseOriginSystem(s); err != nil {
			return err
		} else if ok {
			continue // http, single, replicated:K, sharded:K (origins.go)
		}
		if s != Shoal && s != Libtorrent && s != HTTP {
			return fmt.Errorf("bench: %w %q (want shoal, libtorrent or http)", ErrUnknownSystem, s)
		}
	}
	return nil
}

// LibtorrentAvailable reports why python can't import libtorrent, or nil.
func LibtorrentAvailable(python string) error {
	if python == "" {
		python = "/usr/bin/python3"
	}
	out, err := exec.Command(python, "-c", "import libtorrent").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import libtorrent (install python3-libtorrent): %w: %s", python, err, bytes.TrimSpace(out))
	}
	return nil
}

// job is what every run of one invocation shares.
type job struct {
	cfg    Config
	src    string   // the origin's file
	sum    [32]byte // its SHA-256
	script string   // lt_bench.py
	net    *fabric  // nil: every host on loopback
	// diskRate is the probed write rate of the disk all hosts share (0:
	// not probed).
	diskRate float64
}

// pieceLength is the torrent's piece length: the one configured, or the one
// shoal create picks for the size (metainfo.AutoPieceLength), so a result
// says which it ran with when the automatic choice changes (session 12).
func pieceLength(c Config) int64 {
	if c.PieceLength > 0 {
		return c.PieceLength
	}
	return metainfo.AutoPieceLength(c.Size)
}

// Host indices in a fabric.
const (
	trackerHost  = 0
	originHost   = 1
	receiverHost = 2 // the first receiver
)

// congestion is the hosts' congestion control as set by the fabric ("":
// the machine's default, or loopback).
func (j *job) congestion() string {
	if j.net == nil {
		return ""
	}
	return j.net.cc
}

// argv runs a host's command in its namespace, if any.
func (j *job) argv(host int, argv ...string) []string {
	if j.net == nil {
		return argv
	}
	return j.net.wrap(host, argv)
}

// addr is the IP a host listens on.
func (j *job) addr(host int) string {
	if j.net == nil {
		return "127.0.0.1"
	}
	return j.net.hosts[host].ip
}

// limit returns a rate-limit flag and value for a host's own limiter, or
// nothing when tc shapes the links.
func (j *job) limit(flag string, bytesPerSec float64) []string {
	if j.net != nil {
		return nil
	}
	return []string{flag, strconv.FormatInt(int64(bytesPerSec), 10)}
}

// shapedEnv returns the environment that tells a Shoal host the speed of
// its link when tc shapes it (SHOAL_SHAPED_LINK, read by cmd/shoal's
// tuneProcs: one scheduler slot for a slow host, as its own limits would
// give it), or nothing when the host's own limiters do.
func (j *job) shapedEnv(bytesPerSec float64) []string {
	if j.net == nil || bytesPerSec <= 0 {
		return nil
	}
	return []string{"SHOAL_SHAPED_LINK=" + strconv.FormatInt(int64(bytesPerSec), 10)}
}

// runOne distributes the file once with one system.
func (j *job) runOne(ctx context.Context, sys string, run int) (Result, error) {
	cfg := j.cfg
	F := float64(cfg.Size)
	// Payload rates: tbf's rate includes frame headers.
	us, u := cfg.OriginLink, cfg.Link
	if j.net != nil {
		g := Goodput(cfg.MTU)
		us, u = us*g, u*g
	}
	res := Result{
		System: sys, Run: run, Peers: cfg.Peers, SizeBytes: cfg.Size, PieceLength: pieceLength(cfg),
		LinkBytesPerS: cfg.Link, OriginBytesPerS: cfg.OriginLink, Netns: j.net != nil, MTU: j.cfg.MTU, Qdisc: j.cfg.Qdisc, DiskBytesPerS: j.diskRate,
		CongestionControl: j.congestion(),
		FloorS:            Floor(F, us, u, u, cfg.Peers),
		SingleSourceS:     max(SingleSource(F, us, cfg.Peers), F/u),
	}
	timeout := cfg.RunTimeout
	if timeout <= 0 {
		timeout = time.Duration(10*max(res.FloorS, res.SingleSourceS)*float64(time.Second)) + time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir := filepath.Join(cfg.Dir, fmt.Sprintf("run%d-%s", run, sys))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("work folder: %w", err)
	}
	defer os.RemoveAll(dir)

	var hosts hostSet
	defer hosts.stopAll()
	originStats := filepath.Join(dir, "origin-stats.json")
	var segs0 tcpSegs
	if j.net != nil {
		var err error
		if segs0, err = j.net.tcpSegs(ctx); err != nil {
			return res, err
		}
	}

	// Discovery and the origin.
	var tracker, origin *proc
	var torrent, url string
	plan, err := j.planOrigins(sys, dir) // nil but for http, single, replicated:K, sharded:K
	if err != nil {
		return res, err
	}
	if systemPath(sys) != HTTP {
		if tracker, err = startProc("tracker", nil, j.argv(trackerHost, cfg.Shoal, "tracker", "--listen", j.addr(trackerHost)+":0",
			"--udp-listen", "off", "--rate", "0", "--interval", "10s"), "listening on "); err != nil {
			return res, err
		}
		hosts.add(tracker)
		line, _, err := tracker.wait(ctx, "listening on ")
		if err != nil {
			return res, err
		}
		announce := "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening on ")) + "/announce"
		torrent = filepath.Join(dir, "payload.torrent")
		args := []string{cfg.Shoal, "create", "-o", torrent, "--tracker", announce}
		if cfg.PieceLength > 0 {
			args = append(args, "--piece-length", strconv.FormatInt(cfg.PieceLength, 10))
		}
		if out, err := exec.CommandContext(ctx, args[0], append(args[1:], j.src)...).CombinedOutput(); err != nil {
			return res, fmt.Errorf("shoal create: %w: %s", err, out)
		}
	}
	originUp := j.limit("--up-limit", cfg.OriginLink)
	var argv []string
	switch systemPath(sys) {
	case Shoal:
		argv = concat([]string{cfg.Shoal, "seed", "--listen", j.addr(originHost) + ":0"}, originUp,
			[]string{"--initial-seeding", "--stats-file", originStats, torrent, j.src})
	case Libtorrent:
		argv = concat([]string{cfg.Python, j.script, "seed", torrent, filepath.Dir(j.src), "--bind", j.addr(originHost)},
			originUp, []string{"--stats-file", originStats})
	case HTTP:
		argv = j.originArgv(plan, 0, originStats)
	}
	ready := "seeding "
	if systemPath(sys) == HTTP {
		ready = "listening on "
	}
	var originEnv []string
	if systemPath(sys) == Shoal {
		originEnv = j.shapedEnv(cfg.OriginLink)
	}
	origin, err = startProc("origin", originEnv, j.argv(originHost, argv...), ready)
	if err != nil {
		return res, err
	}
	hosts.add(origin)
	line, _, err := origin.wait(ctx, ready)
	if err != nil {
		return res, err
	}
	if systemPath(sys) == HTTP {
		url = "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening on ")) + "/" + filepath.Base(plan.files[0])
		if err := j.startOtherOrigins(ctx, plan, dir, &hosts, url, originStats); err != nil {
			return res, err
		}
	}

	// Receivers, all started at once.
	name := filepath.Base(j.src)
	recv := make([]*proc, cfg.Peers)
	outs := make([]string, cfg.Peers)
	start := time.Now()
	var stopLinks func() []linkSample
	if j.net != nil {
		stopLinks = j.net.sampleLinks(start)
	}
	for i := range recv {
		rdir := filepath.Join(dir, fmt.Sprintf("peer%03d", i+1))
		outs[i] = filepath.Join(rdir, name)
		host := receiverHost + i
		limits := concat(j.limit("--up-limit", cfg.Link), j.limit("--down-limit", cfg.Link))
		var argv []string
		switch systemPath(sys) {
		case Shoal:
			argv = concat([]string{cfg.Shoal, "get", "--listen", j.addr(host) + ":0", "-o", rdir}, limits,
				[]string{"--seed-after", torrent})
		case Libtorrent:
			argv = concat([]string{cfg.Python, j.script, "get", torrent, rdir, "--bind", j.addr(host)}, limits,
				[]string{"--seed-after"})
		case HTTP:
			if err := os.MkdirAll(rdir, 0o755); err != nil {
				return res, err
			}
			argv = j.receiverArgv(plan, i, outs[i])
		}
		marks := []string{"complete:"}
		if sys == Shoal {
			marks = append(marks, "getting ", "discovery:") // start-up and first peer (startupTimes)
		}
		var env []string
		if systemPath(sys) == Shoal {
			env = j.shapedEnv(cfg.Link)
		}
		p, err := startProc(fmt.Sprintf("receiver %d", i+1), env, j.argv(host, argv...), marks...)
		if err != nil {
			return res, err
		}
		recv[i] = hosts.add(p)
	}
	m0, merr := SampleMachine(dir)
	sched0 := SampleSched()
	stopRSS := sampleRSS(recv, start, &res.RSS)
	res.FinishS = make([]float64, cfg.Peers)
	for i, p := range recv {
		_, at, err := p.wait(ctx, "complete:")
		if err != nil {
			stopRSS()
			return res, err
		}
		res.FinishS[i] = at.Sub(start).Seconds()
	}
	stopRSS()
	if stopLinks != nil {
		hostsOf := make([]int, cfg.Peers)
		for i := range hostsOf {
			hostsOf[i] = receiverHost + i
		}
		res.LinkUse = linkUse(stopLinks(), hostsOf, res.FinishS, originHost, cfg.Link, cfg.OriginLink)
	}
	sched1 := SampleSched()
	res.Load1 = [2]float64{sched0.Load1, sched1.Load1}
	res.Autogroup = sched0.Autogroup && sched1.Autogroup
	if res.Autogroup {
		res.OtherGroups = [2]int{sched0.OtherGroups, sched1.OtherGroups}
	}
	if sys == Shoal {
		res.StartedS, res.FirstPeerS, res.FirstPieceS, res.FirstUploadS = startupTimes(ctx, recv, start)
	}
	if m1, err := SampleMachine(dir); err == nil && merr == nil {
		res.Machine = m0.Until(m1)
	}

	// Stop everything, then account.
	hosts.stopAll()
	if j.net != nil {
		segs, err := j.net.tcpSegs(ctx)
		if err != nil {
			return res, err
		}
		res.TCPOutSegs, res.TCPRetransSegs = segs.out-segs0.out, segs.retrans-segs0.retrans
		res.TCPLossProbes, res.TCPDSACKs, res.TCPTimeouts = segs.probes-segs0.probes, segs.dsacks-segs0.dsacks, segs.timeouts-segs0.timeouts
	}
	var cpu time.Duration
	for _, p := range hosts.procs {
		u := usageOf(p.state)
		cpu += u.cpu
		res.VoluntarySwitches += u.vcsw
		res.InvoluntarySwitches += u.ivcsw
		if p == origin {
			res.OriginRSSBytes = u.peakRSS
		} else if p != tracker {
			res.PeakRSSBytes = max(res.PeakRSSBytes, u.peakRSS)
		}
	}
	egress, err := readUploaded(originStats)
	if plan != nil {
		egress, err = plan.egress() // every origin's
	}
	if err != nil {
		return res, err
	}
	for i, out := range outs {
		if err := Verify(out, j.sum); err != nil {
			return res, fmt.Errorf("receiver %d: %w", i+1, err)
		}
	}
	res.fill(egress, cpu.Seconds())
	return res, nil
}

// concat joins argument lists.
func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// readUploaded reads the payload bytes sent from a host's stats file
// ({"Uploaded": N, ...}, as shoal seed --stats-file and lt_bench.py write).
func readUploaded(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("origin stats: %w", err)
	}
	return parseUploaded(data)
}

// parseUploaded decodes the Uploaded field of a stats file.
func parseUploaded(data []byte) (int64, error) {
	var st struct {
		Uploaded *int64
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return 0, fmt.Errorf("origin stats: %w", err)
	}
	if st.Uploaded == nil || *st.Uploaded < 0 {
		return 0, errors.New("origin stats: no valid Uploaded field")
	}
	return *st.Uploaded, nil
}

// ErrCorrupt means a receiver's copy differs from the origin's file.
var ErrCorrupt = errors.New("copy differs from the original")

// Verify checks that the file at path has SHA-256 sum.
func Verify(path string, sum [32]byte) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	if !bytes.Equal(h.Sum(nil), sum[:]) {
		return fmt.Errorf("verify %s: %w", path, ErrCorrupt)
	}
	return nil
}

// Generate writes size pseudo-random bytes (deterministic for seed) to
// path, syncs them to disk (so their write-back does not run into the
// measurement that follows) and returns their SHA-256.
func Generate(path string, size int64, seed uint64) ([32]byte, error) {
	var sum [32]byte
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return sum, fmt.Errorf("generate: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return sum, fmt.Errorf("generate: %w", err)
	}
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	rng := rand.NewChaCha8(key)
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		_, _ = rng.Read(buf[:n])
		h.Write(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return sum, fmt.Errorf("generate %s: %w", path, err)
		}
		left -= n
	}
	copy(sum[:], h.Sum(nil))
	if err := f.Sync(); err != nil {
		f.Close()
		return sum, fmt.Errorf("generate %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return sum, fmt.Errorf("generate %s: %w", path, err)
	}
	return sum, nil
}

// sampleRSS records, every 250 ms until stop is called, the largest
// resident set of the receivers still running, as seconds from start.
func sampleRSS(recv []*proc, start time.Time, out *[]RSSPoint) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			var most int64
			for _, p := range recv {
				if p.cmd.Process != nil {
					most = max(most, RSSOf(p.cmd.Process.Pid))
				}
			}
			*out = append(*out, RSSPoint{T: time.Since(start).Seconds(), MaxBytes: most})
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

// startupTimes returns, for each shoal receiver, when it said it was
// getting the torrent (its process started, the torrent loaded and its
// storage opened), and when it had its first peer, verified its first
// piece and first sent a block (its "discovery:" line says how long after
// that; parseDiscovery), in seconds from start: the start-up the
// simulator does not model.
func startupTimes(ctx context.Context, recv []*proc, start time.Time) (started, firstPeer, firstPiece, firstUpload []float64) {
	n := len(recv)
	started, firstPeer, firstPiece, firstUpload = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, p := range recv {
		if _, at, err := p.wait(ctx, "getting "); err == nil {
			started[i] = at.Sub(start).Seconds()
		}
		line, _, err := p.wait(ctx, "discovery:")
		if err != nil {
			continue
		}
		d := parseDiscovery(line)
		at := func(after float64) float64 {
			if after <= 0 {
				return 0
			}
			return started[i] + after
		}
		firstPeer[i], firstPiece[i], firstUpload[i] = at(d.peer), at(d.piece), at(d.upload)
	}
	return started, firstPeer, firstPiece, firstUpload
}

// discovery is what a receiver's "discovery:" line says, in seconds after
// it started getting the torrent (0: not said, or never).
type discovery struct{ peer, piece, upload float64 }

// parseDiscovery reads a "discovery:" line (cmd/shoal get). A line from a
// binary that says less (no first piece or upload) gives what it says.
func parseDiscovery(line string) discovery {
	var d discovery
	_, _ = fmt.Sscanf(line, "discovery: first peer after %fs", &d.peer)
	if _, rest, ok := strings.Cut(line, "first piece after "); ok {
		_, _ = fmt.Sscanf(rest, "%fs, first upload after %fs", &d.piece, &d.upload)
	}
	return d
}
