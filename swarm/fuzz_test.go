package swarm

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// FuzzReceive feeds arbitrary message sequences from two peers to a leecher
// and a seed and checks the core neither panics nor breaks its invariants.
// Each message is 11 bytes: peer, type, index, begin (uint16), length
// (uint16), then up to 4 bitfield/payload bytes taken from what follows.
// The third run has a zone, and messages of kind 6 are extended handshakes
// giving the peer our zone, another or none (locality).
func FuzzReceive(f *testing.F) {
	f.Add([]byte{0, 5, 0, 0, 0, 0, 0, 0xff, 0xc0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7, 3, 0, 0, 0x40, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 2, 0, 0, 0x40, 0, 0, 0, 0, 0})
	// A far handshake on each peer, a bitfield, an unchoke, a near one.
	f.Add([]byte{0x60, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0x61, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0,
		2, 5, 0, 0, 0, 0, 0, 0xff, 0xc0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x60, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		now := time.Unix(0, 0)
		all := []bool{true, true, true, true, true, true, true, true, true, true}
		for run, have := range [][]bool{nil, all, nil} {
			cfg := Config{NumPieces: 10, PieceLength: 32768, TotalLength: 9*32768 + 100, Have: have, Fast: true,
				MaxRequestsPerPeer: 8, MaxQueuedUploads: 8}
			if run == 2 {
				cfg.Zone, cfg.PeerID = "dc1/rack1", [20]byte{'m', 'e'}
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.AddPeer(now, 1, PeerInfo{Fast: true, Extended: true, ID: [20]byte{1}})
			s.AddPeer(now, 2, PeerInfo{Extended: true, ID: [20]byte{2}})
			for k := 0; k+11 <= len(data); k += 11 {
				d := data[k : k+11]
				m := wire.Message{Type: wire.MessageType(d[1]), Index: uint32(d[2]),
					Begin: uint32(binary.BigEndian.Uint16(d[3:5])), Length: uint32(binary.BigEndian.Uint16(d[5:7])),
					Bitfield: d[7 : 7+int(d[0]>>1&3)], ExtendedPayload: d[7:]}
				c := ConnID(1 + d[0]&1)
				now = now.Add(time.Duration(d[3]) * 100 * time.Millisecond)
				switch d[0] >> 4 {
				case 1:
					s.Tick(now)
				case 2:
					s.BlockWritten(now, BlockSpec{m.Index, m.Begin, m.Length}, nil)
				case 3:
					s.PieceVerified(now, int(m.Index), d[4]&1 == 0)
				case 4:
					s.BlockSent(now, c, BlockSpec{m.Index, m.Begin, m.Length})
				case 5:
					s.RemovePeer(now, c)
					s.AddPeer(now, c, PeerInfo{Fast: c == 1, Extended: true, ID: [20]byte{byte(c)}})
				case 6:
					hs, err := wire.ExtendedHandshake{Reqq: int(d[4]), Zone: [...]string{"dc1/rack1", "dc1/rack2", ""}[d[2]%3]}.Marshal()
					if err != nil {
						t.Fatal(err)
					}
					s.Receive(now, c, wire.Message{Type: wire.Extended, ExtendedPayload: hs})
				default:
					if m.Type == wire.Piece {
						s.ReceiveBlock(now, c, BlockSpec{m.Index, m.Begin, m.Length}, "payload")
					} else {
						s.Receive(now, c, m)
					}
				}
				for _, a := range s.Actions() {
					if a.Kind == SendBlock && !s.Have(int(a.Block.Piece)) {
						t.Fatalf("serves unverified piece: %s", a)
					}
					if a.Kind == WriteBlock && a.Data != Payload("payload") {
						t.Fatalf("write without its payload: %s", a)
					}
				}
				if err := s.checkInvariants(); err != nil {
					t.Fatalf("after message %d: %v", k/11, err)
				}
			}
		}
	})
}
