package dht

import (
	"crypto/hmac"
	"crypto/sha1"
	"math/rand/v2"
	"net/netip"
	"time"
)

// TokenRotation is how often the token secret changes. A token stays valid
// for up to two rotations, the ten minutes BEP 5 suggests.
const TokenRotation = 5 * time.Minute

const tokenLen = 8

// TokenManager issues and checks the opaque get_peers tokens that an
// announce_peer must present (BEP 5, "announce_peer"). A token is a
// truncated SHA-1 of a secret and the requester's IP; the secret is rotated
// every TokenRotation and the previous one is still accepted. It keeps no
// per-requester state. It is not safe for concurrent use.
type TokenManager struct {
	rnd               *rand.Rand
	current, previous [16]byte
	rotated           time.Time
}

// NewTokenManager returns a manager whose secrets are drawn from r.
func NewTokenManager(r *rand.Rand, now time.Time) *TokenManager {
	m := &TokenManager{rnd: r, rotated: now}
	m.fill(&m.current)
	m.fill(&m.previous)
	return m
}

func (m *TokenManager) fill(s *[16]byte) {
	for i := range s {
		s[i] = byte(m.rnd.Uint32())
	}
}

func (m *TokenManager) rotate(now time.Time) {
	for now.Sub(m.rotated) >= TokenRotation {
		m.previous = m.current
		m.fill(&m.current)
		m.rotated = m.rotated.Add(TokenRotation)
		if now.Sub(m.rotated) >= 2*TokenRotation {
			m.fill(&m.previous) // both secrets are long expired
			m.rotated = now
		}
	}
}

// Issue returns the token for ip at now.
func (m *TokenManager) Issue(ip netip.Addr, now time.Time) string {
	m.rotate(now)
	return tokenFor(m.current, ip)
}

// Valid reports whether token was issued to ip with the current or the
// previous secret.
func (m *TokenManager) Valid(token string, ip netip.Addr, now time.Time) bool {
	m.rotate(now)
	return hmac.Equal([]byte(token), []byte(tokenFor(m.current, ip))) ||
		hmac.Equal([]byte(token), []byte(tokenFor(m.previous, ip)))
}

func tokenFor(secret [16]byte, ip netip.Addr) string {
	h := sha1.New()
	h.Write(secret[:])
	a := ip.Unmap().AsSlice()
	h.Write(a)
	return string(h.Sum(nil)[:tokenLen])
}
