package wire

import (
	"encoding/binary"
	"net/netip"
)

// Compact peer addresses: 4 address bytes then a big-endian port for IPv4
// (BEP 23), 16 then the port for IPv6 (BEP 7). Tracker replies, ut_pex
// messages (BEP 11) and DHT values (BEP 5) all use them.
const (
	CompactIPv4Len = 4 + 2
	CompactIPv6Len = 16 + 2
)

// AppendCompactAddr appends the compact form of a: 6 bytes for an IPv4 (or
// IPv4-mapped) address, 18 for IPv6.
func AppendCompactAddr(b []byte, a netip.AddrPort) []byte {
	ip := a.Addr().Unmap()
	if ip.Is4() {
		v := ip.As4()
		b = append(b, v[:]...)
	} else {
		v := ip.As16()
		b = append(b, v[:]...)
	}
	return binary.BigEndian.AppendUint16(b, a.Port())
}

// ParseCompactAddr decodes one compact entry of CompactIPv4Len or
// CompactIPv6Len bytes (an IPv4-mapped address comes back as IPv4); ok is
// false for any other length. Callers apply their own filters (an
// unspecified address, port 0).
func ParseCompactAddr(e []byte) (a netip.AddrPort, ok bool) {
	if len(e) != CompactIPv4Len && len(e) != CompactIPv6Len {
		return netip.AddrPort{}, false
	}
	n := len(e) - 2
	ip, _ := netip.AddrFromSlice(e[:n])
	return netip.AddrPortFrom(ip.Unmap(), binary.BigEndian.Uint16(e[n:])), true
}
