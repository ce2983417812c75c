package client

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/shoal-p2p/shoal/wire"
)

// newLimiter returns a byte-rate limiter for bytesPerSec, or nil for no
// limit. The burst is about 20 ms of traffic but never less than two blocks,
// so one Piece message always fits in a single reservation.
func newLimiter(bytesPerSec float64) *rate.Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	burst := int(bytesPerSec / 50)
	if burst < 64*1024 {
		burst = 64 * 1024
	}
	l := rate.NewLimiter(rate.Limit(bytesPerSec), burst)
	// Start with an empty bucket: a full one would let the first burst
	// through unpaced, which makes short transfers beat their link.
	l.AllowN(time.Now(), burst)
	return l
}

// limitBatch is how many bytes a connection reader reads before it waits
// on the download limits for them: one call per few blocks rather than per
// message. It is the smallest burst newLimiter gives, so a batch never
// exceeds what a limiter can grant at once.
const limitBatch = 64 * 1024

// limiters is a chain of limits that all apply to the same bytes (global
// and per torrent). Nil entries mean "no limit".
type limiters []*rate.Limiter

// wait blocks until n bytes may pass every limiter in the chain.
func (ls limiters) wait(ctx context.Context, n int) error {
	for _, l := range ls {
		if l == nil {
			continue
		}
		for left := n; left > 0; {
			chunk := min(left, l.Burst())
			if err := l.WaitN(ctx, chunk); err != nil {
				return err
			}
			left -= chunk
		}
	}
	return nil
}

// batchBlocks is how many block sends the writer may take at once under
// these limits: up to maxBatchBlocks, but no more than about 5 ms of the
// tightest limit, so a batch waiting for its tokens delays its first block
// by little.
func (ls limiters) batchBlocks() int {
	n := maxBatchBlocks
	for _, l := range ls {
		if l == nil {
			continue
		}
		n = min(n, max(1, int(float64(l.Limit())*0.005)/(pieceHeaderLen+wire.BlockSize)))
	}
	return n
}
