package swarm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/internal/scripttest"
	"github.com/shoal-p2p/shoal/wire"
)

// TestScripts runs every testdata/*.txt scenario (see internal/scripttest):
// a scenario is a sequence of blocks: one or more command lines, a "----"
// line, then the expected actions (one per line, "(none)" for no action) up
// to a blank line. Lines starting with '#' between blocks are comments.
// "go test ./swarm -rewrite" regenerates the expectations.
func TestScripts(t *testing.T) {
	scripttest.Run(t, "testdata/*.txt", func() scripttest.Runner {
		return &scriptRunner{now: time.Unix(1_000_000, 0).UTC(), ids: map[string]ConnID{}}
	})
}

// Run runs one command line.
func (r *scriptRunner) Run(line string) ([]string, error) { return r.run(line) }

// Check verifies the core's invariants, once there is one.
func (r *scriptRunner) Check() error {
	if r.s == nil {
		return nil
	}
	return r.s.checkInvariants()
}

// scriptRunner holds the state of one scenario.
type scriptRunner struct {
	s       *Swarm
	now     time.Time
	ids     map[string]ConnID
	names   []string
	writes  []BlockSpec            // WriteBlock actions not yet reported written
	uploads map[ConnID][]BlockSpec // SendBlock actions not yet reported sent
	fields  map[string]string      // args of the current command
}

func (r *scriptRunner) name(c ConnID) string {
	if int(c) >= 1 && int(c) <= len(r.names) {
		return r.names[c-1]
	}
	return "#" + strconv.FormatUint(uint64(c), 10)
}

func (r *scriptRunner) conn(name string) (ConnID, error) {
	c, ok := r.ids[name]
	if !ok {
		return 0, fmt.Errorf("unknown peer %q", name)
	}
	return c, nil
}

// drain formats the pending batch, remembers writes and uploads, and
// acknowledges it (Ready/Advance, as a runtime does).
func (r *scriptRunner) drain() []string {
	var out []string
	acts := r.s.Ready()
	defer func() {
		if acts != nil {
			r.s.Advance()
		}
	}()
	for _, a := range acts {
		switch a.Kind {
		case WriteBlock:
			if a.Data != payloadOf(a.Block) {
				out = append(out, fmt.Sprintf("CONTRACT: write-block %s carries payload %v", a.Block, a.Data))
			}
			r.writes = append(r.writes, a.Block)
		case SendBlock:
			r.uploads[a.Conn] = append(r.uploads[a.Conn], a.Block)
		case DropBlock:
			u := r.uploads[a.Conn]
			for k, b := range u {
				if b == a.Block {
					r.uploads[a.Conn] = append(u[:k], u[k+1:]...)
					break
				}
			}
		}
		out = append(out, a.format(r.name))
	}
	return out
}

// kv splits "key=value" words into r.fields and returns the bare words.
func (r *scriptRunner) kv(words []string) []string {
	r.fields = map[string]string{}
	var bare []string
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok {
			r.fields[k] = v
		} else {
			bare = append(bare, w)
		}
	}
	return bare
}

func (r *scriptRunner) intField(k string, def int) (int, error) {
	v, ok := r.fields[k]
	if !ok {
		return def, nil
	}
	return strconv.Atoi(v)
}

func (r *scriptRunner) run(line string) ([]string, error) {
	words := strings.Fields(line)
	cmd, args := words[0], words[1:]
	if cmd != "new" && r.s == nil {
		return nil, errors.New("no swarm: start with new")
	}
	switch cmd {
	case "new":
		return nil, r.cmdNew(args)
	case "add-peer":
		return r.cmdAddPeer(args)
	case "remove-peer":
		c, err := r.conn(args[0])
		if err != nil {
			return nil, err
		}
		r.s.RemovePeer(r.now, c)
	case "recv":
		c, err := r.conn(args[0])
		if err != nil {
			return nil, err
		}
		if len(args) == 3 && args[1] == "haves" {
			// recv A haves 0-9: one Have per piece of the ranges, in order.
			bools, err := parseBools(args[2], r.s.cfg.NumPieces)
			if err != nil {
				return nil, err
			}
			for i, b := range bools {
				if b {
					r.receive(c, wire.Message{Type: wire.Have, Index: uint32(i)})
				}
			}
			break
		}
		m, err := r.parseMessage(args[1:])
		if err != nil {
			return nil, err
		}
		r.receive(c, m)
	case "written":
		if err := r.cmdWritten(args); err != nil {
			return nil, err
		}
	case "verify":
		p, err := strconv.Atoi(args[0])
		if err != nil || len(args) < 2 || len(args) > 3 {
			return nil, fmt.Errorf("verify PIECE ok|fail [digests=LABEL,...]")
		}
		if len(args) == 2 {
			r.s.PieceVerified(r.now, p, args[1] == "ok")
			break
		}
		labels, found := strings.CutPrefix(args[2], "digests=")
		if !found {
			return nil, fmt.Errorf("verify PIECE ok|fail [digests=LABEL,...]")
		}
		// Each label stands for the digest of one block's bytes: equal
		// labels, equal bytes.
		var digests []BlockDigest
		for _, l := range strings.Split(labels, ",") {
			var d BlockDigest
			copy(d[:], l)
			digests = append(digests, d)
		}
		r.s.PieceVerifiedBlocks(r.now, p, args[1] == "ok", digests)
	case "checked":
		p, err := strconv.Atoi(args[0])
		if err != nil || len(args) != 2 {
			return nil, fmt.Errorf("checked PIECE ok|fail")
		}
		r.s.PieceChecked(r.now, p, args[1] == "ok")
	case "sent":
		if err := r.cmdSent(args); err != nil {
			return nil, err
		}
	case "tick", "advance":
		d := time.Second
		if len(args) > 0 {
			var err error
			if d, err = time.ParseDuration(args[0]); err != nil {
				return nil, err
			}
		}
		r.now = r.now.Add(d)
		if cmd == "tick" {
			r.s.Tick(r.now)
		}
	case "stats":
		st := r.s.Stats()
		return []string{fmt.Sprintf("peers=%d unchoked=%d unchoked-us=%d interested=%d interesting=%d requests=%d queued=%d have=%d/%d active=%d endgame=%v initial-seeding=%v hash-fails=%d",
			st.Peers, st.Unchoked, st.UnchokedUs, st.Interested, st.Interesting, st.Requests, st.QueuedUploads,
			st.Have, st.Pieces, st.Active, st.Endgame, st.InitialSeeding, st.HashFails)}, nil
	case "deliver":
		// deliver A [n]: A answers its n (default all) oldest requests.
		c, err := r.conn(args[0])
		if err != nil {
			return nil, err
		}
		p := r.s.byID.get(c)
		n := len(p.reqs)
		if len(args) > 1 {
			if n, err = strconv.Atoi(args[1]); err != nil {
				return nil, err
			}
		}
		var specs []BlockSpec
		for _, q := range p.reqs[:min(n, len(p.reqs))] {
			specs = append(specs, q.spec)
		}
		var out []string
		for _, b := range specs {
			r.s.ReceiveBlock(r.now, c, b, payloadOf(b))
			out = append(out, r.drain()...)
		}
		return out, nil
	case "stream":
		return r.cmdStream(args)
	case "pipeline":
		c, err := r.conn(args[0])
		if err != nil {
			return nil, err
		}
		p := r.s.byID.get(c)
		return []string{fmt.Sprintf("%s: target=%d outstanding=%d rate=%.0fKiB/s rtt=%v floor=%d",
			args[0], r.s.target(p), len(p.reqs), p.downRate/1024, p.pipe.rtt, p.pipe.floor)}, nil
	case "rate":
		// rate A BYTES: A's measured download rate becomes BYTES a second,
		// as its samples (sampleRates) would have made it.
		if len(args) != 2 {
			return nil, errors.New("rate PEER BYTES")
		}
		c, err := r.conn(args[0])
		if err != nil {
			return nil, err
		}
		v, err := strconv.ParseFloat(args[1], 64)
		if err != nil {
			return nil, err
		}
		p := r.s.byID.get(c)
		p.downRate, p.rateKnown = v, true
	case "distances":
		// distances: each peer's distance, and the pieces ours to fetch
		// from far peers.
		var out []string
		for _, p := range r.s.peers {
			out = append(out, fmt.Sprintf("%s: %s", r.name(p.id), [...]string{"unknown", "near", "far"}[p.dist]))
		}
		if l := r.s.loc; l != nil {
			var mine []string
			for i := 0; i < r.s.cfg.NumPieces; i++ {
				if l.mine.get(i) {
					mine = append(mine, strconv.Itoa(i))
				}
			}
			out = append(out, "mine: "+strings.Join(mine, ","))
		}
		return out, nil
	case "requests":
		c, err := r.conn(args[0])
		if err != nil {
			return nil, err
		}
		var specs []string
		for _, q := range r.s.byID.get(c).reqs {
			specs = append(specs, q.spec.String())
		}
		return []string{args[0] + ": " + strings.Join(specs, " ")}, nil
	default:
		return nil, fmt.Errorf("unknown command %q", cmd)
	}
	return r.drain(), nil
}

// receive steps the core with a message: a Piece goes through
// ReceiveBlock with a payload naming the block, which drain checks comes
// back in the block's WriteBlock.
func (r *scriptRunner) receive(c ConnID, m wire.Message) {
	if m.Type == wire.Piece {
		spec := BlockSpec{m.Index, m.Begin, m.Length}
		r.s.ReceiveBlock(r.now, c, spec, payloadOf(spec))
		return
	}
	r.s.Receive(r.now, c, m)
}

// payloadOf is the payload the scripts hand in with a block.
func payloadOf(b BlockSpec) Payload { return "payload of " + b.String() }

// cmdStream runs "stream A N EVERY": A answers its oldest outstanding
// request N times ("all": as many times as requests are outstanding now),
// EVERY apart (the first at once), as a peer that keeps sending does; it
// prints how many blocks arrived and how many requests
// went out instead of every action.
func (r *scriptRunner) cmdStream(args []string) ([]string, error) {
	if len(args) != 3 {
		return nil, errors.New("stream PEER N EVERY")
	}
	c, err := r.conn(args[0])
	if err != nil {
		return nil, err
	}
	p := r.s.byID.get(c)
	n := 0
	if args[1] == "all" && p != nil {
		n = len(p.reqs)
	} else if n, err = strconv.Atoi(args[1]); err != nil {
		return nil, err
	}
	every, err := time.ParseDuration(args[2])
	if err != nil {
		return nil, err
	}
	answered, requested := 0, 0
	for i := 0; i < n; i++ {
		if i > 0 {
			r.now = r.now.Add(every)
		}
		p = r.s.byID.get(c)
		if p == nil || len(p.reqs) == 0 {
			break
		}
		b := p.reqs[0].spec
		r.s.ReceiveBlock(r.now, c, b, payloadOf(b))
		answered++
		for _, a := range r.s.Actions() {
			switch {
			case a.Kind == WriteBlock:
				r.writes = append(r.writes, a.Block)
			case a.Kind == Send && a.Msg.Type == wire.Request:
				requested++
			default:
				return nil, fmt.Errorf("stream: unexpected action %s", a.format(r.name))
			}
		}
	}
	return []string{fmt.Sprintf("%s: answered %d, requested %d", args[0], answered, requested)}, nil
}

func (r *scriptRunner) cmdNew(args []string) error {
	bare := r.kv(args)
	pieces, err := r.intField("pieces", 4)
	if err != nil {
		return err
	}
	plen, err := r.intField("piece-length", 32768)
	if err != nil {
		return err
	}
	total, err := r.intField("total", pieces*plen)
	if err != nil {
		return err
	}
	cfg := Config{NumPieces: pieces, PieceLength: int64(plen), TotalLength: int64(total), Fast: r.fields["fast"] != "false"}
	if cfg.Have, err = parseBools(r.fields["have"], pieces); err != nil {
		return err
	}
	seed, err := r.intField("seed", 1)
	if err != nil {
		return err
	}
	cfg.Seed = int64(seed)
	for k, dst := range map[string]*int{"slots": &cfg.UploadSlots, "active": &cfg.ActiveUploads, "max-requests": &cfg.MaxRequestsPerPeer,
		"max-queued": &cfg.MaxQueuedUploads, "random-first": &cfg.RandomFirstPieces} {
		if *dst, err = r.intField(k, 0); err != nil {
			return err
		}
	}
	if v, ok := r.fields["timeout"]; ok {
		if cfg.RequestTimeout, err = time.ParseDuration(v); err != nil {
			return err
		}
	}
	cfg.Zone = r.fields["zone"]
	copy(cfg.PeerID[:], r.fields["id"])
	if r.fields["choker"] == "public" {
		cfg.Choker = Public
	}
	for _, b := range bare {
		if b == "initial-seeding" {
			cfg.InitialSeeding = true
		}
	}
	r.s, err = New(cfg)
	r.uploads, r.ids, r.names, r.writes = map[ConnID][]BlockSpec{}, map[string]ConnID{}, nil, nil
	return err
}

func (r *scriptRunner) cmdAddPeer(args []string) ([]string, error) {
	name := args[0]
	bare := r.kv(args[1:])
	if _, dup := r.ids[name]; dup {
		return nil, fmt.Errorf("peer %s exists", name)
	}
	r.names = append(r.names, name)
	c := ConnID(len(r.names))
	r.ids[name] = c
	var info PeerInfo
	copy(info.ID[:], r.fields["id"])
	for _, b := range bare {
		info.Fast = info.Fast || b == "fast"
		info.Extended = info.Extended || b == "ext"
	}
	r.s.AddPeer(r.now, c, info)
	if h, ok := r.fields["have"]; ok {
		if h == "all" && info.Fast {
			r.s.Receive(r.now, c, wire.Message{Type: wire.HaveAll})
		} else if h != "none" {
			bools, err := parseBools(h, r.s.cfg.NumPieces)
			if err != nil {
				return nil, err
			}
			r.s.Receive(r.now, c, wire.Message{Type: wire.Bitfield, Bitfield: boolsToBitfield(bools, r.s.cfg.NumPieces)})
		}
	}
	return r.drain(), nil
}

func (r *scriptRunner) cmdWritten(args []string) error {
	if len(args) == 1 && args[0] == "all" {
		w := r.writes
		r.writes = nil
		for _, b := range w {
			r.s.BlockWritten(r.now, b, nil)
		}
		return nil
	}
	b, err := r.parseSpec(args[0])
	if err != nil {
		return err
	}
	for k, x := range r.writes {
		if x == b {
			r.writes = append(r.writes[:k], r.writes[k+1:]...)
			break
		}
	}
	var werr error
	if len(args) > 1 && args[1] == "fail" {
		werr = errors.New("disk full")
	}
	r.s.BlockWritten(r.now, b, werr)
	return nil
}

func (r *scriptRunner) cmdSent(args []string) error {
	c, err := r.conn(args[0])
	if err != nil {
		return err
	}
	if len(args) == 2 && args[1] == "all" {
		u := r.uploads[c]
		r.uploads[c] = nil
		for _, b := range u {
			r.s.BlockSent(r.now, c, b)
		}
		return nil
	}
	b, err := r.parseSpec(args[1])
	if err != nil {
		return err
	}
	r.s.BlockSent(r.now, c, b)
	return nil
}

// parseSpec reads "piece:begin+length" or "piece:begin" (natural length).
func (r *scriptRunner) parseSpec(s string) (BlockSpec, error) {
	ps, rest, ok := strings.Cut(s, ":")
	if !ok {
		return BlockSpec{}, fmt.Errorf("bad block %q", s)
	}
	bs, ls, hasLen := strings.Cut(rest, "+")
	p, err1 := strconv.ParseUint(ps, 10, 32)
	b, err2 := strconv.ParseUint(bs, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return BlockSpec{}, fmt.Errorf("bad block %q: %w", s, err)
	}
	if !hasLen {
		return r.s.blockSpec(int(p), int(b)/wire.BlockSize), nil
	}
	l, err := strconv.ParseUint(ls, 10, 32)
	if err != nil {
		return BlockSpec{}, fmt.Errorf("bad block %q: %w", s, err)
	}
	return BlockSpec{uint32(p), uint32(b), uint32(l)}, nil
}

func (r *scriptRunner) parseMessage(args []string) (wire.Message, error) {
	if len(args) == 0 {
		return wire.Message{}, errors.New("missing message")
	}
	simple := map[string]wire.MessageType{"choke": wire.Choke, "unchoke": wire.Unchoke, "interested": wire.Interested,
		"not-interested": wire.NotInterested, "have-all": wire.HaveAll, "have-none": wire.HaveNone}
	if t, ok := simple[args[0]]; ok {
		return wire.Message{Type: t}, nil
	}
	indexed := map[string]wire.MessageType{"have": wire.Have, "allowed-fast": wire.AllowedFast, "suggest": wire.Suggest}
	if t, ok := indexed[args[0]]; ok && len(args) == 2 {
		n, err := strconv.ParseUint(args[1], 10, 32)
		return wire.Message{Type: t, Index: uint32(n)}, err
	}
	blocky := map[string]wire.MessageType{"request": wire.Request, "cancel": wire.Cancel, "reject": wire.Reject, "piece": wire.Piece}
	if t, ok := blocky[args[0]]; ok && len(args) == 2 {
		b, err := r.parseSpec(args[1])
		return wire.Message{Type: t, Index: b.Piece, Begin: b.Begin, Length: b.Length}, err
	}
	switch args[0] {
	case "keep-alive":
		return wire.Message{KeepAlive: true}, nil
	case "bitfield":
		bools, err := parseBools(strings.Join(args[1:], ""), r.s.cfg.NumPieces)
		return wire.Message{Type: wire.Bitfield, Bitfield: boolsToBitfield(bools, r.s.cfg.NumPieces)}, err
	case "bitfield-hex":
		bf, err := hex.DecodeString(args[1])
		return wire.Message{Type: wire.Bitfield, Bitfield: bf}, err
	case "ext-handshake":
		r.kv(args[1:])
		if z, ok := r.fields["zone"]; ok {
			reqq, err := r.intField("reqq", 0)
			if err != nil {
				return wire.Message{}, err
			}
			b, err := wire.ExtendedHandshake{M: map[string]int{"ut_pex": 1}, Reqq: reqq, Zone: z}.Marshal()
			return wire.Message{Type: wire.Extended, ExtendedID: 0, ExtendedPayload: b}, err
		}
		return wire.Message{Type: wire.Extended, ExtendedID: 0,
			ExtendedPayload: []byte("d1:md6:ut_pexi1ee4:reqqi" + r.fields["reqq"] + "ee")}, nil
	case "extended":
		n, err := strconv.ParseUint(args[1], 10, 8)
		return wire.Message{Type: wire.Extended, ExtendedID: uint8(n), ExtendedPayload: []byte("de")}, err
	}
	return wire.Message{}, fmt.Errorf("unknown message %q", strings.Join(args, " "))
}

// parseBools reads "none", "all" or ranges like "0-3,7" into n bools; "" is
// nil (no pieces).
func parseBools(s string, n int) ([]bool, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	out := make([]bool, n)
	if s == "all" {
		for i := range out {
			out[i] = true
		}
		return out, nil
	}
	var idx []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, err
			}
		}
		for i := a; i <= b; i++ {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	for _, i := range idx {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("piece %d out of range", i)
		}
		out[i] = true
	}
	return out, nil
}

func boolsToBitfield(b []bool, n int) []byte {
	bf := make([]byte, (n+7)/8)
	for i, v := range b {
		if v {
			bf[i/8] |= 0x80 >> (i % 8)
		}
	}
	return bf
}
