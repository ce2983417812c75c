package client

import (
	"sync"

	"github.com/shoal-p2p/shoal/wire"
)

// blockPool recycles block-sized buffers for the data path: sockets read
// into them, assemblies hold them, writers send from them.
var blockPool = &bufferPool{size: wire.BlockSize, max: maxFreeBlocks}

// maxFreeBlocks bounds the buffers blockPool carves and keeps (64 MiB).
const maxFreeBlocks = 4096

// slabBlocks is how many buffers one slab holds (1 MiB).
const slabBlocks = 64

// bufferPool is a free list of equal buffers. Unlike a sync.Pool, which
// drops what it holds at every garbage collection, it keeps its buffers, so
// a steady transfer allocates none and the memory it holds is the most that
// was ever in use at once (a 5 GB download's RSS rose from 54 to 69 MB over
// its 70 s with a sync.Pool, as dropped buffers were allocated again).
//
// The buffers are carved from slabs mapped outside the Go heap (see
// newSlab): tens of MB of transfer buffers in the heap would raise the
// collector's target with them (GOGC lets the heap grow by as much as is
// live), and the garbage of everything else could then grow by as much
// before a collection. Up to max buffers come from slabs and always fit back
// in the free list; beyond that, buffers come from the Go heap and are
// dropped if the list is full. The list is a stack, so the buffer handed out
// is the one most recently used, likely still in cache.
type bufferPool struct {
	size, max int
	mu        sync.Mutex
	free      []*[]byte
	slab      []byte   // the rest of the current slab
	boxes     [][]byte // the current slab's unused boxes (see Get)
	carved    int      // buffers carved from slabs
}

// Get returns a buffer of the pool's size (as *[]byte, boxed in an any so
// callers use it as they would a sync.Pool). The *[]byte boxes of a slab's
// buffers are carved from one array made with the slab, not allocated one
// by one: a box per buffer was an allocation per block while the pool
// filled, the most frequent of the Transfer benchmark's (session 14).
func (p *bufferPool) Get() any {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	if p.carved < p.max {
		if len(p.slab) < p.size || len(p.boxes) == 0 {
			n := min(slabBlocks, p.max-p.carved)
			p.slab, p.boxes = newSlab(n*p.size), make([][]byte, n)
		}
		b := &p.boxes[0]
		p.boxes = p.boxes[1:]
		*b = p.slab[:p.size:p.size]
		p.slab = p.slab[p.size:]
		p.carved++
		return b
	}
	b := make([]byte, p.size)
	return &b
}

// Put gives back a buffer obtained from Get.
func (p *bufferPool) Put(x any) {
	b := x.(*[]byte)
	if cap(*b) < p.size {
		return
	}
	*b = (*b)[:p.size]
	p.mu.Lock()
	if len(p.free) < p.max {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}
