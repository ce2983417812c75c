package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// fabric is a network of namespaces, one per host, joined by a bridge in
// the root namespace; every host's upload is shaped by tbf on its own
// interface and its download by tbf on the bridge side of its veth pair.
type fabric struct {
	id     string // short unique tag in every name
	bridge string
	hosts  []netHost
}

// netHost is where one host runs.
type netHost struct {
	ns   string // namespace name
	veth string // bridge-side interface
	ip   string
}

// newFabric creates n namespaces with addresses in 10.77.0.0/16. Host i's
// upload is limited to up[i] and its download to down[i] bytes per second
// (0: unshaped); mtu, if not 0, is every interface's MTU (the bridge takes
// its ports'). On error it removes what it created.
func newFabric(ctx context.Context, n int, up, down []float64, mtu int) (_ *fabric, err error) {
	id := strconv.Itoa(os.Getpid() % 100000)
	f := &fabric{id: id, bridge: "shb" + id}
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
	for i := range n {
		h := netHost{
			ns:   fmt.Sprintf("shoal-%s-%d", id, i),
			veth: fmt.Sprintf("sv%s.%d", id, i),
			ip:   fmt.Sprintf("10.77.%d.%d", (i+2)/250, (i+2)%250+1),
		}
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
		for _, s := range steps {
			if err := ip(ctx, s...); err != nil {
				return nil, err
			}
		}
		if up[i] > 0 {
			if err := run(ctx, append([]string{"ip", "netns", "exec", h.ns}, tbf("eth0", up[i])...)...); err != nil {
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

// tbf is the tc command shaping dev's egress to bytesPerSec. The bucket
// holds 20 ms at the rate, as the hosts' own limiters do (client/limit.go),
// and at least a 64 KB GSO segment, or tbf drops it. With 10 ms (before
// session 11) a link that idled between bursts could not make up even the
// gaps the in-process limiter makes up, and T_last was 0.3-0.6 s longer at
// 10 MB/s (docs/BENCHMARKS.md, "Session 11 (netns)").
func tbf(dev string, bytesPerSec float64) []string {
	burst := max(64<<10, int64(bytesPerSec/50))
	return []string{"tc", "qdisc", "add", "dev", dev, "root", "tbf",
		"rate", strconv.FormatInt(int64(bytesPerSec*8), 10) + "bit",
		"burst", strconv.FormatInt(burst, 10), "latency", "100ms"}
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
func run(ctx context.Context, argv ...string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
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
