package peers

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/internal/scripttest"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// TestScripts runs every testdata/*.txt scenario (see internal/scripttest):
// each block is one or more commands, a "----" line, then the actions the
// manager decided, "(none)" for none. "go test ./peers -rewrite"
// regenerates the expectations.
func TestScripts(t *testing.T) {
	scripttest.Run(t, "testdata/*.txt", func() scripttest.Runner { return newScriptRunner() })
}

// Check verifies the manager's invariants, once there is one.
func (r *scriptRunner) Check() error {
	if r.m == nil {
		return nil
	}
	return r.m.checkInvariants()
}

// scriptRunner holds the state of one scenario. Addresses are named: a
// name maps to 10.0.0.k:6881 (a private network), or to 203.0.113.k:6881
// when it starts with "pub" (a public one, banned by IP); connections are
// named by the script.
type scriptRunner struct {
	m       *Manager
	now     time.Time
	addrs   map[string]netip.AddrPort
	names   map[netip.AddrPort]string
	conns   map[string]ConnID
	connOf  map[ConnID]string
	remotes map[string]netip.AddrPort // incoming connections' remote addresses
	nextID  ConnID
	args    map[string]string
	flags   map[string]bool
}

func newScriptRunner() *scriptRunner {
	return &scriptRunner{now: time.Unix(1_000_000, 0).UTC(), addrs: map[string]netip.AddrPort{},
		names: map[netip.AddrPort]string{}, conns: map[string]ConnID{}, connOf: map[ConnID]string{},
		remotes: map[string]netip.AddrPort{}}
}

// ourID is the manager's peer id in scripts: "peer-A" sorts below it,
// "peer-z" above.
var ourID = peerID("me")

func peerID(name string) [20]byte {
	var id [20]byte
	copy(id[:], fmt.Sprintf("%-20s", "peer-"+name))
	return id
}

func (r *scriptRunner) addr(name string) netip.AddrPort {
	if a, ok := r.addrs[name]; ok {
		return a
	}
	k := byte(len(r.addrs) + 1)
	ip := netip.AddrFrom4([4]byte{10, 0, 0, k})
	if strings.HasPrefix(name, "pub") {
		ip = netip.AddrFrom4([4]byte{203, 0, 113, k})
	}
	a := netip.AddrPortFrom(ip, 6881)
	r.addrs[name], r.names[a] = a, name
	return a
}

func (r *scriptRunner) addrName(a netip.AddrPort) string {
	if n, ok := r.names[a]; ok {
		return n
	}
	return a.String()
}

func (r *scriptRunner) connName(c ConnID) string {
	if n, ok := r.connOf[c]; ok {
		return n
	}
	return "#" + strconv.FormatUint(uint64(c), 10)
}

func (r *scriptRunner) conn(name string) (ConnID, error) {
	c, ok := r.conns[name]
	if !ok {
		return 0, fmt.Errorf("unknown connection %q", name)
	}
	return c, nil
}

// parse splits words into bare words, key=value args and flags.
func (r *scriptRunner) parse(words []string) []string {
	r.args, r.flags = map[string]string{}, map[string]bool{}
	var bare []string
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok {
			r.args[k] = strings.Trim(v, "()")
			continue
		}
		r.flags[w] = true
		bare = append(bare, w)
	}
	return bare
}

func (r *scriptRunner) duration(k string) (time.Duration, error) {
	v, ok := r.args[k]
	if !ok {
		return 0, nil
	}
	return time.ParseDuration(v)
}

func (r *scriptRunner) int(k string) (int, error) {
	v, ok := r.args[k]
	if !ok {
		return 0, nil
	}
	return strconv.Atoi(v)
}

func (r *scriptRunner) names2addrs(list string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, n := range strings.FieldsFunc(list, func(c rune) bool { return c == ',' || c == ' ' }) {
		out = append(out, r.addr(n))
	}
	return out
}

// drain formats and acknowledges the manager's ready batch.
func (r *scriptRunner) drain() []string {
	acts := r.m.Ready()
	if acts == nil {
		return nil
	}
	out := make([]string, 0, len(acts))
	for _, a := range acts {
		if a.Kind == RecordBan {
			a.Keys = r.keyNames(a.Keys)
		}
		out = append(out, a.format(r.addrName, r.connName, r.now))
	}
	r.m.Advance()
	return out
}

// keyNames shows ban keys with script names.
func (r *scriptRunner) keyNames(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		switch {
		case strings.HasPrefix(k, "id:"):
			out[i] = strings.TrimRight(k, " ")
		case strings.HasPrefix(k, "addr:"):
			if a, err := netip.ParseAddrPort(k[5:]); err == nil {
				out[i] = "addr:" + r.addrName(a)
				continue
			}
			out[i] = k
		default:
			out[i] = k
		}
	}
	return out
}

// Run runs one command line.
func (r *scriptRunner) Run(line string) ([]string, error) {
	words := strings.Fields(line)
	if len(words) == 0 {
		return nil, nil
	}
	cmd, rest := words[0], words[1:]
	if cmd != "new" && r.m == nil {
		return nil, errors.New("no manager: start with new")
	}
	bare := r.parse(rest)
	now := r.now
	switch cmd {
	case "new":
		cfg := Config{PeerID: ourID, DHT: r.flags["dht"], PEX: r.flags["pex"], Metadata: r.flags["metadata"],
			Complete: r.flags["complete"], Seed: 1, Zone: r.args["zone"]}
		var err error
		for k, dst := range map[string]*int{"trackers": &cfg.Trackers, "max-peers": &cfg.MaxPeers,
			"max-half-open": &cfg.MaxHalfOpen, "max-candidates": &cfg.MaxCandidates, "max-far": &cfg.MaxFar} {
			if *dst, err = r.int(k); err != nil {
				return nil, err
			}
		}
		if cfg.EvictIdle, err = r.duration("evict-idle"); err != nil {
			return nil, err
		}
		if cfg.PEXInterval, err = r.duration("pex-interval"); err != nil {
			return nil, err
		}
		if s, ok := r.args["seed"]; ok {
			if cfg.Seed, err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, err
			}
		}
		fresh := newScriptRunner()
		fresh.now = r.now
		*r = *fresh
		r.m, err = New(now, cfg)
		if err != nil {
			return nil, err
		}
	case "add":
		if len(bare) < 1 {
			return nil, errors.New("add user|tracker|dht NAME...")
		}
		src := map[string]Source{"user": FromUser, "tracker": FromTracker, "dht": FromDHT}
		s, ok := src[bare[0]]
		if !ok {
			return nil, fmt.Errorf("unknown source %q", bare[0])
		}
		r.m.AddCandidates(now, s, r.names2addrs(strings.Join(bare[1:], " ")))
	case "many":
		// many SOURCE PREFIX N: N addresses named PREFIX0..PREFIXn-1.
		n, err := strconv.Atoi(bare[2])
		if err != nil {
			return nil, err
		}
		var list []netip.AddrPort
		for i := 0; i < n; i++ {
			list = append(list, r.manyAddr(bare[1], i))
		}
		if bare[0] == "pex" {
			c, err := r.conn(bare[3])
			if err != nil {
				return nil, err
			}
			msg := wire.PEXMessage{}
			for _, a := range list {
				msg.Added = append(msg.Added, wire.PEXPeer{Addr: a})
			}
			r.m.PEXReceived(now, c, msg)
			break
		}
		r.m.AddCandidates(now, map[string]Source{"user": FromUser, "tracker": FromTracker, "dht": FromDHT}[bare[0]], list)
	case "fail":
		r.m.DialFailed(now, r.addr(bare[0]))
	case "connect":
		return r.cmdConnect(bare)
	case "ext":
		c, err := r.conn(bare[0])
		if err != nil {
			return nil, err
		}
		port, err := r.int("port")
		if err != nil {
			return nil, err
		}
		r.m.Extended(now, c, ExtendedInfo{ListenPort: port, PEX: r.flags["pex"], Metadata: r.flags["metadata"],
			Zone: r.args["zone"]})
	case "close":
		c, err := r.conn(bare[0])
		if err != nil {
			return nil, err
		}
		r.m.Closed(now, c)
	case "ban":
		c, err := r.conn(bare[0])
		if err != nil {
			return nil, err
		}
		d, err := r.duration("for")
		if err != nil {
			return nil, err
		}
		var until time.Time
		if d > 0 {
			until = now.Add(d)
		}
		reason := r.args["reason"]
		if reason == "" {
			reason = "bad piece"
		}
		r.m.Ban(now, c, reason, until)
	case "ban-keys":
		var keys []string
		for _, n := range bare {
			keys = append(keys, AddrKeys(r.addr(n))...)
		}
		r.m.BanKeys(now, keys, time.Time{}, "banned by another torrent")
	case "facts":
		c, err := r.conn(bare[0])
		if err != nil {
			return nil, err
		}
		moved, err := r.int("moved")
		if err != nil {
			return nil, err
		}
		r.m.Facts(now, []swarm.PeerFact{{Conn: c, Moved: int64(moved), Pending: r.flags["pending"],
			Interesting: r.flags["interesting"], Interested: r.flags["interested"], UnchokedUs: r.flags["unchoked-us"],
			Seed: r.flags["seed"]}})
	case "pex":
		c, err := r.conn(bare[0])
		if err != nil {
			return nil, err
		}
		var msg wire.PEXMessage
		for _, a := range r.names2addrs(strings.Join(bare[1:], " ")) {
			msg.Added = append(msg.Added, wire.PEXPeer{Addr: a})
		}
		r.m.PEXReceived(now, c, msg)
	case "announced":
		i, err := strconv.Atoi(bare[0])
		if err != nil {
			return nil, err
		}
		var res AnnounceResult
		if r.flags["err"] {
			res.Err = errors.New("connection refused")
		}
		if res.Interval, err = r.duration("interval"); err != nil {
			return nil, err
		}
		if res.MinInterval, err = r.duration("min"); err != nil {
			return nil, err
		}
		res.Peers = r.names2addrs(r.args["peers"])
		r.m.AnnounceDone(now, i, res)
	case "lookup-done", "dht-announced":
		res := LookupResult{NoNodes: r.flags["no-nodes"]}
		if r.flags["err"] {
			res.Err = errors.New("timeout")
		}
		if cmd == "lookup-done" {
			r.m.LookupDone(now, res)
		} else {
			r.m.DHTAnnounced(now, res)
		}
	case "metadata-failed":
		c, err := r.conn(bare[0])
		if err != nil {
			return nil, err
		}
		r.m.MetadataFailed(now, c, "metadata did not verify")
	case "metadata-done":
		r.m.MetadataDone(now, r.flags["private"], r.flags["complete"])
	case "completed":
		r.m.Completed(now)
	case "stop":
		r.m.Stop(now)
	case "tick", "advance":
		d := time.Second
		if len(bare) > 0 {
			var err error
			if d, err = time.ParseDuration(bare[0]); err != nil {
				return nil, err
			}
		}
		r.now = r.now.Add(d)
		if cmd == "tick" {
			r.m.Tick(r.now)
		}
	case "stats":
		st := r.m.Stats()
		line := fmt.Sprintf("candidates=%d pex=%d conns=%d half-open=%d bans=%d starved=%v",
			st.Candidates, st.PEXCandidates, st.Conns, st.HalfOpen, st.Bans, r.m.Starved())
		if r.m.cfg.Zone != "" {
			line += fmt.Sprintf(" far=%d", st.Far)
		}
		return []string{line}, nil
	case "wake":
		w := r.m.Wake()
		if w.IsZero() {
			return []string{"wake: none"}, nil
		}
		return []string{"wake in " + w.Sub(r.now).String()}, nil
	case "candidates":
		// candidates: every address with its state, sorted by name.
		var out []string
		states := []string{"idle", "dialing", "connected"}
		for _, cd := range r.m.candList {
			next := "due"
			if cd.nextTry.After(r.now) {
				next = cd.nextTry.Sub(r.now).String()
			}
			out = append(out, fmt.Sprintf("%s %s failures=%d next=%s good=%v self=%v pex-only=%v",
				r.addrName(cd.addr), states[cd.state], cd.failures, next, cd.good, cd.self, cd.pexOnly()))
		}
		sort.Strings(out)
		return out, nil
	default:
		return nil, fmt.Errorf("unknown command %q", cmd)
	}
	return r.drain(), nil
}

// manyAddr names the i-th address of a "many" list.
func (r *scriptRunner) manyAddr(prefix string, i int) netip.AddrPort {
	name := prefix + strconv.Itoa(i)
	if a, ok := r.addrs[name]; ok {
		return a
	}
	a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(len(r.addrs) >> 8), byte(len(r.addrs))}), 7000)
	r.addrs[name], r.names[a] = a, name
	return a
}

// cmdConnect: connect CONN NAME [in] [id=NAME|self] [ext]. Without "in" we
// dialled NAME; with it NAME's host dialled us from an ephemeral port.
func (r *scriptRunner) cmdConnect(bare []string) ([]string, error) {
	if len(bare) < 2 {
		return nil, errors.New("connect CONN NAME [in] [id=...] [ext]")
	}
	cname, name := bare[0], bare[1]
	if _, dup := r.conns[cname]; dup {
		return nil, fmt.Errorf("connection %s exists", cname)
	}
	r.nextID++
	id := r.nextID
	r.conns[cname], r.connOf[id] = id, cname
	a := r.addr(name)
	h := Handshake{Conn: id, Remote: a, Wire: wire.Handshake{PeerID: peerID(name)}}
	if r.flags["in"] {
		h.Remote = netip.AddrPortFrom(a.Addr(), 40000+uint16(id))
	} else {
		h.Dialed = a
	}
	switch who := r.args["id"]; who {
	case "":
	case "self":
		h.Wire.PeerID = ourID
	default:
		h.Wire.PeerID = peerID(who)
	}
	if r.flags["ext"] {
		h.Wire.Reserved = wire.DefaultReserved()
	}
	r.m.Connected(r.now, h)
	return r.drain(), nil
}
