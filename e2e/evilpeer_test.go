package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// evilPeer is a BitTorrent peer that claims to have every piece and answers
// every request at once with random bytes. It speaks just enough of BEP 3,
// encoded by hand so it depends on nothing under test: the 68-byte
// handshake, then length-prefixed messages.
type evilPeer struct {
	ln        net.Listener
	infoHash  [20]byte
	numPieces int

	blocksSent atomic.Int64 // Piece messages with garbage sent
	conns      atomic.Int64 // handshakes completed

	mu    sync.Mutex
	errs  []error // protocol errors seen (for the test log)
	open  map[net.Conn]struct{}
	wg    sync.WaitGroup
	close sync.Once
}

// BEP 3 message ids used here.
const (
	msgUnchoke  = 1
	msgBitfield = 5
	msgRequest  = 6
	msgPiece    = 7
)

// startEvilPeer listens on loopback and serves until the test ends.
func startEvilPeer(t *testing.T, infoHash [20]byte, numPieces int) *evilPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &evilPeer{ln: ln, infoHash: infoHash, numPieces: numPieces, open: map[net.Conn]struct{}{}}
	e.wg.Add(1)
	go e.acceptLoop()
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("evil peer: %d handshakes, %d garbage blocks sent, errors: %v", e.conns.Load(), e.blocksSent.Load(), e.errors())
		}
	})
	return e
}

// addr is the peer's HOST:PORT.
func (e *evilPeer) addr() string { return e.ln.Addr().String() }

func (e *evilPeer) stop() {
	e.close.Do(func() {
		e.ln.Close()
		e.mu.Lock()
		for c := range e.open {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
}

func (e *evilPeer) errors() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

func (e *evilPeer) acceptLoop() {
	defer e.wg.Done()
	for n := uint64(0); ; n++ {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.mu.Lock()
		e.open[c] = struct{}{}
		e.mu.Unlock()
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			err := e.serve(c, n)
			c.Close()
			e.mu.Lock()
			delete(e.open, c)
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				e.errs = append(e.errs, err)
			}
			e.mu.Unlock()
		}()
	}
}

// serve runs one connection: handshake, full bitfield, unchoke, then
// garbage for every request until the remote side hangs up.
func (e *evilPeer) serve(c net.Conn, connSeed uint64) error {
	r := bufio.NewReader(c)
	var hs [68]byte
	if _, err := io.ReadFull(r, hs[:]); err != nil {
		return fmt.Errorf("read handshake: %w", err)
	}
	if hs[0] != 19 || string(hs[1:20]) != "BitTorrent protocol" {
		return fmt.Errorf("bad handshake %q", hs[:20])
	}
	if !bytes.Equal(hs[28:48], e.infoHash[:]) {
		return fmt.Errorf("handshake for info hash %x, want %x", hs[28:48], e.infoHash)
	}
	var out bytes.Buffer
	out.WriteByte(19)
	out.WriteString("BitTorrent protocol")
	out.Write(make([]byte, 8)) // no extensions: plain BEP 3
	out.Write(e.infoHash[:])
	out.WriteString("-EV0001-evilpeer0000")
	bf := make([]byte, (e.numPieces+7)/8)
	for i := 0; i < e.numPieces; i++ {
		bf[i/8] |= 0x80 >> (i % 8)
	}
	appendMsg(&out, msgBitfield, bf)
	appendMsg(&out, msgUnchoke, nil)
	if _, err := c.Write(out.Bytes()); err != nil {
		return fmt.Errorf("write handshake: %w", err)
	}
	e.conns.Add(1)

	rng := rand.New(rand.NewPCG(connSeed, 0xbad))
	for {
		var lenb [4]byte
		if _, err := io.ReadFull(r, lenb[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(lenb[:])
		if n == 0 {
			continue // keep-alive
		}
		if n > 1<<20 {
			return fmt.Errorf("message of %d bytes", n)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		if body[0] != msgRequest || n != 13 {
			continue // interested, bitfield, have, cancel...: ignore
		}
		index := binary.BigEndian.Uint32(body[1:5])
		begin := binary.BigEndian.Uint32(body[5:9])
		length := binary.BigEndian.Uint32(body[9:13])
		if length > 128<<10 {
			return fmt.Errorf("request for %d bytes", length)
		}
		payload := make([]byte, 8+length)
		binary.BigEndian.PutUint32(payload[0:4], index)
		binary.BigEndian.PutUint32(payload[4:8], begin)
		for i := 8; i < len(payload); i++ {
			payload[i] = byte(rng.Uint32())
		}
		out.Reset()
		appendMsg(&out, msgPiece, payload)
		e.blocksSent.Add(1) // before the write, so a reader never sees it lag
		if _, err := c.Write(out.Bytes()); err != nil {
			return err
		}
	}
}

// appendMsg writes one length-prefixed BEP 3 message.
func appendMsg(b *bytes.Buffer, id byte, payload []byte) {
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(1+len(payload)))
	hdr[4] = id
	b.Write(hdr[:])
	b.Write(payload)
}

// TestEvilPeerSpeaksBEP3 drives the evil peer with a hand-rolled client so
// the corrupt-peer test cannot pass because the helper never served.
func TestEvilPeerSpeaksBEP3(t *testing.T) {
	ih := [20]byte{1, 2, 3}
	e := startEvilPeer(t, ih, 10)
	c, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var hs bytes.Buffer
	hs.WriteByte(19)
	hs.WriteString("BitTorrent protocol")
	hs.Write(make([]byte, 8))
	hs.Write(ih[:])
	hs.WriteString("-TT0001-testclient00")
	req := make([]byte, 12)
	binary.BigEndian.PutUint32(req[0:], 3)
	binary.BigEndian.PutUint32(req[4:], 16384)
	binary.BigEndian.PutUint32(req[8:], 16384)
	appendMsg(&hs, msgRequest, req)
	if _, err := c.Write(hs.Bytes()); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var got [68]byte
	if _, err := io.ReadFull(r, got[:]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[28:48], ih[:]) {
		t.Fatalf("handshake info hash %x", got[28:48])
	}
	wantIDs := []byte{msgBitfield, msgUnchoke, msgPiece}
	for _, want := range wantIDs {
		var lenb [4]byte
		if _, err := io.ReadFull(r, lenb[:]); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint32(lenb[:]))
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatal(err)
		}
		if body[0] != want {
			t.Fatalf("message id %d, want %d", body[0], want)
		}
		switch want {
		case msgBitfield:
			if !bytes.Equal(body[1:], []byte{0xff, 0xc0}) {
				t.Fatalf("bitfield %x, want ffc0", body[1:])
			}
		case msgPiece:
			if len(body) != 9+16384 || binary.BigEndian.Uint32(body[1:]) != 3 || binary.BigEndian.Uint32(body[5:]) != 16384 {
				t.Fatalf("piece header %x len %d", body[1:9], len(body))
			}
		}
	}
	if e.blocksSent.Load() != 1 {
		t.Fatalf("blocksSent = %d, want 1", e.blocksSent.Load())
	}
	// A handshake for another torrent is refused.
	c2, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	bad := hs.Bytes()[:68]
	bad[28] ^= 0xff
	if _, err := c2.Write(bad); err != nil {
		t.Fatal(err)
	}
	if n, err := io.ReadFull(c2, got[:]); err == nil {
		t.Fatalf("evil peer answered a wrong info hash with %d bytes", n)
	}
}
