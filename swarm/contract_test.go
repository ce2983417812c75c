package swarm

import (
	"errors"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// TestContractViolations: the Ready/Advance contract is checked. Stepping
// the core while a batch is out, a second Ready, an Advance without a
// batch, a Piece message without its payload (through Receive, or
// ReceiveBlock with none) all panic with ErrContract; a block handed in
// with its payload comes back in its WriteBlock.
func TestContractViolations(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if err, _ := r.(error); !errors.Is(err, ErrContract) {
				t.Errorf("%s: recovered %v, want ErrContract", name, r)
			}
		}()
		f()
	}
	s, err := New(Config{NumPieces: 1, PieceLength: 16384, TotalLength: 16384, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	s.AddPeer(now, 1, PeerInfo{Fast: true})
	if acts := s.Ready(); len(acts) != 1 || acts[0].Kind != Send {
		t.Fatalf("want the opening message, got %v", acts)
	}
	mustPanic("event during a batch", func() { s.Receive(now, 1, wire.Message{Type: wire.HaveAll}) })
	mustPanic("tick during a batch", func() { s.Tick(now) })
	mustPanic("second Ready", func() { s.Ready() })
	s.Advance()
	mustPanic("Advance without Ready", func() { s.Advance() })

	s.Receive(now, 1, wire.Message{Type: wire.HaveAll})
	s.Receive(now, 1, wire.Message{Type: wire.Unchoke})
	var req BlockSpec
	for _, a := range s.Actions() {
		if a.Kind == Send && a.Msg.Type == wire.Request {
			req = BlockSpec{a.Msg.Index, a.Msg.Begin, a.Msg.Length}
		}
	}
	if req.Length == 0 {
		t.Fatal("no request sent")
	}
	mustPanic("Piece through Receive", func() {
		s.Receive(now, 1, wire.Message{Type: wire.Piece, Index: req.Piece, Begin: req.Begin, Length: req.Length})
	})
	mustPanic("block without payload", func() { s.ReceiveBlock(now, 1, req, nil) })
	buf := &[]byte{1, 2, 3}
	s.ReceiveBlock(now, 1, req, buf)
	acts := s.Ready()
	if len(acts) != 1 || acts[0].Kind != WriteBlock || acts[0].Data != Payload(buf) {
		t.Fatalf("want one WriteBlock carrying the payload, got %v", acts)
	}
	mustPanic("BlockWritten before Advance", func() { s.BlockWritten(now, req, nil) })
	s.Advance()
	s.BlockWritten(now, req, nil)
	if acts := s.Actions(); len(acts) != 1 || acts[0].Kind != VerifyPiece {
		t.Fatalf("after the write, want VerifyPiece, got %v", acts)
	}
}
