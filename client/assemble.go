package client

import (
	"sync"
)

// assemblyBudget is how many bytes of pieces in progress one torrent may
// hold in memory.
const assemblyBudget = 64 << 20

// assembler collects the blocks of pieces in progress in memory, so a
// piece is hashed before it touches the disk (corrupt data never reaches
// the file) and is written with one positioned write instead of one per
// block. Pieces beyond the memory budget are written through to disk block
// by block and verified from there. Only the torrent loop calls its
// methods, except put, which is safe from any goroutine.
type assembler struct {
	pieceLen int
	max      int
	pool     sync.Pool
	bufs     map[int][]byte
	direct   map[int]bool
}

func newAssembler(pieceLen int64) *assembler {
	a := &assembler{
		pieceLen: int(pieceLen),
		max:      max(4, assemblyBudget/int(pieceLen)),
		bufs:     make(map[int][]byte),
		direct:   make(map[int]bool),
	}
	a.pool.New = func() any { b := make([]byte, a.pieceLen); return &b }
	return a
}

// buffer returns the in-memory buffer for piece, allocating one if the
// budget allows; ok is false when the piece is written through to disk.
func (a *assembler) buffer(piece int) (buf []byte, ok bool) {
	if a.direct[piece] {
		return nil, false
	}
	if b, ok := a.bufs[piece]; ok {
		return b, true
	}
	if len(a.bufs) >= a.max {
		a.direct[piece] = true
		return nil, false
	}
	b := *a.pool.Get().(*[]byte)
	a.bufs[piece] = b
	return b, true
}

// take hands the piece's buffer to the caller (to hash and write it) and
// forgets the piece; buf is nil if the piece was written through to disk.
func (a *assembler) take(piece int) []byte {
	b := a.bufs[piece]
	delete(a.bufs, piece)
	delete(a.direct, piece)
	return b
}

// put returns a buffer obtained from take to the pool.
func (a *assembler) put(b []byte) {
	if cap(b) >= a.pieceLen {
		b = b[:a.pieceLen]
		a.pool.Put(&b)
	}
}
