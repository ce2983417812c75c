package dht

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// responder answers incoming queries from the routing table, the token
// manager and the peer store (BEP 5, "DHT Queries"). It is pure: the
// caller supplies the time and sends the reply. It is not safe for
// concurrent use.
type responder struct {
	self   ID
	table  *RoutingTable
	tokens *TokenManager
	peers  *PeerStore
	rnd    *rand.Rand
}

// respond returns the reply to query q from addr.
func (s *responder) respond(from netip.AddrPort, q Msg, now time.Time) Msg {
	r := Msg{T: q.T, Y: TypeResponse, R: Return{ID: s.self}}
	switch q.Q {
	case MethodPing:
	case MethodFindNode:
		r.R.Nodes = EncodeNodes(s.table.Closest(q.A.Target, K, now))
	case MethodGetPeers:
		r.R.Token = s.tokens.Issue(from.Addr(), now)
		r.R.Values = s.peers.Get(q.A.InfoHash, MaxValuesPerReply, now, s.rnd)
		if len(r.R.Values) == 0 {
			r.R.Nodes = EncodeNodes(s.table.Closest(q.A.InfoHash, K, now))
		}
	case MethodAnnouncePeer:
		if !s.tokens.Valid(q.A.Token, from.Addr(), now) {
			return errorMsg(q.T, ErrCodeProtocol, "bad token")
		}
		port := q.A.Port
		if q.A.ImpliedPort {
			port = int(from.Port())
		}
		if port <= 0 || port > 65535 {
			return errorMsg(q.T, ErrCodeProtocol, "bad port")
		}
		s.peers.Add(q.A.InfoHash, netip.AddrPortFrom(from.Addr().Unmap(), uint16(port)), now)
	default:
		return errorMsg(q.T, ErrCodeMethod, "method unknown")
	}
	return r
}

func errorMsg(t string, code int, msg string) Msg {
	return Msg{T: t, Y: TypeError, E: Error{Code: code, Message: msg}}
}
