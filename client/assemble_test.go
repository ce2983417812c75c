package client

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/metainfo"
	"github.com/shoal-p2p/shoal/storage"
	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// assemblyRig is a torrent reduced to what the assembler uses: its
// metainfo, an empty download and the assembler.
type assemblyRig struct {
	t    *Torrent
	data []byte
	out  string
}

func newAssemblyRig(t *testing.T, size int, pieceLen int64) *assemblyRig {
	t.Helper()
	src := filepath.Join(t.TempDir(), "f.bin")
	data := writeRandomFile(t, src, size, 11)
	mi := createTorrent(t, src, pieceLen)
	out := t.TempDir()
	layout := storage.Layout{PieceLength: pieceLen, Files: []storage.File{{Path: "f.bin", Length: int64(size)}}}
	for i := range mi.Info.NumPieces() {
		layout.PieceHashes = append(layout.PieceHashes, mi.Info.PieceHash(i))
	}
	st, err := storage.Open(out, layout, storage.ReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	tr := &Torrent{mi: mi, st: st, asm: newAssembler(pieceLen), wb: newWritebacker(st), ctx: ctx}
	tr.asm.wb.left = int64(size)
	t.Cleanup(func() { cancel(); tr.wg.Wait() }) // before st.Close
	return &assemblyRig{t: tr, data: data, out: filepath.Join(out, "f.bin")}
}

// deliver hands one block of piece to the assembler as the loop would,
// with a pooled buffer holding payload, and checks the buffer swap.
func (r *assemblyRig) deliver(t *testing.T, b swarm.BlockSpec, payload []byte) {
	t.Helper()
	box := blockPool.Get().(*[]byte)
	copy(*box, payload)
	if err := r.t.writeBlock(b, box); err != nil {
		t.Fatalf("write block %v: %v", b, err)
	}
	if len(*box) != wire.BlockSize {
		t.Fatalf("the loop got back a %d-byte buffer", len(*box))
	}
	blockPool.Put(box)
}

// blocksOf lists the blocks of piece on the 16 KiB grid.
func blocksOf(mi *metainfo.MetaInfo, piece int) []swarm.BlockSpec {
	size := mi.Info.PieceSize(piece)
	var out []swarm.BlockSpec
	for begin := int64(0); begin < size; begin += wire.BlockSize {
		out = append(out, swarm.BlockSpec{Piece: uint32(piece), Begin: uint32(begin), Length: uint32(min(wire.BlockSize, size-begin))})
	}
	return out
}

// finish takes piece and verifies it as the loop's VerifyPiece does.
func (r *assemblyRig) finish(t *testing.T, piece int) bool {
	t.Helper()
	p := r.t.asm.take(piece)
	if p != nil {
		defer r.t.asm.put(p)
	}
	ok, _, err := r.t.verify(piece, p, false)
	if err != nil {
		t.Fatalf("verify piece %d: %v", piece, err)
	}
	return ok
}

func (r *assemblyRig) onDisk(t *testing.T, piece int) []byte {
	t.Helper()
	f, err := os.ReadFile(r.out)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(piece) * r.t.mi.Info.PieceLength
	return f[off : off+r.t.mi.Info.PieceSize(piece)]
}

// TestAssemblerInMemory delivers every block of every piece in random
// order (the last piece short, its last block short): each piece stays off
// the disk until it verifies, and a corrupt piece never reaches it.
func TestAssemblerInMemory(t *testing.T) {
	t.Parallel()
	const pieceLen = 64 << 10
	r := newAssemblyRig(t, 5*pieceLen+20_000, pieceLen)
	mi := r.t.mi
	rng := rand.New(rand.NewPCG(1, 2))
	for piece := range mi.Info.NumPieces() {
		blocks := blocksOf(mi, piece)
		rng.Shuffle(len(blocks), func(i, j int) { blocks[i], blocks[j] = blocks[j], blocks[i] })
		off := int64(piece) * pieceLen
		corrupt := piece == 2
		for _, b := range blocks {
			payload := r.data[off+int64(b.Begin) : off+int64(b.Begin)+int64(b.Length)]
			if corrupt {
				payload = bytes.Repeat([]byte{0xEE}, len(payload))
			}
			r.deliver(t, b, payload)
		}
		if got := r.onDisk(t, piece); !bytes.Equal(got, make([]byte, len(got))) {
			t.Fatalf("piece %d reached the disk before it was verified", piece)
		}
		if ok := r.finish(t, piece); ok == corrupt {
			t.Fatalf("piece %d verified %v, corrupt %v", piece, ok, corrupt)
		}
		want := r.data[off : off+mi.Info.PieceSize(piece)]
		if corrupt {
			want = make([]byte, len(want))
		}
		if !bytes.Equal(r.onDisk(t, piece), want) {
			t.Fatalf("piece %d on disk differs from what was expected (corrupt %v)", piece, corrupt)
		}
	}
	if a := r.t.asm; a.assembling != 0 || a.pending.Load() != 0 || len(a.pieces) != 0 {
		t.Errorf("assembler still holds blocks: %d assembling, %d pending, %d pieces", a.assembling, a.pending.Load(), len(a.pieces))
	}
}

// TestAssemblerSpills fills the assembly budget: the piece that does not
// fit goes to disk with the blocks it already had, verifies from there, and
// a later piece is back in memory.
func TestAssemblerSpills(t *testing.T) {
	t.Parallel()
	const pieceLen = 64 << 10 // 4 blocks
	r := newAssemblyRig(t, 4*pieceLen, pieceLen)
	r.t.asm.maxAssembling = 6
	mi := r.t.mi
	block := func(piece int, b swarm.BlockSpec) []byte {
		off := int64(piece)*pieceLen + int64(b.Begin)
		return r.data[off : off+int64(b.Length)]
	}
	p0, p1 := blocksOf(mi, 0), blocksOf(mi, 1)
	for _, b := range p0[:3] { // 3 held
		r.deliver(t, b, block(0, b))
	}
	for _, b := range p1[:3] { // 6 held: the budget
		r.deliver(t, b, block(1, b))
	}
	r.deliver(t, p1[3], block(1, p1[3])) // over: piece 1 spills
	if !r.t.asm.direct[1] || r.t.asm.pieces[1] != nil {
		t.Fatal("piece 1 did not spill to disk")
	}
	if got := r.onDisk(t, 1); !bytes.Equal(got, r.data[pieceLen:2*pieceLen]) {
		t.Fatal("piece 1's spilled blocks are not on disk")
	}
	r.deliver(t, p0[3], block(0, p0[3])) // piece 0 completes in memory
	if r.t.asm.pieces[0] == nil || r.t.asm.pieces[0].have != 4 {
		t.Fatal("piece 0 left memory")
	}
	for piece := range 2 {
		if !r.finish(t, piece) {
			t.Fatalf("piece %d did not verify", piece)
		}
	}
	// Both count as written for the write-back's batches: the one from
	// memory and the one verified from disk.
	if left := r.t.asm.wb.left; left != 2*pieceLen {
		t.Fatalf("%d bytes left to write after 2 of 4 pieces, want %d", left, 2*pieceLen)
	}
	for _, b := range blocksOf(mi, 2) {
		r.deliver(t, b, block(2, b))
	}
	if r.t.asm.pieces[2] == nil {
		t.Fatal("piece 2 is not assembled in memory after the budget freed up")
	}
	if !r.finish(t, 2) || !bytes.Equal(r.onDisk(t, 2), r.data[2*pieceLen:3*pieceLen]) {
		t.Fatal("piece 2 did not verify and land on disk")
	}
	// A block off the 16 KiB grid is written through, with its piece.
	r.deliver(t, swarm.BlockSpec{Piece: 3, Begin: 0, Length: wire.BlockSize}, block(3, swarm.BlockSpec{Length: wire.BlockSize}))
	odd := swarm.BlockSpec{Piece: 3, Begin: wire.BlockSize, Length: 100}
	r.deliver(t, odd, block(3, odd))
	if !r.t.asm.direct[3] {
		t.Fatal("an off-grid block did not send its piece to disk")
	}
}

// takeWhole delivers every block of each piece and takes its assembly, as
// the hash worker does: those blocks then count as pending verification.
func (r *assemblyRig) takeWhole(t *testing.T, pieces ...int) []*assembly {
	var taken []*assembly
	for _, piece := range pieces {
		for _, b := range blocksOf(r.t.mi, piece) {
			r.deliver(t, b, make([]byte, b.Length))
		}
		taken = append(taken, r.t.asm.take(piece))
	}
	return taken
}

// awaitResumed fails t unless a reader's waitRoom returns true on resumed
// within 10 s; what says what the reader should have resumed on.
func awaitResumed(t *testing.T, resumed <-chan bool, what string) {
	t.Helper()
	select {
	case ok := <-resumed:
		if !ok {
			t.Fatal("waitRoom reported closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader did not resume " + what)
	}
}

// TestAssemblerBackpressure checks that readers wait while more blocks
// wait for verification than the budget allows, and resume when one piece
// is put back.
func TestAssemblerBackpressure(t *testing.T) {
	t.Parallel()
	const pieceLen = 64 << 10
	r := newAssemblyRig(t, 4*pieceLen, pieceLen)
	a := r.t.asm
	a.maxPending = 4
	taken := r.takeWhole(t, 0, 1)
	resumed := make(chan bool, 1)
	go func() { resumed <- a.waitRoom(make(chan struct{}, 1), make(chan struct{})) }()
	select {
	case <-resumed:
		t.Fatal("a reader went on with 8 blocks pending and a budget of 4")
	case <-time.After(50 * time.Millisecond): // absence check: nothing to wait on
	}
	a.put(taken[0])
	awaitResumed(t, resumed, "once pending blocks fell within the budget")
	a.put(taken[1])
	closed := make(chan struct{})
	close(closed)
	a.pending.Store(100)
	if a.waitRoom(make(chan struct{}, 1), closed) {
		t.Error("waitRoom on a closed connection returned true")
	}
	if n := len(a.waiters); n != 0 {
		t.Errorf("a reader whose connection closed is still among %d waiters", n)
	}
}

// TestAssemblerRoomNoAlloc checks that a reader paused by the verify
// budget and resumed by the put that brings pending back within it costs
// no allocation, however often it happens: the room channel was closed
// and made anew at each such crossing, an allocation per piece verified
// while the readers outran the hashing. Not parallel: AllocsPerRun counts
// the whole process's allocations.
func TestAssemblerRoomNoAlloc(t *testing.T) {
	a := newAssembler(64 << 10)
	a.maxPending = 4
	a.pending.Store(4)
	wake, done := make(chan struct{}, 1), make(chan struct{})
	next, resumed := make(chan struct{}), make(chan bool)
	go func() {
		for range next {
			resumed <- a.waitRoom(wake, done)
		}
	}()
	defer close(next)
	allocs := testing.AllocsPerRun(200, func() {
		p := a.newAssembly(0, 64<<10) // the one put back last time
		p.have = 4                    // no blocks held: put only counts them
		a.pending.Add(4)              // 8 pending: over the budget
		next <- struct{}{}
		for {
			a.mu.Lock()
			n := len(a.waiters)
			a.mu.Unlock()
			if n > 0 {
				break
			}
			runtime.Gosched() // the reader has not found the budget exceeded yet
		}
		a.put(p) // 8 -> 4: the reader resumes
		if !<-resumed {
			t.Fatal("waitRoom reported closed")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per pause and resume of a reader, want 0", allocs)
	}
}

// TestBufferPool checks the free list: buffers come back most recent
// first, at full size; up to max come from slabs and are always kept,
// beyond that from the heap and kept while there is room.
func TestBufferPool(t *testing.T) {
	p := &bufferPool{size: 100, max: 2}
	a, b, c := p.Get().(*[]byte), p.Get().(*[]byte), p.Get().(*[]byte)
	if p.carved != 2 || len(*a) != 100 || len(*c) != 100 || cap(*a) != 100 {
		t.Fatalf("carved %d buffers (want 2), sizes %d/%d, cap %d", p.carved, len(*a), len(*c), cap(*a))
	}
	*a = (*a)[:10]
	p.Put(a)
	p.Put(b)
	p.Put(c) // over max: dropped
	if len(p.free) != 2 {
		t.Fatalf("pool keeps %d buffers, want 2", len(p.free))
	}
	if got := p.Get().(*[]byte); got != b {
		t.Error("Get did not return the buffer put back last")
	}
	if got := p.Get().(*[]byte); got != a || len(*got) != 100 {
		t.Errorf("Get returned %p of %d bytes, want %p of 100", got, len(*got), a)
	}
	if allocs := testing.AllocsPerRun(100, func() { p.Put(p.Get()) }); allocs != 0 {
		t.Errorf("Get and Put of a kept buffer allocate %.1f times", allocs)
	}
}

// TestBufferPoolCarvesBoxes checks that buffers carved from slabs cost
// no allocation each: their *[]byte boxes come from one array per slab
// (each box was allocated on its own, an allocation per block while the
// pool filled). Not parallel: AllocsPerRun counts the whole process's
// allocations.
func TestBufferPoolCarvesBoxes(t *testing.T) {
	const runs = 20
	p := &bufferPool{size: 64, max: (runs + 2) * slabBlocks}
	seen := make(map[*[]byte]bool, (runs+2)*slabBlocks)
	var got [slabBlocks]*[]byte
	allocs := testing.AllocsPerRun(runs, func() {
		for i := range got {
			got[i] = p.Get().(*[]byte) // a fresh slab's worth
		}
	})
	for _, b := range got {
		if seen[b] || len(*b) != 64 || cap(*b) != 64 {
			t.Fatalf("a carved buffer is reused or of %d bytes (cap %d)", len(*b), cap(*b))
		}
		seen[b] = true
	}
	// One array of boxes per slab, and what mapping the slab costs.
	if allocs > 2 {
		t.Errorf("%v allocations to carve a slab of %d buffers, want at most 2", allocs, slabBlocks)
	}
}

// TestWritebackBatchTail: written pieces are handed to the write-back in
// batches of writebackBytes while more than that is left to write, then in
// batches of writebackTailBytes, so the sync at completion waits for at
// most a tail batch; every range noted is handed over once.
func TestWritebackBatchTail(t *testing.T) {
	const piece, total = 128 << 10, 64 << 20
	b := writebackBatch{left: total}
	start := time.Now()
	var sizes []int64
	handed := 0
	for off := int64(0); off < total; off += piece {
		full := b.add(storage.Extent{Off: off, Len: piece}, start)
		if full == nil {
			continue
		}
		n := int64(0)
		for _, e := range full {
			n += e.Len
		}
		sizes = append(sizes, n)
		handed += len(full)
		b.recycle(full)
	}
	// 64 MiB: three 16 MiB batches leave 16 MiB to write, which goes in
	// four tail batches.
	want := []int64{16 << 20, 16 << 20, 16 << 20, 4 << 20, 4 << 20, 4 << 20, 4 << 20}
	if !slices.Equal(sizes, want) {
		t.Fatalf("batches of %v bytes, want %v", sizes, want)
	}
	if handed != total/piece || b.bytes != 0 || len(b.exts) != 0 {
		t.Fatalf("%d ranges handed over, %d bytes (%d ranges) left in the batch", handed, b.bytes, len(b.exts))
	}
	// A slow receiver's batch goes once it is writebackAge old, however
	// small.
	b = writebackBatch{left: total}
	if b.add(storage.Extent{Off: 0, Len: piece}, start) != nil {
		t.Fatal("a batch of one piece was handed over at once")
	}
	if b.add(storage.Extent{Off: piece, Len: piece}, start.Add(writebackAge-time.Millisecond)) != nil {
		t.Fatal("a batch was handed over before writebackAge")
	}
	if full := b.add(storage.Extent{Off: 2 * piece, Len: piece}, start.Add(writebackAge)); len(full) != 3 {
		t.Fatalf("a batch writebackAge old handed over %d ranges, want 3", len(full))
	}
}

// TestAssembliesSharedByTorrents checks that a new torrent's assembler
// reuses the assemblies (block list and hash state) that others emptied,
// so a torrent under way allocates none: kept per assembler, each new
// torrent allocated them again as its pieces in flight grew. Not parallel:
// AllocsPerRun counts the whole process's allocations.
func TestAssembliesSharedByTorrents(t *testing.T) {
	const runs = 50
	fresh := make([]*assembler, runs+1) // AllocsPerRun runs once more to warm up
	for i := range fresh {
		fresh[i] = newAssembler(256 << 10)
	}
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		a := fresh[i]
		i++
		a.recycle(a.newAssembly(0, 256<<10))
	})
	if allocs != 0 {
		t.Errorf("%v allocations for a new torrent's first assembly, want 0", allocs)
	}
}
