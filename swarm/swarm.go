package swarm

import (
	"errors"
	"fmt"
	"math/rand"
	"time"

	"github.com/shoal-p2p/shoal/handover"
	"github.com/shoal-p2p/shoal/wire"
	"github.com/shoal-p2p/shoal/zone"
)

// ErrInvalidConfig is wrapped by New when the Config is inconsistent.
var ErrInvalidConfig = errors.New("swarm: invalid config")

// ErrContract is wrapped by the panic raised when the runtime breaks the
// Ready/Advance contract (see Ready). It is a bug in the caller, never
// caused by what peers send. It is handover.ErrContract.
var ErrContract = handover.ErrContract

// Payload is the runtime's handle on the bytes of one received block: a
// pooled buffer, a place in an assembly buffer, a token in a simulator.
// The core never looks inside it: ReceiveBlock hands it in, and the
// WriteBlock action for that block hands it back; a block the core does
// not want is not written, and its payload stays the runtime's.
type Payload any

// ChokerMode selects how the core decides whom to upload to.
type ChokerMode int

const (
	// Fleet (the default) is for trusted hosts: every interested peer is
	// unchoked at once, up to UploadSlots (0 = unlimited) with slots rotated
	// for fairness. There is no tit-for-tat.
	Fleet ChokerMode = iota
	// Public is the standard BitTorrent choker: every 10 s the UploadSlots
	// (default 4) interested peers with the best download rate from them (the
	// best upload rate to them once we seed) are unchoked, plus one
	// optimistic unchoke rotated every 30 s.
	Public
)

// Defaults applied by New for zero Config fields.
const (
	DefaultMaxRequestsPerPeer = 256
	DefaultMaxQueuedUploads   = 512
	DefaultRequestTimeout     = 20 * time.Second
	DefaultRandomFirstPieces  = 4
	DefaultPublicUploadSlots  = 4
	DefaultActiveUploads      = 10
	DefaultSoleSourceRetry    = time.Minute
)

// Timing of the chokers.
const (
	rechokeInterval    = 10 * time.Second
	optimisticInterval = 30 * time.Second
	fleetRotateEvery   = 30 * time.Second
)

// Config describes one torrent and the policies of the core.
type Config struct {
	// NumPieces, PieceLength and TotalLength give the piece layout; the last
	// piece may be shorter.
	NumPieces   int
	PieceLength int64
	TotalLength int64
	// Have lists the pieces already verified on disk (nil = none). When not
	// nil its length must be NumPieces.
	Have []bool
	// Choker selects the upload policy.
	Choker ChokerMode
	// UploadSlots bounds how many peers we unchoke: in Fleet mode 0 means
	// unlimited, in Public mode 0 means DefaultPublicUploadSlots regular
	// slots (plus one optimistic).
	UploadSlots int
	// InitialSeeding makes an origin that starts with every piece reveal
	// pieces one peer at a time (BEP 16 super-seeding) so that no piece goes
	// out twice before every piece went out once.
	InitialSeeding bool
	// ActiveUploads bounds how many peers we send blocks to at the same
	// time (default DefaultActiveUploads; negative: no bound). Requests of
	// other unchoked peers wait their turn; a turn is about one piece. A
	// link shared by fewer transfers moves each piece faster, so new pieces
	// hop through the swarm sooner; but with too few, the link idles when
	// every peer holding a turn has a backlogged download link.
	ActiveUploads int
	// MaxRequestsPerPeer caps our outstanding requests to one peer (default
	// 256); the peer's advertised reqq caps it further.
	MaxRequestsPerPeer int
	// MaxQueuedUploads caps how many of one peer's requests we hold at once
	// (default 512); the runtime advertises it as our reqq (BEP 10).
	MaxQueuedUploads int
	// RequestTimeout is the base time after which an unanswered request is
	// cancelled and the block requested elsewhere (default 20 s). The
	// effective timeout grows with a slow peer's queue.
	RequestTimeout time.Duration
	// RandomFirstPieces: until we have this many pieces, new pieces are
	// picked at random instead of rarest first (default 4, negative = 0).
	RandomFirstPieces int
	// Seed seeds the core's private random source.
	Seed int64
	// Fast says whether we support the fast extension (BEP 6); it is used
	// with a peer only when the peer supports it too.
	Fast bool
	// SoleSourceRetry is how long a peer that sent a corrupt piece nobody
	// else connected has is banned before it may be tried again (default
	// DefaultSoleSourceRetry); a corrupter of a piece others have is banned
	// for good. See PieceVerified.
	SoleSourceRetry time.Duration
	// Zone is our location label (package zone, e.g. "dc1/row4/rack12");
	// "" turns locality off. With it, far peers (another label in their
	// extended handshake) are asked only for what the rack cannot give
	// (see locality.go).
	Zone string
	// PeerID is our BitTorrent peer id. With Zone it decides which pieces
	// we bring into our rack from far peers (a rendezvous among the near
	// peers' ids); zero: we fetch from far peers whatever no near peer has.
	PeerID [20]byte
}

// PeerInfo is what the handshake told us about a peer.
type PeerInfo struct {
	Fast     bool // BEP 6 fast extension (reserved bits)
	Extended bool // BEP 10 extension protocol (reserved bits)
	// ID is the peer's id from the handshake (zero: unknown); only
	// locality uses it (Config.PeerID).
	ID [20]byte
}

// Swarm is the scheduling state of one torrent. Create it with New and step
// it with its event methods; drain its decisions with Actions.
type Swarm struct {
	cfg          Config
	rng          *rand.Rand
	blocksPerPc  int
	lastPieceLen int64

	have    bitset
	numHave int
	avail   []int32 // connected peers that have each piece
	// slowAvail counts, of avail, the peers that are slow sources
	// (src.slow, see holdBack): copies we do not fetch while a fast
	// source can serve us, so pickPiece's rarity leaves them out.
	slowAvail []int32
	dl        []*pieceDL // download state of pieces in progress, nil otherwise
	started   bitset     // the pieces with a dl entry, for pickPiece's scan
	active    []int      // pieces in progress, in the order they were started
	open      []int      // the pieces of active with unrequested blocks, in the same order
	dlSeq     uint64     // startPiece calls so far (pieceDL.seq)
	// spareDL holds the download states of pieces done, for startPiece to
	// reuse (at most maxSpareDL; emptied on completion), so that starting
	// a piece allocates nothing once the download is under way.
	spareDL []*pieceDL
	// unrequested counts the blocks we lack that are neither received nor
	// requested from anyone; zero means endgame.
	unrequested int

	peers []*peer // in a deterministic order
	byID  peerIndex

	out handover.Queue[Action] // actions decided, handed out by Ready
	// freed lists the pieces whose blocks went back to the pool during this
	// event (a piece once per run of its blocks): flush offers them to the
	// peers that have them.
	freed    []int
	needFill bool // fill every peer at the end of the event

	nextRechoke    time.Time
	nextOptimistic time.Time
	optimistic     *peer
	nextRotate     time.Time
	numUnchoked    int
	numUpActive    int         // peers with an upload turn (see admit)
	upSeq          uint64      // FIFO counter for upload turns
	turns          uint64      // upload turns started (see shed)
	sentBlocks     []int32     // blocks of each piece we uploaded (see copies)
	specs          []BlockSpec // scratch for rarestFirst
	sources        sourceStats // our sources' paces (see holdBack)

	seed *initialSeed // non-nil while initial seeding
	loc  *locality    // non-nil with Config.Zone (locality.go)

	// withheld are pieces we have that no longer verify on disk (see
	// PieceChecked): never served nor announced; nil until the first one.
	withheld    bitset
	numWithheld int

	stats counters
	ids   []ConnID // scratch for contributor lists
	// hadScratch is pieceDone's scratch: which peers have the piece.
	hadScratch []bool
}

// counters are the running totals reported by Stats.
type counters struct {
	downloaded, uploaded, wasted int64
	hashFails                    int
}

// New validates cfg, applies defaults and returns a Swarm with no peers.
func New(cfg Config) (*Swarm, error) {
	if cfg.PieceLength <= 0 || cfg.TotalLength <= 0 || cfg.NumPieces <= 0 {
		return nil, fmt.Errorf("%w: need positive piece length, total length and piece count", ErrInvalidConfig)
	}
	if cfg.PieceLength > 1<<31 {
		return nil, fmt.Errorf("%w: piece length %d too large", ErrInvalidConfig, cfg.PieceLength)
	}
	want := (cfg.TotalLength + cfg.PieceLength - 1) / cfg.PieceLength
	if int64(cfg.NumPieces) != want {
		return nil, fmt.Errorf("%w: %d pieces of %d bytes cannot hold %d bytes (want %d pieces)",
			ErrInvalidConfig, cfg.NumPieces, cfg.PieceLength, cfg.TotalLength, want)
	}
	if cfg.Have != nil && len(cfg.Have) != cfg.NumPieces {
		return nil, fmt.Errorf("%w: have has %d entries, want %d", ErrInvalidConfig, len(cfg.Have), cfg.NumPieces)
	}
	if cfg.UploadSlots < 0 || cfg.MaxRequestsPerPeer < 0 || cfg.MaxQueuedUploads < 0 || cfg.RequestTimeout < 0 {
		return nil, fmt.Errorf("%w: negative limit", ErrInvalidConfig)
	}
	if err := zone.Check(cfg.Zone); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.Choker != Fleet && cfg.Choker != Public {
		return nil, fmt.Errorf("%w: unknown choker mode %d", ErrInvalidConfig, cfg.Choker)
	}
	if cfg.Choker == Public && cfg.UploadSlots == 0 {
		cfg.UploadSlots = DefaultPublicUploadSlots
	}
	if cfg.MaxRequestsPerPeer == 0 {
		cfg.MaxRequestsPerPeer = DefaultMaxRequestsPerPeer
	}
	if cfg.ActiveUploads == 0 {
		cfg.ActiveUploads = DefaultActiveUploads
	}
	if cfg.MaxQueuedUploads == 0 {
		cfg.MaxQueuedUploads = DefaultMaxQueuedUploads
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.SoleSourceRetry <= 0 {
		cfg.SoleSourceRetry = DefaultSoleSourceRetry
	}
	if cfg.RandomFirstPieces == 0 {
		cfg.RandomFirstPieces = DefaultRandomFirstPieces
	} else if cfg.RandomFirstPieces < 0 {
		cfg.RandomFirstPieces = 0
	}
	s := &Swarm{
		cfg:          cfg,
		out:          handover.Queue[Action]{Name: "swarm"},
		rng:          rand.New(rand.NewSource(cfg.Seed)),
		blocksPerPc:  int((cfg.PieceLength + wire.BlockSize - 1) / wire.BlockSize),
		lastPieceLen: cfg.TotalLength - int64(cfg.NumPieces-1)*cfg.PieceLength,
		have:         newBitset(cfg.NumPieces),
		avail:        make([]int32, cfg.NumPieces),
		slowAvail:    make([]int32, cfg.NumPieces),
		dl:           make([]*pieceDL, cfg.NumPieces),
		started:      newBitset(cfg.NumPieces),
		sentBlocks:   make([]int32, cfg.NumPieces),
	}
	s.cfg.Have = nil // never retain the caller's slice
	for i, h := range cfg.Have {
		if h {
			s.have.set(i)
			s.numHave++
		} else {
			s.unrequested += s.numBlocks(i)
		}
	}
	if cfg.Have == nil {
		for i := 0; i < cfg.NumPieces; i++ {
			s.unrequested += s.numBlocks(i)
		}
	}
	s.loc = newLocality(&s.cfg)
	if cfg.InitialSeeding && s.Complete() {
		s.seed = newInitialSeed(cfg.NumPieces)
	}
	return s, nil
}

// Config returns the configuration with defaults applied (Have is nil). The
// runtime advertises MaxQueuedUploads as our reqq.
func (s *Swarm) Config() Config { return s.cfg }

// Ready returns the batch of actions decided since the last Advance, in
// the order they were decided, or nil if there is none. The runtime
// performs every action of the batch (or starts it: a hash runs in the
// background), then calls Advance; the slice is the core's and is valid
// until then. While a batch is out the core must not be stepped: what the
// actions produce (a block written, a piece verified) is reported with the
// event methods after Advance. A WriteBlock carries the Payload that
// ReceiveBlock handed in; the runtime takes it over.
//
// Breaking this contract (stepping the core or calling Ready while a batch
// is out, Advance without one, a block without a payload) is a bug in the
// runtime: the core panics with an error wrapping ErrContract.
func (s *Swarm) Ready() []Action { return s.out.Ready() }

// HasReady reports whether Ready would return a batch.
func (s *Swarm) HasReady() bool { return s.out.HasReady() }

// Advance acknowledges the batch Ready returned.
func (s *Swarm) Advance() { s.out.Advance() }

// Actions is Ready, a copy, and Advance in one: it returns the pending
// actions in a slice the caller owns. Tests and simple drivers use it; a
// runtime uses Ready and Advance, which copy nothing.
func (s *Swarm) Actions() []Action { return s.out.Take() }

// step guards every event method: the core may not be stepped while a
// batch from Ready is out.
func (s *Swarm) step() { s.out.Step() }

// Have reports whether piece is verified. Out-of-range pieces are not had.
func (s *Swarm) Have(piece int) bool {
	return piece >= 0 && piece < s.cfg.NumPieces && s.have.get(piece)
}

// HaveBools returns a fresh slice with one entry per piece, true if verified.
func (s *Swarm) HaveBools() []bool {
	b := make([]bool, s.cfg.NumPieces)
	for i := range b {
		b[i] = s.have.get(i)
	}
	return b
}

// NumHave returns the number of verified pieces.
func (s *Swarm) NumHave() int { return s.numHave }

// Complete reports whether every piece is verified.
func (s *Swarm) Complete() bool { return s.numHave == s.cfg.NumPieces }

// BytesLeft returns the length of the pieces not verified yet.
func (s *Swarm) BytesLeft() int64 {
	left := s.cfg.TotalLength - int64(s.numHave)*s.cfg.PieceLength
	if s.have.get(s.cfg.NumPieces - 1) {
		left += s.cfg.PieceLength - s.lastPieceLen
	}
	return left
}

// Stats is a snapshot for progress lines and metrics.
type Stats struct {
	Peers          int   // connected peers
	Unchoked       int   // peers we unchoke
	UnchokedUs     int   // peers that unchoke us
	Interested     int   // peers interested in us
	Interesting    int   // peers we are interested in
	Requests       int   // our outstanding requests
	QueuedUploads  int   // peers' requests we hold
	Have           int   // verified pieces
	Pieces         int   // total pieces
	Active         int   // pieces in progress
	Endgame        bool  // every missing block is requested
	InitialSeeding bool  // still revealing pieces one by one
	Downloaded     int64 // payload bytes received
	Uploaded       int64 // payload bytes sent
	Wasted         int64 // payload bytes received but not wanted
	HashFails      int   // pieces that failed verification
	// NearPeers and FarPeers count the peers whose zone label equals ours
	// and differs from ours (Config.Zone); the others are of unknown
	// distance.
	NearPeers, FarPeers int
}

// Stats returns counters for a progress line.
func (s *Swarm) Stats() Stats {
	st := Stats{
		Peers:          len(s.peers),
		Unchoked:       s.numUnchoked,
		Have:           s.numHave,
		Pieces:         s.cfg.NumPieces,
		Active:         len(s.active),
		Endgame:        s.inEndgame(),
		InitialSeeding: s.seed != nil,
		Downloaded:     s.stats.downloaded,
		Uploaded:       s.stats.uploaded,
		Wasted:         s.stats.wasted,
		HashFails:      s.stats.hashFails,
	}
	for _, p := range s.peers {
		if !p.peerChoking {
			st.UnchokedUs++
		}
		if p.peerInterested {
			st.Interested++
		}
		if p.amInterested {
			st.Interesting++
		}
		switch p.dist {
		case distNear:
			st.NearPeers++
		case distFar:
			st.FarPeers++
		}
		st.Requests += len(p.reqs)
		st.QueuedUploads += len(p.uploads)
	}
	return st
}

// inEndgame reports whether every block we lack is received or requested.
func (s *Swarm) inEndgame() bool { return s.unrequested == 0 && !s.Complete() }

// pieceLen returns the length of piece i.
func (s *Swarm) pieceLen(i int) int64 {
	if i == s.cfg.NumPieces-1 {
		return s.lastPieceLen
	}
	return s.cfg.PieceLength
}

// numBlocks returns how many blocks piece i has.
func (s *Swarm) numBlocks(i int) int {
	if i == s.cfg.NumPieces-1 {
		return int((s.lastPieceLen + wire.BlockSize - 1) / wire.BlockSize)
	}
	return s.blocksPerPc
}

// blockSpec returns the spec of block b of piece i.
func (s *Swarm) blockSpec(i, b int) BlockSpec {
	begin := int64(b) * wire.BlockSize
	n := min(s.pieceLen(i)-begin, wire.BlockSize)
	return BlockSpec{Piece: uint32(i), Begin: uint32(begin), Length: uint32(n)}
}

// emit queues an action.
func (s *Swarm) emit(a Action) { s.out.Push(a) }

// send queues a message to p.
func (s *Swarm) send(p *peer, m wire.Message) {
	s.out.Push(Action{Kind: Send, Conn: p.id, Msg: m})
}

// flush runs the work deferred to the end of an event: offering blocks that
// went back to the pool to the peers that have their pieces (a peer without
// them could not be asked for them, and filling every peer after every
// Reject was 42% of a 1 GB simulation's CPU), then, if needFill, filling
// every peer.
func (s *Swarm) flush(now time.Time) {
	if len(s.freed) > 0 {
		freed := s.freed
		s.freed = nil
		if !s.needFill {
			for _, p := range s.peers {
				for _, i := range freed {
					if p.has.get(i) {
						s.fill(now, p)
						break
					}
				}
			}
		}
		if len(s.freed) > 0 {
			s.needFill = true // blocks returned while filling: offer them to all
		}
		s.freed = freed[:0]
	}
	s.refillFar(now) // locality.go
	for pass := 0; pass < 2 && s.needFill; pass++ {
		s.needFill = false
		for _, p := range s.peers {
			s.fill(now, p)
		}
	}
	s.needFill = false
}

// PeerFact is what the core knows of one connection's usefulness: the
// peer manager (package peers) reads it to choose whom to evict when a
// newcomer needs a slot.
type PeerFact struct {
	Conn ConnID
	// Moved counts the payload bytes moved either way on the connection.
	Moved int64
	// Pending says requests are outstanding either way: ours at the peer,
	// or the peer's at us (a peer waiting for an upload turn is busy, not
	// idle).
	Pending bool
	// Interesting says the peer has pieces we lack.
	Interesting bool
	// Interested says the peer wants pieces from us.
	Interested bool
	// UnchokedUs says the peer unchoked us at least once.
	UnchokedUs bool
	// Seed says the peer has every piece.
	Seed bool
}

// AppendPeerFacts appends one PeerFact per connected peer to dst, in the
// core's peer order. It reads state only, so it may be called at any time.
func (s *Swarm) AppendPeerFacts(dst []PeerFact) []PeerFact {
	for _, p := range s.peers {
		dst = append(dst, PeerFact{
			Conn:        p.id,
			Moved:       p.moved + p.downWindow + p.upWindow,
			Pending:     len(p.reqs) > 0 || len(p.uploads) > 0,
			Interesting: p.wanted > 0,
			Interested:  p.peerInterested,
			UnchokedUs:  p.unchokedUs,
			Seed:        p.numHas == s.cfg.NumPieces,
		})
	}
	return dst
}
