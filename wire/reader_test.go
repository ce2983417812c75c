package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"
)

// encodeAll frames msgs back to back.
func encodeAll(t testing.TB, msgs []Message) []byte {
	t.Helper()
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.AppendBinary(b); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// cloneMessage deep-copies the slices that alias a Reader's buffer.
func cloneMessage(m Message) Message {
	clone := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		return append([]byte{}, b...)
	}
	m.Block, m.Bitfield, m.ExtendedPayload = clone(m.Block), clone(m.Bitfield), clone(m.ExtendedPayload)
	return m
}

// oneByteReader returns at most one byte per Read, to exercise partial reads.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestReaderStream(t *testing.T) {
	msgs := sampleMessages()
	msgs = append(msgs, Message{Type: Bitfield, Bitfield: bytes.Repeat([]byte{0x5A}, 100_000)})
	stream := encodeAll(t, msgs)
	for name, src := range map[string]io.Reader{
		"whole":    bytes.NewReader(stream),
		"one byte": oneByteReader{bytes.NewReader(stream)},
	} {
		r := NewReader(src, 0)
		for i, want := range msgs {
			got, err := r.ReadMessage()
			if err != nil {
				t.Fatalf("%s: message %d: %v", name, i, err)
			}
			if !reflect.DeepEqual(cloneMessage(got), want) {
				t.Fatalf("%s: message %d: got %+v, want %+v", name, i, got, want)
			}
		}
		if _, err := r.ReadMessage(); err != io.EOF {
			t.Fatalf("%s: at end: err = %v, want io.EOF", name, err)
		}
	}
}

func TestReaderTruncated(t *testing.T) {
	stream := encodeAll(t, []Message{{Type: Have, Index: 1}, {Type: Piece, Block: []byte("hello")}})
	// Every cut after the first message and before the end is inside the second.
	for cut := 10; cut < len(stream); cut++ {
		r := NewReader(bytes.NewReader(stream[:cut]), 0)
		if _, err := r.ReadMessage(); err != nil {
			t.Fatalf("cut %d: first message: %v", cut, err)
		}
		_, err := r.ReadMessage()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut %d: err = %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}

func TestReaderSkipsUnknownAndMalformed(t *testing.T) {
	var stream []byte
	stream = append(stream, 0, 0, 0, 4, 0x42, 'x', 'y', 'z') // unknown id 0x42
	stream = append(stream, 0, 0, 0, 3, byte(Have), 0, 0)    // have with 2-byte index
	stream = append(stream, encodeAll(t, []Message{{Type: Unchoke}})...)
	r := NewReader(bytes.NewReader(stream), 0)
	_, err := r.ReadMessage()
	var ue *UnknownMessageError
	if !errors.As(err, &ue) || ue.Type != 0x42 {
		t.Fatalf("first: err = %v, want unknown type 0x42", err)
	}
	if _, err := r.ReadMessage(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("second: err = %v, want ErrMalformed", err)
	}
	m, err := r.ReadMessage()
	if err != nil || m.Type != Unchoke {
		t.Fatalf("third: %+v, %v; want unchoke", m, err)
	}
}

func TestReaderMaxLen(t *testing.T) {
	stream := encodeAll(t, []Message{{Type: Bitfield, Bitfield: make([]byte, 99)}, {Type: Bitfield, Bitfield: make([]byte, 100)}})
	r := NewReader(bytes.NewReader(stream), 100)
	if _, err := r.ReadMessage(); err != nil {
		t.Fatalf("message at the limit: %v", err)
	}
	if _, err := r.ReadMessage(); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("message over the limit: err = %v, want ErrMessageTooLarge", err)
	}
}

// hugePrefixReader yields a length prefix and then endless zero bytes,
// counting how many payload bytes were asked of it.
type hugePrefixReader struct {
	prefix [4]byte
	sent   int
}

func (h *hugePrefixReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if h.sent < 4 {
			p[n] = h.prefix[h.sent]
		} else {
			p[n] = 0
		}
		h.sent++
		n++
	}
	return n, nil
}

func TestReaderRejectsHugePrefixWithoutAllocating(t *testing.T) {
	for _, n := range []uint32{MaxMessageLength + 1, 1 << 30, 0xFFFFFFFF} {
		src := &hugePrefixReader{prefix: [4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}}
		r := NewReader(src, 0)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := r.ReadMessage()
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("prefix %d: err = %v, want ErrMessageTooLarge", n, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
			t.Fatalf("prefix %d: allocated %d bytes before refusing", n, alloc)
		}
		if src.sent > readBufferSize {
			t.Fatalf("prefix %d: read %d bytes, more than one buffer fill", n, src.sent)
		}
	}
	// A smaller per-reader bound applies the same way.
	src := &hugePrefixReader{prefix: [4]byte{0, 0, 0x40, 0x0A}} // BlockSize + 10
	if _, err := NewReader(src, BlockSize+9).ReadMessage(); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("reader bound BlockSize+9: err = %v", err)
	}
}

func TestReaderBufferReuse(t *testing.T) {
	stream := encodeAll(t, []Message{
		{Type: Piece, Block: []byte("first")},
		{Type: Piece, Block: []byte("again")},
	})
	r := NewReader(bytes.NewReader(stream), 0)
	m1, _ := r.ReadMessage()
	first := m1.Block
	if _, err := r.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	// Documented: the previous block is overwritten by the next read.
	if string(first) != "again" {
		t.Fatalf("block was not read into the reused buffer: %q", first)
	}
}

func TestReaderPieceDoesNotAllocate(t *testing.T) {
	msg := encodeAll(t, []Message{{Type: Piece, Index: 1, Begin: 0, Block: make([]byte, BlockSize)}})
	src := &repeatReader{data: msg}
	r := NewReader(src, 0)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ReadMessage of a piece allocates %.1f times", allocs)
	}
}

// TestReadMessageInto checks that a Piece block lands in the caller's
// buffer, that other messages and oversized blocks leave it alone, and that
// reading pieces this way does not allocate.
func TestReadMessageInto(t *testing.T) {
	msgs := []Message{
		{Type: Piece, Index: 3, Begin: BlockSize, Block: bytes.Repeat([]byte{7}, BlockSize)},
		{Type: Have, Index: 9},
		{Type: Piece, Index: 4, Block: []byte("short")},
		{Type: Piece, Index: 5, Block: bytes.Repeat([]byte{1}, 100)},
	}
	stream := encodeAll(t, msgs)
	for name, src := range map[string]io.Reader{
		"whole":    bytes.NewReader(stream),
		"one byte": oneByteReader{bytes.NewReader(stream)},
	} {
		r := NewReader(src, 0)
		block := make([]byte, BlockSize)
		for i, want := range msgs {
			in := block
			if i == 3 {
				in = block[:99] // too small: read into the Reader's buffer
			}
			got, err := r.ReadMessageInto(in)
			if err != nil {
				t.Fatalf("%s: message %d: %v", name, i, err)
			}
			if want.Type == Piece {
				want.Length = uint32(len(want.Block))
			}
			if !reflect.DeepEqual(cloneMessage(got), want) {
				t.Fatalf("%s: message %d = %+v, want %+v", name, i, got, want)
			}
			aliases := len(got.Block) > 0 && &got.Block[0] == &block[0]
			if wantAlias := want.Type == Piece && i != 3; aliases != wantAlias {
				t.Fatalf("%s: message %d: block aliases the caller's buffer: %v, want %v", name, i, aliases, wantAlias)
			}
		}
	}

	msg := encodeAll(t, []Message{{Type: Piece, Index: 1, Block: make([]byte, BlockSize)}})
	r := NewReader(&repeatReader{data: msg}, 0)
	block := make([]byte, BlockSize)
	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.ReadMessageInto(block); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Fatalf("ReadMessageInto of a piece allocates %.1f times", allocs)
	}
}

// repeatReader yields data over and over.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

func TestWriteMessage(t *testing.T) {
	var buf bytes.Buffer
	for _, m := range sampleMessages() {
		if err := WriteMessage(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	if want := encodeAll(t, sampleMessages()); !bytes.Equal(buf.Bytes(), want) {
		t.Fatal("WriteMessage output differs from AppendBinary")
	}
	if err := WriteMessage(failWriter{}, Message{Type: Choke}); !errors.Is(err, errWriteFailed) {
		t.Fatalf("write error not wrapped: %v", err)
	}
}

var errWriteFailed = errors.New("write failed")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errWriteFailed }

// countingReader counts the Read calls made on it.
type countingReader struct {
	r     io.Reader
	calls int
}

func (c *countingReader) Read(p []byte) (int, error) { c.calls++; return c.r.Read(p) }

// TestReaderBuffered checks that Buffered holds exactly when the next
// message is wholly buffered, and that reading such a message makes no
// call to the source.
func TestReaderBuffered(t *testing.T) {
	block := bytes.Repeat([]byte{7}, BlockSize)
	msgs := []Message{
		{Type: Have, Index: 1},
		{Type: Piece, Index: 2, Begin: 0, Block: block},
		{Type: Have, Index: 3},
		{Type: Bitfield, Bitfield: bytes.Repeat([]byte{0xFF}, 2*readBufferSize)}, // never wholly buffered
		{Type: Have, Index: 4},
	}
	src := &countingReader{r: bytes.NewReader(encodeAll(t, msgs))}
	r := NewReader(src, 0)
	if r.Buffered() {
		t.Fatal("Buffered before anything was read")
	}
	// Buffered after reading message i: the bitfield, larger than the
	// buffer, is read past it, so nothing follows it in the buffer.
	want := []bool{true, true, false, false, false}
	for i, m := range msgs {
		calls := src.calls
		got, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got.Type != m.Type {
			t.Fatalf("message %d: got %v, want %v", i, got.Type, m.Type)
		}
		if i > 0 && want[i-1] && src.calls != calls {
			t.Fatalf("message %d was reported buffered but reading it called the source", i)
		}
		if b := r.Buffered(); b != want[i] {
			t.Fatalf("after message %d: Buffered = %v, want %v", i, b, want[i])
		}
	}
}
