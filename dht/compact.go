package dht

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/shoal-p2p/shoal/wire"
)

// Sizes of the compact encodings of BEP 5, "Contact Encoding".
const (
	CompactPeerLen = 6         // IPv4 address and port
	CompactNodeLen = IDLen + 6 // node ID followed by a compact peer
)

// ErrCompactLength reports a compact string whose length is not a multiple
// of its record size.
var ErrCompactLength = errors.New("dht: compact info has bad length")

// NodeInfo is a DHT contact: a node ID and the UDP address it answers on.
type NodeInfo struct {
	ID   ID
	Addr netip.AddrPort
}

// String returns "id@addr" for logs.
func (n NodeInfo) String() string { return n.ID.String()[:8] + "@" + n.Addr.String() }

// AppendCompactPeer appends the 6-byte compact form of an IPv4 address and
// port. Addresses that are not IPv4 (after unmapping) are skipped and false
// is returned.
func AppendCompactPeer(b []byte, ap netip.AddrPort) ([]byte, bool) {
	if !ap.Addr().Unmap().Is4() {
		return b, false
	}
	return wire.AppendCompactAddr(b, ap), true
}

// ParseCompactPeer decodes a 6-byte compact IPv4 address and port.
func ParseCompactPeer(b []byte) (netip.AddrPort, error) {
	if len(b) != CompactPeerLen {
		return netip.AddrPort{}, fmt.Errorf("compact peer of %d bytes: %w", len(b), ErrCompactLength)
	}
	a, _ := wire.ParseCompactAddr(b)
	return a, nil
}

// EncodeNodes returns the compact node info string for nodes (26 bytes
// each). Nodes without an IPv4 address are left out.
func EncodeNodes(nodes []NodeInfo) []byte {
	b := make([]byte, 0, len(nodes)*CompactNodeLen)
	for _, n := range nodes {
		if !n.Addr.Addr().Unmap().Is4() {
			continue
		}
		b = append(b, n.ID[:]...)
		b, _ = AppendCompactPeer(b, n.Addr)
	}
	return b
}

// DecodeNodes parses a compact node info string.
func DecodeNodes(b []byte) ([]NodeInfo, error) {
	if len(b)%CompactNodeLen != 0 {
		return nil, fmt.Errorf("compact nodes of %d bytes: %w", len(b), ErrCompactLength)
	}
	nodes := make([]NodeInfo, 0, len(b)/CompactNodeLen)
	for len(b) > 0 {
		var n NodeInfo
		copy(n.ID[:], b[:IDLen])
		n.Addr, _ = ParseCompactPeer(b[IDLen:CompactNodeLen])
		nodes = append(nodes, n)
		b = b[CompactNodeLen:]
	}
	return nodes, nil
}
