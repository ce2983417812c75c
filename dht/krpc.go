package dht

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/anacrolix/torrent/bencode"
)

// MaxPacketSize bounds a KRPC packet in either direction. Mainline packets
// fit in one Ethernet frame; anything larger is refused unparsed.
const MaxPacketSize = 2048

// Message types, the "y" key of BEP 5, "KRPC Protocol".
const (
	TypeQuery    = "q"
	TypeResponse = "r"
	TypeError    = "e"
)

// Query methods of BEP 5, "DHT Queries".
const (
	MethodPing         = "ping"
	MethodFindNode     = "find_node"
	MethodGetPeers     = "get_peers"
	MethodAnnouncePeer = "announce_peer"
)

// KRPC error codes of BEP 5, "Errors".
const (
	ErrCodeGeneric  = 201
	ErrCodeServer   = 202
	ErrCodeProtocol = 203
	ErrCodeMethod   = 204
)

// Sentinel errors from ParseMessage.
var (
	ErrTooLarge  = errors.New("dht: packet too large")
	ErrMalformed = errors.New("dht: malformed KRPC message")
)

// Msg is one KRPC message: a query, a response or an error (BEP 5). Only
// the fields for its type are meaningful; Marshal ignores the others.
type Msg struct {
	T  string // transaction ID, echoed by the responder
	Y  string // TypeQuery, TypeResponse or TypeError
	Q  string // query method, for queries
	A  Args   // query arguments, for queries
	R  Return // response values, for responses
	E  Error  // error code and message, for errors
	V  string // optional client version
	RO bool   // sender is a read-only node (BEP 43), for queries
}

// Args are the arguments of a query ("a"). Which fields are sent depends on
// the method: Target for find_node, InfoHash for get_peers and
// announce_peer, Port, ImpliedPort and Token for announce_peer.
type Args struct {
	ID          ID
	Target      ID
	InfoHash    ID
	Port        int
	ImpliedPort bool
	Token       string
}

// Return holds the values of a response ("r"). Nodes is a compact node info
// string kept as received (decode it with DecodeNodes); Values are the
// compact IPv4 peers of a get_peers response.
type Return struct {
	ID     ID
	Nodes  []byte
	Token  string
	Values []netip.AddrPort
}

// Error is a KRPC error ("e"), also usable as a Go error.
type Error struct {
	Code    int
	Message string
}

// Error implements the error interface.
func (e Error) Error() string { return fmt.Sprintf("krpc error %d: %s", e.Code, e.Message) }

type wireMsg struct {
	A  *wireArgs   `bencode:"a,omitempty"`
	E  any         `bencode:"e,omitempty"`
	Q  string      `bencode:"q,omitempty"`
	R  *wireReturn `bencode:"r,omitempty"`
	RO int64       `bencode:"ro,omitempty"`
	T  string      `bencode:"t"`
	V  string      `bencode:"v,omitempty"`
	Y  string      `bencode:"y"`
}

type wireArgs struct {
	ID          string `bencode:"id"`
	ImpliedPort int64  `bencode:"implied_port,omitempty"`
	InfoHash    string `bencode:"info_hash,omitempty"`
	Port        int64  `bencode:"port,omitempty"`
	Target      string `bencode:"target,omitempty"`
	Token       string `bencode:"token,omitempty"`
}

type wireReturn struct {
	ID     string   `bencode:"id"`
	Nodes  string   `bencode:"nodes,omitempty"`
	Token  string   `bencode:"token,omitempty"`
	Values []string `bencode:"values,omitempty"`
}

// ParseMessage decodes one KRPC packet. It refuses packets over
// MaxPacketSize, bencode nested deeper than a KRPC message needs, missing or
// mistyped keys and IDs that are not 20 bytes. Peer values that are not
// 6-byte IPv4 contacts are skipped.
func ParseMessage(b []byte) (Msg, error) {
	var m Msg
	if len(b) > MaxPacketSize {
		return m, fmt.Errorf("parse KRPC: %d bytes: %w", len(b), ErrTooLarge)
	}
	var w wireMsg
	d := bencode.NewDecoder(bytes.NewReader(b))
	d.MaxStrLen = MaxPacketSize
	d.MaxDepth = 4
	if err := d.Decode(&w); err != nil {
		return m, fmt.Errorf("parse KRPC: %w: %w", ErrMalformed, err)
	}
	if err := d.ReadEOF(); err != nil {
		return m, fmt.Errorf("parse KRPC: %w: trailing bytes", ErrMalformed)
	}
	m = Msg{T: w.T, Y: w.Y, V: w.V}
	if w.T == "" {
		return m, fmt.Errorf("parse KRPC: %w: no transaction ID", ErrMalformed)
	}
	switch w.Y {
	case TypeQuery:
		return m, m.parseQuery(&w)
	case TypeResponse:
		return m, m.parseResponse(&w)
	case TypeError:
		return m, m.parseError(&w)
	}
	return m, fmt.Errorf("parse KRPC: %w: message type %q", ErrMalformed, w.Y)
}

func (m *Msg) parseQuery(w *wireMsg) error {
	if w.Q == "" || w.A == nil {
		return fmt.Errorf("parse KRPC query: %w: no method or arguments", ErrMalformed)
	}
	m.Q, m.RO = w.Q, w.RO == 1
	a := w.A
	if err := copyID(&m.A.ID, a.ID, "id"); err != nil {
		return err
	}
	switch m.Q {
	case MethodFindNode:
		return copyID(&m.A.Target, a.Target, "target")
	case MethodGetPeers, MethodAnnouncePeer:
		if err := copyID(&m.A.InfoHash, a.InfoHash, "info_hash"); err != nil {
			return err
		}
	}
	if m.Q == MethodAnnouncePeer {
		if a.Port < 0 || a.Port > 65535 {
			return fmt.Errorf("parse KRPC query: %w: port %d", ErrMalformed, a.Port)
		}
		m.A.Port, m.A.ImpliedPort, m.A.Token = int(a.Port), a.ImpliedPort == 1, a.Token
	}
	return nil
}

func (m *Msg) parseResponse(w *wireMsg) error {
	if w.R == nil {
		return fmt.Errorf("parse KRPC response: %w: no return values", ErrMalformed)
	}
	r := w.R
	if err := copyID(&m.R.ID, r.ID, "id"); err != nil {
		return err
	}
	if r.Nodes != "" {
		m.R.Nodes = []byte(r.Nodes)
	}
	m.R.Token = r.Token
	for _, v := range r.Values {
		if ap, err := ParseCompactPeer([]byte(v)); err == nil {
			m.R.Values = append(m.R.Values, ap)
		}
	}
	return nil
}

func (m *Msg) parseError(w *wireMsg) error {
	list, ok := w.E.([]any)
	if !ok || len(list) != 2 {
		return fmt.Errorf("parse KRPC error: %w: want [code, message]", ErrMalformed)
	}
	code, ok1 := list[0].(int64)
	msg, ok2 := list[1].(string)
	if !ok1 || !ok2 || code < 0 || code > 1<<30 {
		return fmt.Errorf("parse KRPC error: %w: bad element types", ErrMalformed)
	}
	m.E = Error{Code: int(code), Message: msg}
	return nil
}

func copyID(dst *ID, s, key string) error {
	if len(s) != IDLen {
		return fmt.Errorf("parse KRPC: %w: %q is %d bytes", ErrMalformed, key, len(s))
	}
	copy(dst[:], s)
	return nil
}

// Marshal encodes the message as a bencoded dictionary with sorted keys.
func (m Msg) Marshal() ([]byte, error) {
	w := wireMsg{T: m.T, Y: m.Y, V: m.V}
	switch m.Y {
	case TypeQuery:
		w.Q = m.Q
		w.A = &wireArgs{ID: string(m.A.ID[:])}
		if m.RO {
			w.RO = 1
		}
		switch m.Q {
		case MethodFindNode:
			w.A.Target = string(m.A.Target[:])
		case MethodGetPeers:
			w.A.InfoHash = string(m.A.InfoHash[:])
		case MethodAnnouncePeer:
			w.A.InfoHash = string(m.A.InfoHash[:])
			w.A.Port, w.A.Token = int64(m.A.Port), m.A.Token
			if m.A.ImpliedPort {
				w.A.ImpliedPort = 1
			}
		}
	case TypeResponse:
		w.R = &wireReturn{ID: string(m.R.ID[:]), Nodes: string(m.R.Nodes), Token: m.R.Token}
		for _, v := range m.R.Values {
			if b, ok := AppendCompactPeer(nil, v); ok {
				w.R.Values = append(w.R.Values, string(b))
			}
		}
	case TypeError:
		w.E = []any{int64(m.E.Code), m.E.Message}
	default:
		return nil, fmt.Errorf("marshal KRPC: unknown message type %q", m.Y)
	}
	b, err := bencode.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("marshal KRPC %s: %w", m.Y, err)
	}
	return b, nil
}
