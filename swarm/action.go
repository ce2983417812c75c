package swarm

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// ConnID is the runtime-assigned handle of one peer connection. The core
// never interprets it beyond equality and ordering.
type ConnID uint64

// BlockSpec names one block of a piece: Length bytes at offset Begin of
// piece Piece. Blocks are wire.BlockSize long except the last of the torrent.
type BlockSpec struct {
	Piece, Begin, Length uint32
}

// String formats the block as "piece:begin+length".
func (b BlockSpec) String() string {
	return fmt.Sprintf("%d:%d+%d", b.Piece, b.Begin, b.Length)
}

// ActionKind says what the runtime must do for an Action.
type ActionKind int

// Action kinds, in no particular priority: the runtime performs actions in
// the order Actions returns them.
const (
	// Send writes Msg to Conn.
	Send ActionKind = iota
	// SendBlock reads Block from disk and sends it to Conn as a Piece message.
	SendBlock
	// DropBlock removes Block from Conn's send queue if it is still there
	// (the peer cancelled it or we choked the peer).
	DropBlock
	// WriteBlock writes the block just received on Conn, whose bytes are
	// Data (the Payload ReceiveBlock handed in); the runtime reports the
	// result with BlockWritten.
	WriteBlock
	// VerifyPiece hashes Piece; the runtime reports the result with
	// PieceVerified, or with PieceVerifiedBlocks and the SHA-1 of every
	// block when Digests is set (the piece failed before, and the good copy
	// will show which earlier blocks were wrong).
	VerifyPiece
	// Disconnect closes Conn, because of Reason. The core has already
	// forgotten the peer; a later RemovePeer for it is harmless.
	Disconnect
	// Ban closes Conn and bans the address behind it, because of Reason,
	// until Until (the zero time: for good). The connection may already be
	// gone (the runtime should still ban the address it had).
	Ban
	// Completed reports that every piece is verified.
	Completed
)

// Action is one thing the runtime must do. Only the fields that belong to
// Kind are meaningful: Conn for everything but VerifyPiece and Completed, Msg
// for Send, Block for SendBlock, DropBlock and WriteBlock, Data for
// WriteBlock, Piece and Digests for VerifyPiece, Reason for Disconnect and
// Ban, Until for Ban.
type Action struct {
	Kind   ActionKind
	Conn   ConnID
	Msg    wire.Message
	Block  BlockSpec
	Data   Payload
	Piece  int
	Reason string
	Until  time.Time
	// Digests asks the runtime to report the piece's block digests with the
	// hash result, even if it verifies.
	Digests bool
}

// String formats the action compactly, e.g. "send 1 request 3:16384+16384";
// the scripted tests compare these lines.
func (a Action) String() string {
	return a.format(func(c ConnID) string { return strconv.FormatUint(uint64(c), 10) })
}

// format is String with a caller-chosen way to name connections.
func (a Action) format(name func(ConnID) string) string {
	switch a.Kind {
	case Send:
		return "send " + name(a.Conn) + " " + messageString(a.Msg)
	case SendBlock:
		return "send-block " + name(a.Conn) + " " + a.Block.String()
	case DropBlock:
		return "drop-block " + name(a.Conn) + " " + a.Block.String()
	case WriteBlock:
		return "write-block " + name(a.Conn) + " " + a.Block.String()
	case VerifyPiece:
		if a.Digests {
			return "verify " + strconv.Itoa(a.Piece) + " digests"
		}
		return "verify " + strconv.Itoa(a.Piece)
	case Disconnect:
		return "disconnect " + name(a.Conn) + ": " + a.Reason
	case Ban:
		if !a.Until.IsZero() {
			return "ban " + name(a.Conn) + " until " + a.Until.UTC().Format(time.TimeOnly) + ": " + a.Reason
		}
		return "ban " + name(a.Conn) + ": " + a.Reason
	case Completed:
		return "completed"
	}
	return fmt.Sprintf("action-%d", int(a.Kind))
}

// messageString formats a wire message for Action.String.
func messageString(m wire.Message) string {
	if m.KeepAlive {
		return "keep-alive"
	}
	switch m.Type {
	case wire.Have, wire.Suggest, wire.AllowedFast:
		return fmt.Sprintf("%s %d", m.Type, m.Index)
	case wire.Request, wire.Cancel, wire.Reject, wire.Piece:
		return m.Type.String() + " " + BlockSpec{m.Index, m.Begin, m.Length}.String()
	case wire.Bitfield:
		return "bitfield " + formatBits(m.Bitfield)
	case wire.Extended:
		return fmt.Sprintf("extended %d", m.ExtendedID)
	}
	return m.Type.String()
}

// formatBits lists the set bits of a BEP 3 bitfield (high bit first) as
// ranges, e.g. "0-3,7"; an empty set is "none".
func formatBits(bf []byte) string {
	var sb strings.Builder
	n := len(bf) * 8
	get := func(i int) bool { return bf[i/8]&(0x80>>(i%8)) != 0 }
	for i := 0; i < n; i++ {
		if !get(i) {
			continue
		}
		j := i
		for j+1 < n && get(j+1) {
			j++
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(i))
		if j > i {
			sb.WriteByte('-')
			sb.WriteString(strconv.Itoa(j))
		}
		i = j
	}
	if sb.Len() == 0 {
		return "none"
	}
	return sb.String()
}
