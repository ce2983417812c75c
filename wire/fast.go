package wire

import (
	"crypto/sha1"
	"encoding/binary"
	"math"
	"net/netip"
	"slices"
)

// AllowedFastSet computes the k pieces a peer at ip may request while choked,
// with the algorithm of BEP 6: hash the IPv4 address masked to its /24
// followed by the info hash with SHA-1, read the digest as five big-endian
// 32-bit numbers taken modulo numPieces, add each index not already chosen,
// and re-hash the digest until k are chosen.
//
// k is capped at numPieces; the cost grows quickly as k nears numPieces, so
// callers should keep k small (BEP 6 suggests 10). BEP 6 defines the set only for IPv4 (including
// IPv4-mapped IPv6); for other addresses, or when k or numPieces is not
// positive (or numPieces exceeds the uint32 index range), it returns nil.
func AllowedFastSet(k int, numPieces int, ip netip.Addr, infoHash [20]byte) []uint32 {
	ip = ip.Unmap()
	if !ip.Is4() || k <= 0 || numPieces <= 0 || numPieces > math.MaxUint32 {
		return nil
	}
	k = min(k, numPieces)
	v4 := ip.As4()
	x := make([]byte, 0, 4+len(infoHash))
	x = append(x, v4[0], v4[1], v4[2], 0)
	x = append(x, infoHash[:]...)
	set := make([]uint32, 0, k)
	for len(set) < k {
		sum := sha1.Sum(x)
		x = sum[:]
		for i := 0; i < 5 && len(set) < k; i++ {
			index := binary.BigEndian.Uint32(x[i*4:]) % uint32(numPieces)
			if !slices.Contains(set, index) {
				set = append(set, index)
			}
		}
	}
	return set
}
