package tracker

import (
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/shoal-p2p/shoal/wire"
)

// dictPeer is one entry of the dictionary peer form (BEP 3), sent when a
// peer asks compact=0.
type dictPeer struct {
	PeerID string `bencode:"peer id"`
	IP     string `bencode:"ip"`
	Port   int64  `bencode:"port"`
}

// reply is the server's successful announce answer, before encoding.
type reply struct {
	Interval, MinInterval time.Duration
	Complete, Incomplete  int
	Peers                 []Peer
	Compact               bool
	Warning               string
}

// wireReply is reply as bencoded; the encoder sorts keys as BEP 3 wants.
type wireReply struct {
	Complete    int    `bencode:"complete"`
	Incomplete  int    `bencode:"incomplete"`
	Interval    int64  `bencode:"interval"`
	MinInterval int64  `bencode:"min interval,omitempty"`
	Peers       any    `bencode:"peers"`
	Peers6      string `bencode:"peers6,omitempty"`
	Warning     string `bencode:"warning message,omitempty"`
}

// marshal encodes r. In compact form IPv4 peers go in "peers" (BEP 23)
// and IPv6 peers in "peers6" (BEP 7); the dictionary form lists both.
func (r reply) marshal() ([]byte, error) {
	w := wireReply{
		Complete:    r.Complete,
		Incomplete:  r.Incomplete,
		Interval:    int64(r.Interval / time.Second),
		MinInterval: int64(r.MinInterval / time.Second),
		Warning:     r.Warning,
	}
	if r.Compact {
		var v4, v6 []byte
		for _, p := range r.Peers {
			if p.Addr.Addr().Unmap().Is4() {
				v4 = wire.AppendCompactAddr(v4, p.Addr)
			} else {
				v6 = wire.AppendCompactAddr(v6, p.Addr)
			}
		}
		w.Peers, w.Peers6 = string(v4), string(v6)
	} else {
		list := make([]dictPeer, 0, len(r.Peers))
		for _, p := range r.Peers {
			list = append(list, dictPeer{PeerID: string(p.ID[:]), IP: p.Addr.Addr().String(), Port: int64(p.Addr.Port())})
		}
		w.Peers = list
	}
	return bencode.Marshal(w)
}

// marshalFailure encodes a BEP 3 failure reply.
func marshalFailure(reason string) []byte {
	b, err := bencode.Marshal(map[string]string{"failure reason": reason})
	if err != nil {
		// A map of strings always encodes; keep a valid reply regardless.
		return []byte("d14:failure reason8:internale")
	}
	return b
}
