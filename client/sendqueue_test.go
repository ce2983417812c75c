package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shoal-p2p/shoal/swarm"
	"github.com/shoal-p2p/shoal/wire"
)

// drainQueue takes everything from q and renders it as one string of
// wire bytes, with each block send as "<piece:begin+len>".
func drainQueue(q *sendQueue, maxBlocks int) string {
	var out bytes.Buffer
	var blocks []queuedBlock
	for !q.empty() {
		var msgs []byte
		msgs, blocks = q.take(maxBlocks, blocks[:0])
		out.Write(msgs)
		for _, b := range blocks {
			fmt.Fprintf(&out, "<%v>", b.spec)
		}
	}
	return out.String()
}

func mustEncode(t *testing.T, m wire.Message) string {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSendQueueOrder checks that messages and block sends come out in the
// order they were queued, whatever the batch size, with drops and takes
// interleaved with pushes (so compaction runs with data left behind).
func TestSendQueueOrder(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	for round := 0; round < 200; round++ {
		var q sendQueue
		var want, got bytes.Buffer
		var live []swarm.BlockSpec // queued blocks not yet taken, in order
		maxBlocks := 1 + rng.IntN(4)
		for step := 0; step < 300; step++ {
			switch r := rng.IntN(10); {
			case r < 4:
				m := wire.Message{Type: wire.Have, Index: uint32(step)}
				if err := q.pushMessage(m); err != nil {
					t.Fatal(err)
				}
				want.WriteString(mustEncode(t, m))
			case r < 7:
				spec := swarm.BlockSpec{Piece: uint32(step), Length: wire.BlockSize}
				if err := q.pushBlock(spec); err != nil {
					t.Fatal(err)
				}
				want.WriteString(fmt.Sprintf("<%v>", spec))
				live = append(live, spec)
			case r < 8 && len(live) > 0:
				k := rng.IntN(len(live))
				if !q.drop(live[k]) {
					t.Fatalf("seed %d: drop of queued block %v failed", seed, live[k])
				}
				w := want.String()
				want.Reset()
				want.WriteString(strings.Replace(w, fmt.Sprintf("<%v>", live[k]), "", 1)) // specs are unique
				live = append(live[:k], live[k+1:]...)
			default:
				msgs, blocks := q.take(maxBlocks, nil)
				got.Write(msgs)
				for _, b := range blocks {
					fmt.Fprintf(&got, "<%v>", b.spec)
					live = live[1:] // blocks come out in order
				}
			}
		}
		got.WriteString(drainQueue(&q, maxBlocks))
		if got.String() != want.String() {
			t.Fatalf("seed %d round %d: queue reordered or lost data:\n got %q\nwant %q", seed, round, got.String(), want.String())
		}
		if q.msgBytes != 0 || q.blockBytes != 0 {
			t.Fatalf("seed %d: drained queue still counts %d message and %d block bytes", seed, q.msgBytes, q.blockBytes)
		}
	}
}

// TestSendQueueBounds fills a queue past each bound.
func TestSendQueueBounds(t *testing.T) {
	var q sendQueue
	reject := wire.Message{Type: wire.Reject, Length: wire.BlockSize}
	n := 0
	var err error
	for err == nil {
		err = q.pushMessage(reject)
		n++
	}
	if !errors.Is(err, errSendQueueFull) {
		t.Fatalf("push past the message bound: %v, want errSendQueueFull", err)
	}
	if want := maxQueuedMessageBytes/17 + 1; n != want {
		t.Errorf("queue took %d rejects, want %d", n-1, want-1)
	}
	if len(q.msgs) > maxQueuedMessageBytes {
		t.Errorf("queue holds %d bytes of messages, bound %d", len(q.msgs), maxQueuedMessageBytes)
	}
	// A failed push leaves what was queued intact.
	if got := drainQueue(&q, 1); len(got) != (n-1)*17 {
		t.Errorf("drained %d bytes, want %d", len(got), (n-1)*17)
	}

	// Blocks count at their wire size; with messages they share the total.
	q = sendQueue{}
	blocks := 0
	for err = nil; err == nil; blocks++ {
		err = q.pushBlock(swarm.BlockSpec{Piece: uint32(blocks), Length: wire.BlockSize})
	}
	if want := maxQueuedBytes/(wire.BlockSize+pieceHeaderLen) + 1; blocks != want {
		t.Errorf("queue took %d blocks, want %d", blocks-1, want-1)
	}
	if err := q.pushMessage(wire.Message{Type: wire.Bitfield, Bitfield: make([]byte, 1<<19)}); !errors.Is(err, errSendQueueFull) {
		t.Errorf("512 KiB message behind a full block queue: %v, want errSendQueueFull", err)
	}
	if err := q.pushMessage(wire.Message{Type: wire.Have}); err != nil {
		t.Errorf("small message fits in what the blocks leave: %v", err)
	}
	// Taking frees room.
	_, got := q.take(4, nil)
	if len(got) != 4 {
		t.Fatalf("took %d blocks, want 4", len(got))
	}
	if err := q.pushBlock(swarm.BlockSpec{Piece: 1 << 20, Length: wire.BlockSize}); err != nil {
		t.Errorf("push after take: %v", err)
	}
}

// TestSendQueueReleasesBursts checks that an emptied queue gives back a
// large buffer and that release forgets everything.
func TestSendQueueReleasesBursts(t *testing.T) {
	var q sendQueue
	if err := q.pushMessage(wire.Message{Type: wire.Bitfield, Bitfield: make([]byte, 1<<19)}); err != nil {
		t.Fatal(err)
	}
	drainQueue(&q, 1)
	q.take(1, nil) // compacts the empty queue
	if cap(q.msgs) > keptQueueCapacity {
		t.Errorf("empty queue keeps a %d-byte buffer, want at most %d", cap(q.msgs), keptQueueCapacity)
	}
	q.pushMessage(wire.Message{Type: wire.Have})
	q.pushBlock(swarm.BlockSpec{Length: 1})
	q.release()
	if !q.empty() || q.msgs != nil || q.blocks != nil {
		t.Errorf("released queue still holds data: %+v", q)
	}
}

// TestSendQueueShared checks shared payloads: they come out in order as
// complete extended messages, cost the queue's bounds only their header,
// and report themselves written (or released) to their owner's count.
func TestSendQueueShared(t *testing.T) {
	var q sendQueue
	var sent atomic.Int32
	payload := bytes.Repeat([]byte{'x'}, 3*maxQueuedMessageBytes) // larger than the message bound
	have := wire.Message{Type: wire.Have, Index: 7}
	if err := q.pushMessage(have); err != nil {
		t.Fatal(err)
	}
	sent.Add(1)
	if err := q.pushShared(3, payload, &sent); err != nil {
		t.Fatalf("shared payload counted against the byte bound: %v", err)
	}
	var out bytes.Buffer
	var blocks []queuedBlock
	for !q.empty() {
		var msgs []byte
		msgs, blocks = q.take(4, blocks[:0])
		out.Write(msgs)
		for _, b := range blocks {
			out.Write(b.shared)
			b.done()
		}
	}
	hdr := []byte{0, 0, 0, 0, byte(wire.Extended), 3}
	binary.BigEndian.PutUint32(hdr, uint32(2+len(payload)))
	want := mustEncode(t, have) + string(hdr) + string(payload)
	if out.String() != want {
		t.Fatalf("shared message came out wrong (%d bytes, want %d)", out.Len(), len(want))
	}
	if n := sent.Load(); n != 0 {
		t.Fatalf("count after writing = %d, want 0", n)
	}
	sent.Add(2)
	for range 2 {
		if err := q.pushShared(3, payload[:10], &sent); err != nil {
			t.Fatal(err)
		}
	}
	q.release()
	if n := sent.Load(); n != 0 {
		t.Fatalf("count after release = %d, want 0", n)
	}
}
