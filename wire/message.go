package wire

import "fmt"

// MessageType is the one-byte id that follows the length prefix of every
// non-keep-alive peer message (BEP 3, BEP 6, BEP 10).
type MessageType uint8

// Message ids. BEP 3 defines 0-8, DHT port (BEP 5) is 9, the fast extension
// (BEP 6) adds 0x0D-0x11 and the extension protocol (BEP 10) uses 20.
const (
	Choke         MessageType = 0
	Unchoke       MessageType = 1
	Interested    MessageType = 2
	NotInterested MessageType = 3
	Have          MessageType = 4
	Bitfield      MessageType = 5
	Request       MessageType = 6
	Piece         MessageType = 7
	Cancel        MessageType = 8
	Port          MessageType = 9
	Suggest       MessageType = 0x0D
	HaveAll       MessageType = 0x0E
	HaveNone      MessageType = 0x0F
	Reject        MessageType = 0x10
	AllowedFast   MessageType = 0x11
	Extended      MessageType = 20
)

// BlockSize is the request size every client agrees on (BEP 3 practice):
// libtorrent and Transmission drop peers that ask for more.
const BlockSize = 16 * 1024

// String names the message type for logs and test output.
func (t MessageType) String() string {
	switch t {
	case Choke:
		return "choke"
	case Unchoke:
		return "unchoke"
	case Interested:
		return "interested"
	case NotInterested:
		return "not-interested"
	case Have:
		return "have"
	case Bitfield:
		return "bitfield"
	case Request:
		return "request"
	case Piece:
		return "piece"
	case Cancel:
		return "cancel"
	case Port:
		return "port"
	case Suggest:
		return "suggest"
	case HaveAll:
		return "have-all"
	case HaveNone:
		return "have-none"
	case Reject:
		return "reject"
	case AllowedFast:
		return "allowed-fast"
	case Extended:
		return "extended"
	}
	return fmt.Sprintf("type-%d", uint8(t))
}

// Message is one decoded peer wire message. Only the fields that belong to
// Type are meaningful:
//
//	Have, Suggest, AllowedFast:      Index
//	Request, Cancel, Reject:         Index, Begin, Length
//	Piece:                           Index, Begin, Block (Length = len(Block))
//	Bitfield:                        Bitfield
//	Port:                            Port
//	Extended:                        ExtendedID, ExtendedPayload
//
// KeepAlive marks the zero-length keep-alive, which has no Type.
type Message struct {
	KeepAlive       bool
	Type            MessageType
	Index           uint32
	Begin           uint32
	Length          uint32
	Bitfield        []byte
	Block           []byte
	Port            uint16
	ExtendedID      uint8
	ExtendedPayload []byte
}
