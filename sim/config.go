package sim

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/tracker"
	"github.com/shoal-p2p/shoal/wire"
)

// ErrInvalidConfig is wrapped by Run when the Config is inconsistent.
var ErrInvalidConfig = errors.New("sim: invalid config")

// The simulated tracker answers as a default `shoal tracker` does; every
// host's peer rules are the client's own (package peers).
const (
	// AnnounceInterval is the tracker's re-announce interval (tracker
	// default).
	AnnounceInterval = tracker.DefaultInterval
	// MinInterval is its min interval (tracker default: half the interval),
	// the cadence of a starved host.
	MinInterval = AnnounceInterval / 2
	// HandoutBudget is how often the tracker hands one peer out per
	// interval (tracker default: 4 × its handout of at most 50).
	HandoutBudget = 4 * tracker.DefaultMaxNumWant
	// DefaultMaxBlockEvents is the budget of block transfers (receivers ×
	// blocks) under which blocks are simulated at their real 16 KiB size.
	DefaultMaxBlockEvents = 1 << 24
)

// Config describes one simulated distribution. Sizes are bytes and rates
// bytes per second, of the real torrent.
type Config struct {
	// Peers is the number of receivers N (the origin comes on top).
	Peers int
	// Size is the file size F.
	Size int64
	// Link is every receiver's upload and download rate.
	Link float64
	// OriginLink is the origin's upload rate (0: Link).
	OriginLink float64
	// Latency is the one-way delay between any two hosts (and to the
	// tracker).
	Latency time.Duration
	// PieceLength is the torrent's piece length (0: what shoal create
	// picks, metainfo.AutoPieceLength).
	PieceLength int64
	// BlocksPerPiece is how many blocks the core sees per full piece: the
	// real count PieceLength/16 KiB, or a power of two below it, in which
	// case bytes and rates are scaled down so that times stay the same.
	// 0 picks the real count if Peers × blocks in the torrent is at most
	// MaxBlockEvents, else the largest power of two that fits (at least 1).
	BlocksPerPiece int
	// MaxBlockEvents is the budget for the automatic BlocksPerPiece
	// (0: DefaultMaxBlockEvents).
	MaxBlockEvents int64
	// Seed seeds every random choice: the tracker policy, join order, the
	// cores' own sources, slow and churning hosts.
	Seed int64
	// SlowFraction of the receivers (rounded down) get SlowLink up and down
	// instead of Link.
	SlowFraction float64
	SlowLink     float64
	// Churn is the fraction of receivers (rounded down) that leave for good
	// part-way through, each after verifying a random 10-90% of the pieces.
	// They do not count in the finish times.
	Churn float64
	// OriginLeaves makes the origin leave once every piece has left it at
	// least once and is held by at least two receivers still present (so
	// that receivers leaving with Churn cannot take a piece's only copy).
	OriginLeaves bool
	// JoinSpread spreads the receivers' first announces uniformly over this
	// span, in random order (0: all at the start, still in random order).
	JoinSpread time.Duration
	// MaxPeers bounds each host's connections (0: the client's default,
	// peers.DefaultMaxPeers).
	MaxPeers int
	// MaxTime stops a run that has not finished by this simulated time
	// (0: 120 s plus 100 times the floor).
	MaxTime time.Duration
	// Policy hands out peers at each announce (nil: the tracker's default
	// policy, seeded from Seed, with the tracker's default handout budget).
	Policy tracker.Policy
	// RackSize, if positive, puts the receivers in racks of so many hosts
	// (the origin in the first), each behind an uplink of RackUplink bytes
	// per second each way, the uplinks joined by a core of CoreRate (0:
	// unlimited); see racks.go. Racked hosts announce their rack as a
	// location label, so the tracker's policy hands out its peers first,
	// unless RandomPeers.
	// With labels each host's core also knows its rack (swarm.Config.Zone,
	// told to peers in the BEP 10 handshake) and asks far peers only for
	// what its rack cannot give, unless HandoutOnly: then only the
	// tracker sees the labels.
	RackSize             int
	RackUplink, CoreRate float64
	RandomPeers          bool
	HandoutOnly          bool
	// ControlQueued makes a control message (a Request, a Have, a
	// handshake, a close) reach its receiver no earlier than the
	// receiver's download link has delivered the blocks already on their
	// way to it, as where a shaper queues the links (the bench's --netns:
	// tc's download FIFO holds every segment, data or not). Off, a control
	// message takes the latency alone, as under the loopback bench's
	// in-process limiter, which queues only blocks (links.go, sendCtrl).
	ControlQueued bool
	// Progress, if set, is called every 100 ms of simulated time with the
	// simulated time and the number of receivers done.
	Progress func(now time.Duration, done, receivers int)
}

// layout is the torrent as the cores see it after block coarsening.
type layout struct {
	scale       int64 // real bytes per modelled byte
	pieceLength int64 // real
	numPieces   int
	modelPiece  int64 // modelled piece length
	modelTotal  int64 // modelled total length
}

// modelPieceLen is the modelled length of piece i: modelPiece but for the
// last piece, which holds the rest.
func (l *layout) modelPieceLen(i int) int64 {
	if i == l.numPieces-1 {
		return l.modelTotal - int64(i)*l.modelPiece
	}
	return l.modelPiece
}

// check validates c and fills in defaults.
func (c *Config) check() error {
	switch {
	case c.Peers < 1:
		return fmt.Errorf("%w: need at least one receiver", ErrInvalidConfig)
	case c.Size < 1:
		return fmt.Errorf("%w: size must be positive", ErrInvalidConfig)
	case !(c.Link > 0) || math.IsInf(c.Link, 0):
		return fmt.Errorf("%w: link rate must be positive", ErrInvalidConfig)
	case c.OriginLink < 0 || c.Latency < 0 || c.PieceLength < 0 || c.BlocksPerPiece < 0 || c.MaxPeers < 0 ||
		c.MaxBlockEvents < 0 || c.JoinSpread < 0 || c.MaxTime < 0:
		return fmt.Errorf("%w: negative parameter", ErrInvalidConfig)
	case c.SlowFraction < 0 || c.SlowFraction > 1 || c.Churn < 0 || c.Churn > 1:
		return fmt.Errorf("%w: fractions must be within [0, 1]", ErrInvalidConfig)
	case c.SlowFraction > 0 && !(c.SlowLink > 0):
		return fmt.Errorf("%w: --slow-fraction needs a positive slow link rate", ErrInvalidConfig)
	}
	if err := c.checkRacks(); err != nil {
		return err
	}
	if c.OriginLink == 0 {
		c.OriginLink = c.Link
	}
	if c.PieceLength == 0 {
		c.PieceLength = metainfo.AutoPieceLength(c.Size)
	}
	if c.PieceLength > 1<<31 {
		return fmt.Errorf("%w: piece length %d too large", ErrInvalidConfig, c.PieceLength)
	}
	if c.MaxBlockEvents == 0 {
		c.MaxBlockEvents = DefaultMaxBlockEvents
	}
	return nil
}

// makeLayout chooses the block coarsening for c (already checked).
func makeLayout(c *Config) (layout, error) {
	l := layout{pieceLength: c.PieceLength}
	l.numPieces = int((c.Size + c.PieceLength - 1) / c.PieceLength)
	real := int((c.PieceLength + wire.BlockSize - 1) / wire.BlockSize)
	bpp := c.BlocksPerPiece
	if bpp == 0 {
		bpp = real
		for bpp > 1 && int64(c.Peers)*int64(l.numPieces)*int64(bpp) > c.MaxBlockEvents {
			bpp /= 2
		}
	}
	if bpp > real {
		bpp = real
	}
	// The scale must divide the piece length into whole modelled blocks:
	// keep it a power of two dividing the piece length.
	scale := int64(1)
	for int64(real)/(scale*2) >= int64(bpp) && c.PieceLength%(scale*2) == 0 {
		scale *= 2
	}
	l.scale = scale
	l.modelPiece = c.PieceLength / scale
	l.modelTotal = (c.Size + scale - 1) / scale
	if got := int((l.modelTotal + l.modelPiece - 1) / l.modelPiece); got != l.numPieces {
		return l, fmt.Errorf("%w: scaled layout has %d pieces, want %d", ErrInvalidConfig, got, l.numPieces)
	}
	return l, nil
}
