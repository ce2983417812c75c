package wire

import "testing"

// BenchmarkReadMessagePiece reads full-size Piece messages; it reports 0
// allocs/op when the Reader reuses its buffer as documented.
func BenchmarkReadMessagePiece(b *testing.B) {
	msg := encodeAll(b, []Message{{Type: Piece, Index: 7, Begin: BlockSize, Block: make([]byte, BlockSize)}})
	r := NewReader(&repeatReader{data: msg}, 0)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadMessageHave reads small messages, where the Reader's own
// buffering matters most.
func BenchmarkReadMessageHave(b *testing.B) {
	msg := encodeAll(b, []Message{{Type: Have, Index: 7}})
	r := NewReader(&repeatReader{data: msg}, 0)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
