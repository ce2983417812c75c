package swarm

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math/rand"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// The in-test simulator connects several Swarm instances with instant,
// ordered links and performs their actions against in-memory "disks" that
// only remember whether each block's data is good. Events are interleaved by
// a seeded random choice of link, so a failing seed replays exactly.

// simItem is one message or block in flight on a link.
type simItem struct {
	msg   wire.Message
	block bool
	spec  BlockSpec
	good  bool
}

// simLink is the ordered byte stream from one node to another.
type simLink struct {
	from, to int
	q        []simItem
	queued   bool // in the active list
	closed   bool
}

type simNode struct {
	s       *Swarm
	corrupt bool // sends bad data for every block it serves
	disk    [][]int8
	done    bool
	banned  int // times other nodes banned it
}

type simConfig struct {
	seed           int64
	leechers       int
	corrupt        bool
	pieces         int
	pieceLen       int64
	choker         ChokerMode
	initialSeeding bool
	mixedFast      bool
	checkEvery     int
	maxSteps       int
	record         bool // hash every action (determinism test)
}

type sim struct {
	t       testing.TB
	cfg     simConfig
	rng     *rand.Rand
	now     time.Time
	nodes   []*simNode
	links   map[[2]int]*simLink
	active  []*simLink
	events  int
	hash    hash.Hash64 // of every action, for determinism checks
	sentBy0 []int64     // bytes of each piece sent by the origin
	outOnce int         // pieces the origin sent fully at least once
	shown0  []bool      // pieces the origin revealed (a Have) to anyone
	shown   int         // how many of them
}

func newSim(t testing.TB, cfg simConfig) *sim {
	sm := &sim{t: t, cfg: cfg, rng: rand.New(rand.NewSource(cfg.seed)), now: time.Unix(0, 0).UTC(),
		links: map[[2]int]*simLink{}, sentBy0: make([]int64, cfg.pieces), shown0: make([]bool, cfg.pieces)}
	sm.hash = fnv.New64a()
	n := 1 + cfg.leechers
	if cfg.corrupt {
		n++
	}
	total := int64(cfg.pieces-1)*cfg.pieceLen + cfg.pieceLen/2 + 1 // short last piece
	fast := make([]bool, n)
	for i := 0; i < n; i++ {
		c := Config{NumPieces: cfg.pieces, PieceLength: cfg.pieceLen, TotalLength: total, Seed: cfg.seed*1000 + int64(i),
			Choker: cfg.choker, Fast: !cfg.mixedFast || sm.rng.Intn(2) == 0}
		fast[i] = c.Fast
		node := &simNode{disk: make([][]int8, cfg.pieces)}
		if i == 0 {
			c.Have = make([]bool, cfg.pieces)
			for k := range c.Have {
				c.Have[k] = true
			}
			c.InitialSeeding = cfg.initialSeeding
		}
		for k := range node.disk {
			node.disk[k] = make([]int8, (cfg.pieceLen+wire.BlockSize-1)/wire.BlockSize)
		}
		node.corrupt = cfg.corrupt && i == n-1
		s, err := New(c)
		if err != nil {
			t.Fatalf("seed %d: %v", cfg.seed, err)
		}
		node.s = s
		sm.nodes = append(sm.nodes, node)
	}
	// Connect every pair, in random order, over fast-capable links.
	pairs := [][2]int{}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			pairs = append(pairs, [2]int{i, j})
		}
	}
	sm.rng.Shuffle(len(pairs), func(a, b int) { pairs[a], pairs[b] = pairs[b], pairs[a] })
	for _, pr := range pairs {
		i, j := pr[0], pr[1]
		sm.links[[2]int{i, j}] = &simLink{from: i, to: j}
		sm.links[[2]int{j, i}] = &simLink{from: j, to: i}
		sm.events += 2
		sm.nodes[i].s.AddPeer(sm.now, ConnID(j+1), PeerInfo{Fast: fast[j], Extended: true})
		sm.process(i)
		sm.nodes[j].s.AddPeer(sm.now, ConnID(i+1), PeerInfo{Fast: fast[i], Extended: true})
		sm.process(j)
	}
	return sm
}

// enqueue appends an item to the link from -> to.
func (sm *sim) enqueue(from, to int, it simItem) {
	l := sm.links[[2]int{from, to}]
	if l == nil || l.closed {
		return
	}
	l.q = append(l.q, it)
	if !l.queued {
		l.queued = true
		sm.active = append(sm.active, l)
	}
}

// cut closes both directions between a and b and tells b's core (a's core
// already forgot b when it emitted Disconnect or Ban).
func (sm *sim) cut(a, b int) {
	for _, k := range [][2]int{{a, b}, {b, a}} {
		if l := sm.links[k]; l != nil {
			l.closed, l.q = true, nil
		}
	}
	sm.events++
	sm.nodes[b].s.RemovePeer(sm.now, ConnID(a+1))
	sm.process(b)
}

// process performs node i's pending actions until there are none.
func (sm *sim) process(i int) {
	node := sm.nodes[i]
	for {
		acts := node.s.Actions()
		if len(acts) == 0 {
			return
		}
		for _, a := range acts {
			if sm.cfg.record {
				fmt.Fprintf(sm.hash, "%d %s\n", i, a)
			}
			peerIdx := int(a.Conn) - 1
			switch a.Kind {
			case Send:
				if i == 0 && a.Msg.Type == wire.Have && int(a.Msg.Index) < len(sm.shown0) && !sm.shown0[a.Msg.Index] {
					sm.shown0[a.Msg.Index] = true
					sm.shown++
				}
				sm.enqueue(i, peerIdx, simItem{msg: a.Msg})
			case SendBlock:
				if !node.s.Have(int(a.Block.Piece)) {
					sm.t.Fatalf("seed %d: node %d serves unverified piece %d", sm.cfg.seed, i, a.Block.Piece)
				}
				sm.enqueue(i, peerIdx, simItem{block: true, spec: a.Block, good: !node.corrupt})
			case DropBlock:
				if l := sm.links[[2]int{i, peerIdx}]; l != nil {
					for k, it := range l.q {
						if it.block && it.spec == a.Block {
							l.q = append(l.q[:k], l.q[k+1:]...)
							break
						}
					}
				}
			case WriteBlock:
				v := int8(1)
				if good, ok := a.Data.(bool); !ok || !good {
					v = 2 // the payload says the sender corrupted it
				}
				node.disk[a.Block.Piece][a.Block.Begin/wire.BlockSize] = v
				sm.events++
				node.s.BlockWritten(sm.now, a.Block, nil)
			case VerifyPiece:
				ok := true
				for b := 0; b < node.s.numBlocks(a.Piece); b++ {
					ok = ok && node.disk[a.Piece][b] == 1
				}
				sm.events++
				node.s.PieceVerified(sm.now, a.Piece, ok)
			case Disconnect, Ban:
				if !sm.nodes[peerIdx].corrupt {
					sm.t.Fatalf("seed %d: node %d dropped honest node %d: %s", sm.cfg.seed, i, peerIdx, a)
				}
				if a.Kind == Ban {
					sm.nodes[peerIdx].banned++
				}
				if l := sm.links[[2]int{i, peerIdx}]; l != nil && !l.closed {
					sm.cut(i, peerIdx)
				}
			case Completed:
				node.done = true
			}
		}
	}
}

// step delivers the head of one random non-empty link; it returns false
// when nothing is in flight.
func (sm *sim) step() bool {
	for len(sm.active) > 0 {
		k := sm.rng.Intn(len(sm.active))
		l := sm.active[k]
		if len(l.q) == 0 || l.closed {
			l.queued = false
			sm.active[k] = sm.active[len(sm.active)-1]
			sm.active = sm.active[:len(sm.active)-1]
			continue
		}
		it := l.q[0]
		l.q = l.q[1:]
		from, to := sm.nodes[l.from], sm.nodes[l.to]
		if it.block {
			if l.from == 0 {
				sm.originSent(it.spec)
			}
			sm.events++
			from.s.BlockSent(sm.now, ConnID(l.to+1), it.spec)
			sm.process(l.from)
			sm.events++
			to.s.ReceiveBlock(sm.now, ConnID(l.from+1), it.spec, it.good)
		} else {
			sm.events++
			to.s.Receive(sm.now, ConnID(l.from+1), it.msg)
		}
		sm.process(l.to)
		return true
	}
	return false
}

// originSent checks initial seeding: no piece leaves the origin a second
// time before every piece left once, unless every piece was at least
// revealed (a piece on its way out to a slow peer may then be revealed to
// another, see rescue in seed.go).
func (sm *sim) originSent(spec BlockSpec) {
	plen := sm.nodes[0].s.pieceLen(int(spec.Piece))
	before := sm.sentBy0[spec.Piece]
	sm.sentBy0[spec.Piece] += int64(spec.Length)
	if before < plen && sm.sentBy0[spec.Piece] >= plen {
		sm.outOnce++
	}
	if sm.cfg.initialSeeding && !sm.cfg.corrupt && sm.sentBy0[spec.Piece] > plen && sm.outOnce < sm.cfg.pieces && sm.shown < sm.cfg.pieces {
		sm.t.Fatalf("seed %d: origin sends piece %d a second time while only %d/%d pieces went out",
			sm.cfg.seed, spec.Piece, sm.outOnce, sm.cfg.pieces)
	}
}

func (sm *sim) honestDone() bool {
	for i, n := range sm.nodes {
		if i > 0 && !n.corrupt && !n.done {
			return false
		}
	}
	return true
}

func (sm *sim) tick() {
	for i, n := range sm.nodes {
		sm.events++
		n.s.Tick(sm.now)
		sm.process(i)
	}
}

func (sm *sim) checkAll() {
	for i, n := range sm.nodes {
		if err := n.s.checkInvariants(); err != nil {
			sm.t.Fatalf("seed %d: node %d: %v", sm.cfg.seed, i, err)
		}
	}
}

// run steps until every honest leecher completes; 1 ms passes per step and
// every node ticks each simulated second.
func (sm *sim) run() {
	for steps := 1; !sm.honestDone(); steps++ {
		if steps > sm.cfg.maxSteps {
			sm.t.Fatalf("seed %d: not done after %d steps: %s", sm.cfg.seed, steps, sm.progress())
		}
		sm.now = sm.now.Add(time.Millisecond)
		if !sm.step() || steps%1000 == 0 {
			sm.tick()
		}
		if sm.cfg.checkEvery > 0 && steps%sm.cfg.checkEvery == 0 {
			sm.checkAll()
		}
	}
}

func (sm *sim) progress() string {
	s := ""
	for i, n := range sm.nodes {
		st := n.s.Stats()
		s += fmt.Sprintf("\n node %d: have %d/%d peers %d requests %d unchoked-us %d interesting %d",
			i, st.Have, st.Pieces, st.Peers, st.Requests, st.UnchokedUs, st.Interesting)
	}
	return s
}

func TestSimulatedSwarm(t *testing.T) {
	cases := []simConfig{
		{leechers: 6, pieces: 40, pieceLen: 32768},
		{leechers: 4, pieces: 25, pieceLen: 65536, mixedFast: true},
		{leechers: 5, pieces: 30, pieceLen: 16384, corrupt: true},
		{leechers: 5, pieces: 30, pieceLen: 49152, corrupt: true, mixedFast: true},
		{leechers: 6, pieces: 40, pieceLen: 32768, choker: Public},
		{leechers: 6, pieces: 60, pieceLen: 32768, initialSeeding: true},
		{leechers: 1, pieces: 20, pieceLen: 32768, initialSeeding: true},
		{leechers: 4, pieces: 30, pieceLen: 32768, initialSeeding: true, corrupt: true, mixedFast: true},
	}
	bans := 0
	for ci, c := range cases {
		for seed := int64(1); seed <= 6; seed++ {
			c.seed = seed*100 + int64(ci)
			c.checkEvery, c.maxSteps = 97, 2_000_000
			sm := newSim(t, c)
			sm.run()
			sm.checkAll()
			if c.initialSeeding {
				var sent int64
				for _, b := range sm.sentBy0 {
					sent += b
				}
				t.Logf("seed %d: origin egress %.2f copies", c.seed, float64(sent)/float64(sm.nodes[0].s.cfg.TotalLength))
			}
			for i, n := range sm.nodes {
				if i > 0 && !n.corrupt && n.s.NumHave() != c.pieces {
					t.Fatalf("seed %d: node %d has %d pieces", c.seed, i, n.s.NumHave())
				}
				bans += n.banned
			}
		}
	}
	if bans == 0 {
		t.Errorf("the corrupting peer was never banned in any run")
	}
	t.Logf("corrupt peer bans over all runs: %d", bans)
}

// TestDeterminism runs the same simulation twice and compares every action.
func TestDeterminism(t *testing.T) {
	for _, c := range []simConfig{
		{seed: 42, leechers: 4, pieces: 30, pieceLen: 32768, corrupt: true, maxSteps: 1_000_000, record: true},
		{seed: 43, leechers: 4, pieces: 30, pieceLen: 32768, choker: Public, initialSeeding: true, maxSteps: 1_000_000, record: true},
	} {
		var sums [2]uint64
		for k := range sums {
			sm := newSim(t, c)
			sm.run()
			sums[k] = sm.hash.Sum64()
		}
		if sums[0] != sums[1] {
			t.Errorf("seed %d: action logs differ: %x vs %x", c.seed, sums[0], sums[1])
		}
	}
}

// BenchmarkSwarm1000x50 runs a 1,000-piece torrent from one seed to 49
// leechers over a full mesh and reports the cost of one core event.
func BenchmarkSwarm1000x50(b *testing.B) {
	var events int
	for i := 0; i < b.N; i++ {
		sm := newSim(b, simConfig{seed: int64(i), leechers: 49, pieces: 1000, pieceLen: 32768, maxSteps: 100_000_000})
		sm.run()
		events += sm.events
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}
