package client

import (
	"os"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/storage"
	"github.com/shoal-p2p/shoal/swarm"
)

// Re-verification of pieces we have. A piece verified once can stop
// matching the torrent: its file was edited or replaced on the origin, or
// the disk returned bad bytes. The runtime re-hashes a piece when it has a
// reason to, and reports it to the core (swarm.PieceChecked), which stops
// offering a piece that fails and offers it again once it verifies. The two
// reasons, chosen for being cheap and telling:
//
//   - A file's size, modification time or identity changed (polled with
//     stat every recheckEvery, a bounded number of files per poll, once the
//     torrent is complete: while downloading our own writes change them).
//     Every piece we have in that file is re-hashed.
//   - A peer hung up within suspectWindow of receiving blocks from us, as
//     a client that found a piece corrupt and banned us does. The last few
//     pieces we sent it are re-hashed, each at most once per
//     suspectCooldown, which catches in-place damage that left the
//     metadata alone (bit rot, a tool that restores mtime).
//
// Periodic re-hashing of everything was not chosen: it costs a full read of
// the data per period and still notices late.
const (
	recheckEvery      = 10 * time.Second
	maxStatsPerPoll   = 256
	suspectWindow     = 2 * time.Second
	suspectCooldown   = time.Minute
	suspectPieces     = 8  // distinct pieces remembered per peer
	maxRecheckBatch   = 64 // pieces one re-check goroutine hashes
	maxCooldownMemory = 4096
)

// rechecker is a torrent's re-verification state, owned by its loop.
type rechecker struct {
	nextPoll time.Time
	cursor   int           // next file to stat
	base     []os.FileInfo // per file: what it was at the last poll (nil: not yet)
	queue    []int         // pieces to re-hash, in order
	queued   map[int]bool
	running  bool
	checked  map[int]time.Time // when a suspect piece was last queued
	sent     map[swarm.ConnID]*sentPieces
}

// sentPieces is what we last sent one peer.
type sentPieces struct {
	pieces []uint32 // distinct, newest last, at most suspectPieces
	at     time.Time
}

func newRechecker(numFiles int) *rechecker {
	return &rechecker{
		base:    make([]os.FileInfo, numFiles),
		queued:  make(map[int]bool),
		checked: make(map[int]time.Time),
		sent:    make(map[swarm.ConnID]*sentPieces),
	}
}

// baseline records what every file is now, as verified; later polls
// compare with it. Files that cannot be stat'ed get their baseline at the
// first poll.
func (r *rechecker) baseline(st *storage.Storage) {
	for i := range r.base {
		if fi, err := st.FileStat(i); err == nil {
			r.base[i] = fi
		}
	}
}

// enqueue adds piece to the re-hash queue unless it is there already.
func (r *rechecker) enqueue(piece int) {
	if !r.queued[piece] {
		r.queued[piece] = true
		r.queue = append(r.queue, piece)
	}
}

// noteSent records that a block of piece went to conn.
func (t *Torrent) noteSent(now time.Time, conn swarm.ConnID, piece uint32) {
	r := t.rc
	sp := r.sent[conn]
	if sp == nil {
		sp = &sentPieces{}
		r.sent[conn] = sp
	}
	sp.at = now
	if n := len(sp.pieces); n > 0 && sp.pieces[n-1] == piece {
		return
	}
	for k, p := range sp.pieces {
		if p == piece {
			sp.pieces = append(sp.pieces[:k], sp.pieces[k+1:]...)
			break
		}
	}
	if len(sp.pieces) == suspectPieces {
		sp.pieces = append(sp.pieces[:0], sp.pieces[1:]...)
	}
	sp.pieces = append(sp.pieces, piece)
}

// peerGone is told that pc closed; if the peer hung up on us right after
// receiving blocks, what we last sent it is re-hashed. Not when the peer
// lacked nothing we have (done; see peerLacksNothing): a client that finds
// a piece of ours corrupt bans us while it still lacks that piece, whereas
// a receiver that completes and leaves is the common case (every receiver
// of a bench, a fleet's hosts after a release). With 30 of them the origin
// re-hashed nearly all of a 64 MB file at the end of each run (shoal bench
// --peers 30 --link 1GB).
func (t *Torrent) peerGone(now time.Time, pc *peerConn, done bool) {
	r := t.rc
	sp := r.sent[pc.id]
	delete(r.sent, pc.id)
	if sp == nil || done || now.Sub(sp.at) > suspectWindow || !hungUp(pc.closeReason()) {
		return
	}
	if len(r.checked) > maxCooldownMemory {
		for p, at := range r.checked {
			if now.Sub(at) >= suspectCooldown {
				delete(r.checked, p)
			}
		}
	}
	for _, p := range sp.pieces {
		if at, ok := r.checked[int(p)]; ok && now.Sub(at) < suspectCooldown {
			continue
		}
		r.checked[int(p)] = now
		r.enqueue(int(p))
	}
	t.startRecheck()
}

// hungUp reports whether a close reason says the peer, not we, ended the
// connection.
func hungUp(reason string) bool {
	return reason == "peer closed the connection" || strings.Contains(reason, "connection reset")
}

// recheckTick polls the files of a complete torrent for changes.
func (t *Torrent) recheckTick(now time.Time) {
	r := t.rc
	if !t.core.Complete() || now.Before(r.nextPoll) {
		return
	}
	r.nextPoll = now.Add(t.c.recheckEvery)
	n := len(r.base)
	for k := 0; k < min(n, maxStatsPerPoll); k++ {
		i := r.cursor
		r.cursor = (r.cursor + 1) % n
		fi, err := t.st.FileStat(i)
		if err != nil {
			fi = nil // gone or unreadable: its pieces will fail to read
		}
		old := r.base[i]
		r.base[i] = fi
		if old == nil && fi != nil {
			continue // first look: the baseline
		}
		if old != nil && fi != nil && os.SameFile(old, fi) && old.Size() == fi.Size() && old.ModTime().Equal(fi.ModTime()) {
			continue
		}
		first, end := t.st.FilePieces(i)
		if end <= first {
			continue
		}
		t.log.Warn("file changed on disk since it was verified; re-verifying its pieces", "file", t.st.Layout().Files[i].Path, "pieces", end-first)
		t.st.Reopen(i)
		for p := first; p < end; p++ {
			r.enqueue(p)
		}
	}
	t.startRecheck()
}

// startRecheck hashes the next batch of queued pieces on one goroutine, if
// none is running; each result comes back as a recheckedEvent and the
// end of the batch as one with piece -1.
func (t *Torrent) startRecheck() {
	r := t.rc
	if r.running || len(r.queue) == 0 || t.ctx.Err() != nil {
		return
	}
	n := min(len(r.queue), maxRecheckBatch)
	batch := append([]int(nil), r.queue[:n]...)
	r.queue = append(r.queue[:0], r.queue[n:]...)
	for _, p := range batch {
		delete(r.queued, p)
	}
	r.running = true
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		for _, p := range batch {
			select {
			case t.verifying <- struct{}{}:
			case <-t.ctx.Done():
				return
			}
			ok, err := t.st.VerifyPiece(p)
			<-t.verifying
			if !t.post(recheckedEvent{piece: p, ok: ok && err == nil, err: err}) {
				return
			}
		}
		t.post(recheckedEvent{piece: -1})
	}()
}

// onRechecked feeds one re-verification to the core and says loudly when a
// piece stops or starts being served.
func (t *Torrent) onRechecked(now time.Time, ev recheckedEvent) {
	if ev.piece < 0 {
		t.rc.running = false
		t.startRecheck()
		return
	}
	before := t.core.Withheld()
	t.core.PieceChecked(now, ev.piece, ev.ok)
	after := t.core.Withheld()
	files := t.st.PieceFiles(ev.piece)
	switch {
	case after > before:
		args := []any{"piece", ev.piece, "files", files, "withheld", after}
		if ev.err != nil {
			args = append(args, "err", ev.err)
		}
		t.log.Error("piece no longer matches the torrent (its data on disk changed): no longer offered to peers", args...)
	case after < before:
		t.log.Warn("piece verifies again: offered to peers again", "piece", ev.piece, "files", files, "withheld", after)
	}
	t.mu.Lock()
	t.stats.Withheld = after
	t.verified[ev.piece] = ev.ok
	t.mu.Unlock()
}
