package tracker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"
)

// ConnIDs issues and checks BEP 15 connection IDs without keeping any
// state: an ID is an HMAC of the client's address and the current time
// window under a secret, so it cannot be forged without the secret, it is
// bound to the address it was issued to, and it expires on its own. An ID
// is accepted in the window it was issued in and the next one, so it lives
// between one and two windows (BEP 15 lets a client use it for a minute).
type ConnIDs struct {
	secret []byte
	window time.Duration
}

// DefaultConnIDWindow is the default window of [ConnIDs]: IDs live 1 to 2
// minutes.
const DefaultConnIDWindow = time.Minute

// NewConnIDs returns a ConnIDs keyed by secret (at least 16 random bytes;
// trackers sharing one address should share it) with the given window.
func NewConnIDs(secret []byte, window time.Duration) *ConnIDs {
	if window <= 0 {
		window = DefaultConnIDWindow
	}
	return &ConnIDs{secret: append([]byte(nil), secret...), window: window}
}

// Issue returns the connection ID for a client at addr at time now.
func (c *ConnIDs) Issue(addr netip.Addr, now time.Time) uint64 {
	return c.mac(addr, now.UnixNano()/int64(c.window))
}

// Valid reports whether id was issued to addr in now's window or the one
// before.
func (c *ConnIDs) Valid(id uint64, addr netip.Addr, now time.Time) bool {
	w := now.UnixNano() / int64(c.window)
	return hmac.Equal(u64(id), u64(c.mac(addr, w))) || hmac.Equal(u64(id), u64(c.mac(addr, w-1)))
}

func (c *ConnIDs) mac(addr netip.Addr, window int64) uint64 {
	h := hmac.New(sha256.New, c.secret)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(window))
	h.Write(b[:])
	a := addr.Unmap().As16()
	h.Write(a[:])
	return binary.BigEndian.Uint64(h.Sum(nil))
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
