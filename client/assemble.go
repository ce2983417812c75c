package client

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-p2p/shoal/storage"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// Memory bounds of one torrent's assembler, in bytes of received blocks.
const (
	// assemblyBudget bounds the blocks of pieces still being assembled.
	// A block that would pass it is written through to disk instead,
	// with the rest of its piece (which is then verified from disk).
	assemblyBudget = 16 << 20
	// verifyBudget bounds the blocks of complete pieces waiting for their
	// hash and write. Past it the connection readers pause (TCP slows the
	// senders) until verification catches up: the disk or the CPU, not
	// memory, absorbs a receiver faster than its disk. Two pieces of the
	// 4 MiB a 5 GB torrent gets keep both hashing goroutines busy.
	verifyBudget = 8 << 20
)

// keptAssemblies is how many emptied assemblies (a piece's block list and
// hash state) the process keeps for reuse.
const keptAssemblies = 128

// freeAssemblies keeps emptied assemblies for reuse by every torrent of the
// process (a channel, not a sync.Pool, which would drop them at each
// garbage collection). Kept per torrent, each new torrent allocated its
// assemblies again as its pieces in flight grew to their most: in the
// Transfer benchmark, where every transfer is a new torrent, that was most
// of what a transfer allocated once under way (session 15).
var freeAssemblies = make(chan *assembly, keptAssemblies)

// assembler collects the blocks of pieces in progress in memory, so a
// piece is hashed before it touches the disk (corrupt data never reaches
// the file) and is written with one vectored write (pwritev) instead of one
// write per block. It holds the very buffers the connection readers read
// the blocks into (see wire.Reader.ReadMessageInto): a block is copied once,
// from the socket, and once more into the page cache.
//
// The torrent loop calls write and take; put and waitRoom are safe from
// any goroutine.
type assembler struct {
	blocksPerPiece int
	maxAssembling  int64 // blocks
	maxPending     int64 // blocks

	// Owned by the torrent loop.
	pieces     map[int]*assembly
	direct     map[int]bool // pieces written through to disk
	assembling int64        // blocks held in pieces
	freeEvents []*writtenEvent

	// pending counts the blocks of pieces handed to verification and not
	// yet put back; mu guards waiters, the wake-up channels of the readers
	// that found pending over maxPending (each reader's own, see
	// waitRoom), signalled and forgotten when pending falls back within
	// it. A channel closed and made anew at each such crossing was an
	// allocation per piece verified while the readers outran the hashing
	// (1,075 more in a 512 MiB transfer than in a 64 MiB one, session 15).
	pending atomic.Int64
	mu      sync.Mutex
	waiters []chan struct{}
	// writing serialises the writes of verified pieces: the filesystem
	// takes the file's lock for each write anyway, and a second writer
	// would spin on it in the kernel (rwsem_spin_on_owner) instead of
	// sleeping here.
	writing sync.Mutex
	// wb batches the write-back of written pieces (handed to the
	// torrent's writebacker when full); guarded by writing.
	wb writebackBatch
}

// writebackBytes is how many bytes of verified pieces are written before
// their write-back is started, together (storage.StartWritebacks: one
// sync_file_range per file). Starting it after every piece cost a system
// call and, on a virtual disk, a notification of the host per piece:
// 5.8% of the hosts' CPU in shoal bench --peers 30 --size 64MB --link 1GB,
// 3.1% in the virtio notification alone (see docs/BENCHMARKS.md, session 10).
// The more pieces a batch holds, the more of them lie next to each other in
// the file, and the kernel writes (and ext4 converts from fallocate's
// unwritten extents) each run of adjacent pieces as one: with 128 KiB
// pieces a 16 MiB batch cost 0.3 CPU s/GB less than a 4 MiB one at --link
// 1GB (session 12). The disk still works while the transfer goes on.
const writebackBytes = 16 << 20

// writebackTailBytes is the batch once less than writebackBytes of the
// torrent is left to write: the sync at completion waits for what was not
// handed to the write-back yet, and with 16 MiB batches to the end every
// receiver of the 10 MB/s bench waited for up to 16 MiB, 0.1 s (session 12).
// With the tail in 4 MiB batches the sync waits for what it waited for
// before, and the bulk of the torrent goes in large batches.
const writebackTailBytes = 4 << 20

// writebackBatch collects the ranges of written pieces whose write-back is
// not started yet.
type writebackBatch struct {
	exts  []storage.Extent
	spare []storage.Extent
	bytes int64
	// left is the bytes of the torrent not yet written (verified pieces
	// and those found at start excluded), for the batch's size.
	left int64
	// since is when the batch's first range was noted.
	since time.Time
}

// writebackAge is the longest a batch collects before it is handed over,
// however small. A receiver at 10 MB/s fills 16 MiB in 1.6 s, and 30 of
// them sharing one disk (shoal bench) finished 0.03 s later with 16 MiB
// batches than with 4 MiB ones (5 of 6 pairs), most likely the sync at
// completion waiting for the bursts' backlog; with this age they finish as
// with 4 MiB batches. Half a second is a 4 MiB batch at 8 MB/s; a faster
// receiver, whose pieces cost the CPU, still fills its 16 MiB.
const writebackAge = 500 * time.Millisecond

// add notes a range written at now; once the batch is full (writebackBytes,
// or writebackTailBytes near the end of the torrent) or writebackAge old,
// it returns the ranges noted (the batch starts again empty), for the caller to start their
// write-back and recycle.
func (b *writebackBatch) add(e storage.Extent, now time.Time) []storage.Extent {
	if len(b.exts) == 0 {
		b.since = now
	}
	b.exts = append(b.exts, e)
	b.bytes += e.Len
	b.left -= e.Len
	limit := int64(writebackBytes)
	if b.left < writebackBytes {
		limit = writebackTailBytes
	}
	if b.bytes < limit && now.Sub(b.since) < writebackAge {
		return nil
	}
	full := b.exts
	b.exts, b.spare, b.bytes = b.spare[:0], nil, 0
	return full
}

// recycle gives back a slice add returned, for reuse.
func (b *writebackBatch) recycle(exts []storage.Extent) {
	if b.spare == nil {
		b.spare = exts[:0]
	}
}

// writebacker starts the write-back of full batches on a goroutine of its
// own, so a hash worker never sleeps in sync_file_range: the block layer
// throttles the writes a call submits (rq_qos_wait), and a worker asleep
// there is a piece not hashed and a context switch per batch. Batches
// handed over while a call runs are started together by the next one. What
// waits is bounded by the torrent's pieces: one range per written piece.
type writebacker struct {
	st   *storage.Storage
	once sync.Once
	kick chan struct{} // capacity 1: a wake-up is waiting

	mu     sync.Mutex
	queued []storage.Extent // handed over, not started
	spare  []storage.Extent
}

func newWritebacker(st *storage.Storage) *writebacker {
	return &writebacker{st: st, kick: make(chan struct{}, 1)}
}

// hand queues exts (which the caller keeps) to be started, starting the
// goroutine on first use; it never waits for the disk.
func (w *writebacker) hand(t *Torrent, exts []storage.Extent) {
	w.once.Do(func() {
		t.wg.Add(1) // the caller, a hash worker, holds the group open
		go w.run(t.ctx.Done(), &t.wg)
	})
	w.mu.Lock()
	w.queued = append(w.queued, exts...)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run starts the write-back of what is handed over until done closes;
// what is left then is written by the sync at close.
func (w *writebacker) run(done <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-w.kick:
		case <-done:
			return
		}
		w.mu.Lock()
		batch := w.queued
		w.queued, w.spare = w.spare[:0], nil
		w.mu.Unlock()
		w.st.StartWritebacks(batch) // advisory: an error only means a longer final sync
		clear(batch)
		w.mu.Lock()
		w.spare = batch[:0]
		w.mu.Unlock()
	}
}

// assembly is one piece being put together in memory.
type assembly struct {
	piece  int
	size   int64
	blocks []*[]byte // by block index (Begin / BlockSize); nil until received
	have   int
	vec    [][]byte  // scratch for the vectored write
	hash   hash.Hash // SHA-1, reused
	sum    [sha1.Size]byte
}

// newAssembler returns the assembler of a torrent with pieces of pieceLen
// bytes. Each budget admits at least two pieces.
func newAssembler(pieceLen int64) *assembler {
	per := int((pieceLen + wire.BlockSize - 1) / wire.BlockSize)
	return &assembler{
		blocksPerPiece: per,
		maxAssembling:  max(assemblyBudget/wire.BlockSize, 2*int64(per)),
		maxPending:     max(verifyBudget/wire.BlockSize, 2*int64(per)),
		pieces:         make(map[int]*assembly),
		direct:         make(map[int]bool),
	}
}

// writeBlock takes the block just received into its piece (the core's
// WriteBlock action). buf holds the block; the assembler keeps its buffer
// and leaves an empty pooled one in its place, so the caller returns buf to
// blockPool as it would have. A block off the 16 KiB grid, or one past the
// assembly budget, is written through to disk with the rest of its piece.
func (t *Torrent) writeBlock(b swarm.BlockSpec, buf *[]byte) error {
	piece := int(b.Piece)
	size := t.mi.Info.PieceSize(piece)
	switch {
	case buf == nil || int(b.Length) > len(*buf):
		return errors.New("no block buffer for write")
	case size == 0 || int64(b.Begin)+int64(b.Length) > size:
		return fmt.Errorf("block %d:%d+%d outside its piece", b.Piece, b.Begin, b.Length)
	}
	a := t.asm
	if !a.direct[piece] {
		if a.hold(piece, size, b, buf) {
			return nil
		}
		if err := a.spill(t, piece); err != nil {
			return err
		}
	}
	return t.st.WriteBlock(piece, int64(b.Begin), (*buf)[:b.Length])
}

// hold keeps b's buffer in its piece's assembly if the piece is (or may
// start) in memory; false means the block must go to disk.
func (a *assembler) hold(piece int, size int64, b swarm.BlockSpec, buf *[]byte) bool {
	if b.Begin%wire.BlockSize != 0 || int64(b.Length) != min(wire.BlockSize, size-int64(b.Begin)) {
		return false
	}
	idx := int(b.Begin / wire.BlockSize)
	p := a.pieces[piece]
	if (p == nil || p.blocks[idx] == nil) && a.assembling >= a.maxAssembling {
		return false
	}
	if p == nil {
		p = a.newAssembly(piece, size)
		a.pieces[piece] = p
	}
	// Swap buffers: the assembly keeps the received one, the caller gets a
	// spare to put back in the pool. No allocation either way.
	box := blockPool.Get().(*[]byte)
	*box, *buf = *buf, *box
	if old := p.blocks[idx]; old != nil {
		blockPool.Put(old) // the same block twice (endgame): keep the newer
	} else {
		p.have++
		a.assembling++
	}
	p.blocks[idx] = box
	return true
}

// newAssembly returns an empty, possibly recycled, assembly for piece.
func (a *assembler) newAssembly(piece int, size int64) *assembly {
	var p *assembly
	select {
	case p = <-freeAssemblies:
	default:
		p = &assembly{hash: sha1.New()}
	}
	n := int((size + wire.BlockSize - 1) / wire.BlockSize)
	if cap(p.blocks) < n {
		p.blocks = make([]*[]byte, n)
		p.vec = make([][]byte, 0, n)
	}
	p.piece, p.size, p.blocks, p.have = piece, size, p.blocks[:n], 0
	return p
}

// spill writes the blocks of piece held so far to disk, releases them and
// marks the piece as written through: it will be verified from disk.
func (a *assembler) spill(t *Torrent, piece int) error {
	a.direct[piece] = true
	p := a.pieces[piece]
	if p == nil {
		return nil
	}
	delete(a.pieces, piece)
	a.assembling -= int64(p.have)
	defer a.recycle(p)
	for i, box := range p.blocks {
		if box == nil {
			continue
		}
		if err := t.st.WriteBlock(piece, int64(i)*wire.BlockSize, (*box)[:p.blockLen(i)]); err != nil {
			return err
		}
	}
	return nil
}

// take hands piece's assembly to the caller to verify and write, and
// forgets the piece; nil means the piece was written through to disk. The
// blocks count as pending until put.
func (a *assembler) take(piece int) *assembly {
	p := a.pieces[piece]
	delete(a.pieces, piece)
	delete(a.direct, piece)
	if p != nil {
		a.assembling -= int64(p.have)
		a.pending.Add(int64(p.have))
	}
	return p
}

// put releases an assembly obtained from take. Safe from any goroutine.
func (a *assembler) put(p *assembly) {
	n := int64(p.have)
	a.recycle(p)
	if left := a.pending.Add(-n); left <= a.maxPending && left+n > a.maxPending {
		a.mu.Lock()
		for i, w := range a.waiters {
			select {
			case w <- struct{}{}:
			default: // already signalled
			}
			a.waiters[i] = nil
		}
		a.waiters = a.waiters[:0]
		a.mu.Unlock()
	}
}

// recycle returns p's block buffers to blockPool and p to the assembler's
// pool.
func (a *assembler) recycle(p *assembly) {
	for i, box := range p.blocks {
		if box != nil {
			blockPool.Put(box)
			p.blocks[i] = nil
		}
	}
	clear(p.vec)
	p.vec = p.vec[:0]
	select {
	case freeAssemblies <- p:
	default:
	}
}

// waitRoom blocks while more blocks wait for verification than the budget
// allows; false if done closed first. Connection readers call it before
// each message. wake is the caller's own channel of capacity 1, the same
// at every call: the put that brings pending back within the budget sends
// on it, so waiting allocates nothing.
func (a *assembler) waitRoom(wake chan struct{}, done <-chan struct{}) bool {
	for a.pending.Load() > a.maxPending {
		a.mu.Lock()
		// Checked again under mu: a put whose crossing the load above
		// missed takes mu after its decrement, so either this load sees
		// the decrement or that put finds wake among the waiters.
		if a.pending.Load() <= a.maxPending {
			a.mu.Unlock()
			return true
		}
		a.waiters = append(a.waiters, wake)
		a.mu.Unlock()
		select {
		case <-wake: // a crossing, or a stale signal: check again
		case <-done:
			a.mu.Lock()
			if i := slices.Index(a.waiters, wake); i >= 0 {
				a.waiters = slices.Delete(a.waiters, i, i+1)
			}
			a.mu.Unlock()
			return false
		}
	}
	return true
}

// blockLen is the length of block i of the piece.
func (p *assembly) blockLen(i int) int {
	return int(min(wire.BlockSize, p.size-int64(i)*wire.BlockSize))
}

// verify checks a piece's SHA-1. A piece assembled in memory is hashed
// there, block by block, and written to disk with one vectored write only
// if it matched, then handed to the kernel's write-back at once (so the
// sync at completion waits for little). A piece written through is read
// back from disk. For a piece in memory that failed, or when wantDigests,
// it also returns the SHA-1 of each block (see swarm.PieceVerifiedBlocks).
func (t *Torrent) verify(piece int, p *assembly, wantDigests bool) (bool, []swarm.BlockDigest, error) {
	if p == nil {
		ok, err := t.st.VerifyPiece(piece)
		if ok && err == nil {
			t.asm.writing.Lock()
			t.asm.wb.left -= t.mi.Info.PieceSize(piece) // written, for the batch's size
			t.asm.writing.Unlock()
		}
		return ok, nil, err
	}
	if p.have != len(p.blocks) {
		return false, nil, nil // cannot happen: the core verifies only complete pieces
	}
	p.hash.Reset()
	p.vec = p.vec[:0]
	for i, box := range p.blocks {
		b := (*box)[:p.blockLen(i)]
		p.hash.Write(b)
		p.vec = append(p.vec, b)
	}
	ok := [sha1.Size]byte(p.hash.Sum(p.sum[:0])) == t.mi.Info.PieceHash(piece)
	var digests []swarm.BlockDigest
	if !ok || wantDigests {
		// Rare: only pieces that failed, and the copy after a failure.
		digests = make([]swarm.BlockDigest, len(p.vec))
		for i, b := range p.vec {
			digests[i] = sha1.Sum(b)
		}
	}
	if !ok {
		return false, digests, nil
	}
	off := int64(piece) * t.mi.Info.PieceLength
	t.asm.writing.Lock()
	_, err := t.st.WritevAt(p.vec, off)
	if err == nil {
		if wb := t.asm.wb.add(storage.Extent{Off: off, Len: p.size}, time.Now()); wb != nil {
			t.wb.hand(t, wb)
			t.asm.wb.recycle(wb)
		}
	}
	t.asm.writing.Unlock()
	if err != nil {
		return false, nil, err
	}
	return true, digests, nil
}

// writtenEvent is the BlockWritten that follows a WriteBlock (a later
// event of the loop), recycled by the assembler: a block written is one
// such event, and a value event would be boxed, an allocation per block.
type writtenEvent struct {
	spec swarm.BlockSpec
	err  error
}

// written returns the later event reporting the write of spec. The loop only.
func (a *assembler) written(spec swarm.BlockSpec, err error) *writtenEvent {
	var e *writtenEvent
	if n := len(a.freeEvents); n > 0 {
		e, a.freeEvents = a.freeEvents[n-1], a.freeEvents[:n-1]
	} else {
		e = new(writtenEvent)
	}
	e.spec, e.err = spec, err
	return e
}

func (e *writtenEvent) apply(t *Torrent, now time.Time) {
	spec, err := e.spec, e.err
	*e = writtenEvent{}
	if len(t.asm.freeEvents) < maxFreeEvents {
		t.asm.freeEvents = append(t.asm.freeEvents, e)
	}
	t.core.BlockWritten(now, spec, err)
}

func (e *writtenEvent) release() {}

// maxFreeEvents bounds the recycled writtenEvents an assembler keeps.
const maxFreeEvents = 256
