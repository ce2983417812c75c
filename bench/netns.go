package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// TBFGoodput is the share of a tc tbf rate that TCP payload gets: tbf
// counts whole Ethernet frames (headers included), so goodput is about
// 95.6% of the configured rate (measured on this kernel with 1500-byte
// MTU). The floor of a --netns run is computed from goodput.
const TBFGoodput = 0.956

// Goodput is TBFGoodput for interfaces of the given MTU (0: 1500, the
// measured figure); for another MTU it is computed the same way, a full
// segment's payload over its frame: MTU less 52 bytes of IP and TCP
// headers with timestamps, over MTU plus 14 of Ethernet (1448/1514 =
// 0.956 at 1500, 8948/9014 = 0.993 at 9000).
func Goodput(mtu int) float64 {
	if mtu <= 0 || mtu == 1500 {
		return TBFGoodput
	}
	return float64(mtu-52) / float64(mtu+14)
}

// Qdiscs --netns can shape the hosts' uploads with (Config.Qdisc).
const (
	// QdiscFair shapes a host's upload with a fair queue under the link's
	// rate, as a real host's fq or fq_codel does: htb with one class per
	// remote host, served round robin (htb's deficit round robin, one
	// frame a turn), each with its own short FIFO, so one flow's bulk does
	// not delay the host's ACKs and Requests to other hosts, and drops fall
	// on the flow that overfills its queue. Downloads keep tbf's FIFO, as
	// a switch port's. The default since session 12.
	QdiscFair = "fair"
	// QdiscFIFO shapes uploads and downloads alike with tbf: one FIFO of
	// up to 100 ms for every flow of the link (sessions 7-11).
	QdiscFIFO = "fifo"
)

// HostCongestion is the congestion control every host of a --netns fabric
// runs (set on each namespace's route to the others, `ip route ...
// congctl`, since a namespace may only make a default of what the
// machine-wide tcp_allowed_congestion_control lists): cubic, Linux's
// default and what a production host runs unless it is set up otherwise.
// This machine defaults to BBR, which on a real host is paired with the fq
// qdisc for its pacing; this kernel has no fq, and behind tc's shapers,
// which let whole 64 KB GSO segments out at the veth's speed, BBR's
// bandwidth estimates read 1-27 Gbit/s on 10 MB/s links (ss -ti), so its
// pacing does nothing and TCP Small Queues, which size a BBR flow's queue
// from its pacing rate, let each flow fill its class's FIFO. Under cubic
// those queues hold a couple of segments a flow. Measured in
// docs/BENCHMARKS.md, "Session 13 (netns)". A kernel without cubic keeps
// the namespace's default (Result.CongestionControl says which ran).
const HostCongestion = "cubic"

// hostCongestion returns HostCongestion if the kernel has it, else ""
// (the namespaces' default).
func hostCongestion() string {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_available_congestion_control")
	if err != nil || !slices.Contains(strings.Fields(string(b)), HostCongestion) {
		return ""
	}
	return HostCongestion
}

// fabric is a network of namespaces, one per host, joined by a bridge in
// the root namespace; every host's upload is shaped on its own interface
// (by upload: QdiscFair or QdiscFIFO) and its download by tbf on the
// bridge side of its veth pair.
type fabric struct {
	id     string // short unique tag in every name
	bridge string
	hosts  []netHost
	// cc is the hosts' congestion control: HostCongestion, or the
	// namespaces' default where the kernel lacks it.
	cc string
}

// netHost is where one host runs.
type netHost struct {
	ns   string // namespace name
	veth string // bridge-side interface
	ip   string
}

// hostIP is host i's address in 10.77.0.0/16.
func hostIP(i int) string { return fmt.Sprintf("10.77.%d.%d", (i+2)/250, (i+2)%250+1) }

// fabrics counts the fabrics this process made: a fabric's names carry it,
// because a closed fabric's veths go away with their namespaces only once
// the kernel has torn those down, after close returns, and a second fabric
// of the same process made at once (bench runs in one test binary) would
// find its names taken ("File exists").
var fabrics atomic.Uint32

// newFabric creates n namespaces with addresses in 10.77.0.0/16. Host i's
// upload is limited to up[i] and its download to down[i] bytes per second
// (0: unshaped), uploads with the qdisc named (QdiscFair or QdiscFIFO; ""
// is QdiscFair); mtu, if not 0, is every interface's MTU (the bridge takes
// its ports'). On error it removes what it created.
func newFabric(ctx context.Context, n int, up, down []float64, mtu int, qdisc string) (_ *fabric, err error) {
	id := fmt.Sprintf("%d%c", os.Getpid()%100000, 'a'+fabrics.Add(1)%26)
	f := &fabric{id: id, bridge: "shb" + id, cc: hostCongestion()}
	defer func() {
		if err != nil {
			f.close() // f, not the result: that is nil on error
		}
	}()
	if err := ip(ctx, "link", "add", f.bridge, "type", "bridge"); err != nil {
		return nil, err
	}
	if err := ip(ctx, "link", "set", f.bridge, "up"); err != nil {
		return nil, err
	}
	ips := make([]string, n)
	for i := range n {
		h := netHost{
			ns:   fmt.Sprintf("shoal-%s-%d", id, i),
			veth: fmt.Sprintf("sv%s.%d", id, i),
			ip:   hostIP(i),
		}
		ips[i] = h.ip
		f.hosts = append(f.hosts, h)
		steps := [][]string{
			{"netns", "add", h.ns},
			{"link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns},
			{"link", "set", h.veth, "master", f.bridge, "up"},
			{"-n", h.ns, "addr", "add", h.ip + "/16", "dev", "eth0"},
			{"-n", h.ns, "link", "set", "eth0", "up"},
			{"-n", h.ns, "link", "set", "lo", "up"},
		}
		if mtu > 0 {
			m := strconv.Itoa(mtu)
			steps = append(steps, []string{"link", "set", h.veth, "mtu", m}, []string{"-n", h.ns, "link", "set", "eth0", "mtu", m})
		}
		if f.cc != "" {
			// The route the address made (once eth0 is up), with the congestion control
			// for every connection to another host.
			steps = append(steps, []string{"-n", h.ns, "route", "change", "10.77.0.0/16", "dev", "eth0", "proto", "kernel", "scope", "link", "src", h.ip, "congctl", f.cc})
		}
		for _, s := range steps {
			if err := ip(ctx, s...); err != nil {
				return nil, err
			}
		}
	}
	// Every host is known now: a fair upload has a class for each other.
	for i, h := range f.hosts {
		if up[i] > 0 {
			others := slices.Delete(slices.Clone(ips), i, i+1)
			if err := tcBatch(ctx, h.ns, upload("eth0", up[i], mtu, qdisc, others)); err != nil {
				return nil, err
			}
		}
		if down[i] > 0 {
			if err := run(ctx, tbf(h.veth, down[i])...); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// tcBatch runs tc commands (each without the leading "tc") in one tc
// process inside namespace ns: a fair upload is 3 commands per remote host.
func tcBatch(ctx context.Context, ns string, cmds [][]string) error {
	var b strings.Builder
	for _, c := range cmds {
		b.WriteString(strings.Join(c, " "))
		b.WriteByte('\n')
	}
	return runInput(ctx, b.String(), "ip", "netns", "exec", ns, "tc", "-batch", "-")
}

// burstBytes is the bucket of a shaped link: 20 ms at the rate, as the
// hosts' own limiters hold (client/limit.go), and at least a 64 KB GSO
// segment, or tbf drops it. With 10 ms (before session 11) a link that
// idled between bursts could not make up even the gaps the in-process
// limiter makes up, and T_last was 0.3-0.6 s longer at 10 MB/s
// (docs/BENCHMARKS.md, "Session 11 (netns)").
func burstBytes(bytesPerSec float64) int64 { return max(64<<10, int64(bytesPerSec/50)) }

// upload returns the tc commands (without the leading "tc") that shape
// dev's egress, a host's upload, to bytesPerSec with the qdisc named.
//
// QdiscFair is htb: a root class 1:1 at the link's rate with tbf's bucket
// (burstBytes), under it class 1:2 for what no filter matches (ARP) and
// one class per address in remotes (1:10, 1:11, ... in hex), matched by a
// u32 filter on the packet's destination. Every class is guaranteed an
// equal share of the rate and may borrow up to all of it; htb lends what
// the classes under their share leave, round robin by a quantum of one
// frame. A class's bucket for its own share holds one frame, so the
// classes together add no burst to the link's (32 buckets of 20 ms at
// their shares would let the link run at several times its rate after an
// idle spell: measured, T_last 0.5 s shorter, docs/BENCHMARKS.md "Session
// 12 (fairq)"); its ceil bucket is the link's, so a flow alone on an idle
// link catches up as tbf's bucket lets it. htb charges the root class for
// every byte any class sends, so the link carries at most its rate over
// any span longer than its bucket. Both qdiscs count whole frames: the
// goodput is Goodput(mtu) of the rate either way.
func upload(dev string, bytesPerSec float64, mtu int, qdisc string, remotes []string) [][]string {
	if qdisc == QdiscFIFO {
		return [][]string{tbf(dev, bytesPerSec)[1:]}
	}
	if mtu <= 0 {
		mtu = 1500
	}
	bits := int64(bytesPerSec * 8)
	rate := strconv.FormatInt(bits, 10) + "bit"
	share := strconv.FormatInt(max(8, bits/int64(len(remotes)+1)), 10) + "bit"
	burst := strconv.FormatInt(burstBytes(bytesPerSec), 10)
	frame := strconv.Itoa(mtu + 14)
	// A class's FIFO holds tbf's bucket, at least three 64 KB GSO
	// segments (a smaller one drops whole segments a flow of TCP's small
	// queues may hold).
	leafLimit := strconv.FormatInt(max(burstBytes(bytesPerSec), 3*64<<10), 10)
	class := func(id string) [][]string {
		return [][]string{
			{"class", "add", "dev", dev, "parent", "1:1", "classid", id, "htb", "rate", share, "ceil", rate, "burst", frame, "cburst", burst, "quantum", frame},
			{"qdisc", "add", "dev", dev, "parent", id, "bfifo", "limit", leafLimit},
		}
	}
	cmds := [][]string{
		{"qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "2"},
		{"class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", rate, "ceil", rate, "burst", burst, "cburst", burst, "quantum", frame},
	}
	cmds = append(cmds, class("1:2")...)
	for k, addr := range remotes {
		id := "1:" + strconv.FormatInt(int64(k+16), 16)
		cmds = append(cmds, class(id)...)
		cmds = append(cmds, []string{"filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst", addr + "/32", "flowid", id})
	}
	return cmds
}

// tbf is the tc command shaping dev's egress to bytesPerSec with one FIFO
// of up to 100 ms, its bucket burstBytes: every download, and uploads
// under QdiscFIFO.
func tbf(dev string, bytesPerSec float64) []string {
	return []string{"tc", "qdisc", "add", "dev", dev, "root", "tbf",
		"rate", strconv.FormatInt(int64(bytesPerSec*8), 10) + "bit",
		"burst", strconv.FormatInt(burstBytes(bytesPerSec), 10), "latency", "100ms"}
}

// wrap runs argv inside host i's namespace.
func (f *fabric) wrap(i int, argv []string) []string {
	return append([]string{"ip", "netns", "exec", f.hosts[i].ns}, argv...)
}

// close removes every namespace (their veths go with them) and the bridge.
func (f *fabric) close() {
	ctx := context.Background()
	for _, h := range f.hosts {
		_ = ip(ctx, "netns", "del", h.ns)
	}
	_ = ip(ctx, "link", "del", f.bridge)
}

// ip runs an ip(8) command.
func ip(ctx context.Context, args ...string) error {
	return run(ctx, append([]string{"ip"}, args...)...)
}

// run runs a setup command and returns its output with any error.
func run(ctx context.Context, argv ...string) error { return runInput(ctx, "", argv...) }

// runInput is run with stdin as the command's standard input.
func runInput(ctx context.Context, stdin string, argv ...string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("netns: %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// tcpSegs is what TCP sent in a fabric: segments out and retransmitted,
// and (/proc/net/netstat's TcpExt, where the kernel has them) the tail-loss
// probes sent, the DSACKs received (a DSACK says a retransmission was not
// needed) and the retransmission timeouts, summed over every namespace
// (cumulative since the namespace was made).
type tcpSegs struct{ out, retrans, probes, dsacks, timeouts int64 }

// tcpSegs reads every host's TCP counters.
func (f *fabric) tcpSegs(ctx context.Context) (tcpSegs, error) {
	var sum tcpSegs
	for _, h := range f.hosts {
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", h.ns, "cat", "/proc/net/snmp", "/proc/net/netstat").Output()
		if err != nil {
			return tcpSegs{}, fmt.Errorf("netns: TCP counters of %s: %w", h.ns, err)
		}
		s, err := parseTCPSegs(out)
		if err != nil {
			return tcpSegs{}, fmt.Errorf("netns: TCP counters of %s: %w", h.ns, err)
		}
		sum.out += s.out
		sum.retrans += s.retrans
		sum.probes += s.probes
		sum.dsacks += s.dsacks
		sum.timeouts += s.timeouts
	}
	return sum, nil
}

// parseTCPSegs reads OutSegs and RetransSegs from the text of
// /proc/net/snmp (a "Tcp:" line of names, then one of values), and
// TCPLossProbes, TCPDSACKRecv and TCPTimeouts from the "TcpExt:" lines of
// /proc/net/netstat if the text holds them.
func parseTCPSegs(text []byte) (tcpSegs, error) {
	var s tcpSegs
	if err := counters(text, "Tcp:", map[string]*int64{"OutSegs": &s.out, "RetransSegs": &s.retrans}); err != nil {
		return tcpSegs{}, err
	}
	if err := counters(text, "TcpExt:", map[string]*int64{"TCPLossProbes": &s.probes, "TCPDSACKRecv": &s.dsacks, "TCPTimeouts": &s.timeouts}); err != nil && !errors.Is(err, errNoTable) {
		return tcpSegs{}, err
	}
	return s, nil
}

// errNoTable: the text has no lines of the table asked for.
var errNoTable = errors.New("no such table")

// counters fills want from the first table of a /proc/net/snmp-style text
// whose lines start with prefix: a line of names, then one of values. Every
// name in want must be there.
func counters(text []byte, prefix string, want map[string]*int64) error {
	var names []string
	for line := range strings.Lines(string(text)) {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != prefix {
			continue
		}
		if names == nil {
			names = fields
			continue
		}
		if len(fields) != len(names) {
			return fmt.Errorf("malformed %s lines", prefix)
		}
		found := 0
		for i, name := range names {
			dst, ok := want[name]
			if !ok {
				continue
			}
			v, err := strconv.ParseInt(fields[i], 10, 64)
			if err != nil {
				return fmt.Errorf("%s %s: %w", prefix, name, err)
			}
			*dst = v
			found++
		}
		if found != len(want) {
			return fmt.Errorf("%s lines lack some of the counters wanted", prefix)
		}
		return nil
	}
	if names != nil {
		return fmt.Errorf("%s names without values", prefix)
	}
	return fmt.Errorf("%s: %w", prefix, errNoTable)
}
