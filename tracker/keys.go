package tracker

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Keys are the announce keys of a private tracker: per-tenant tokens a
// peer puts in the announce URL's path (http://host/TOKEN/announce, or
// BEP 41 URL data for UDP) or, failing that, in the "key" parameter. Each
// tenant's swarms are kept apart: the same info hash under two tenants is
// two swarms, and a peer never learns of another tenant's peers.
type Keys struct {
	tenants map[string]string
}

// Errors for announces a private tracker refuses.
var (
	// ErrMissingKey means a private tracker got an announce with no key.
	ErrMissingKey = errors.New("announce key required")
	// ErrUnknownKey means the announce key is not one the tracker knows.
	ErrUnknownKey = errors.New("unknown announce key")
)

// NewKeys returns Keys from a map of token to tenant name.
func NewKeys(tokenToTenant map[string]string) *Keys {
	k := &Keys{tenants: make(map[string]string, len(tokenToTenant))}
	for tok, ten := range tokenToTenant {
		k.tenants[tok] = ten
	}
	return k
}

// ParseKeys reads keys, one "TOKEN [TENANT] [publish]" per line; a
// missing tenant is the token itself. Blank lines and lines starting with
// # are skipped. See [ParseKeyFile], which also returns the publish keys.
func ParseKeys(r io.Reader) (*Keys, error) {
	k, _, err := ParseKeyFile(r)
	return k, err
}

// Tenant returns the tenant of token.
func (k *Keys) Tenant(token string) (string, error) {
	if token == "" {
		return "", ErrMissingKey
	}
	t, ok := k.tenants[token]
	if !ok {
		return "", ErrUnknownKey
	}
	return t, nil
}

// swarmID is the store key of a tenant's swarm: the info hash itself for
// an open tracker, else a hash of tenant and info hash.
func swarmID(tenant string, infoHash [20]byte) [20]byte {
	if tenant == "" {
		return infoHash
	}
	h := sha1.New()
	fmt.Fprintf(h, "shoal-tenant\x00%s\x00", tenant)
	h.Write(infoHash[:])
	return [20]byte(h.Sum(nil))
}

// splitTrackerPath splits an announce or scrape path into the endpoint
// ("announce", "scrape" or "" if neither) and the key before it:
// "/announce" gives ("announce", ""), "/TOKEN/scrape" gives ("scrape",
// "TOKEN"). The key is path-unescaped.
func splitTrackerPath(p string) (endpoint, key string) {
	p = strings.TrimPrefix(p, "/")
	dir, last := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, last = p[:i], p[i+1:]
	}
	if last != "announce" && last != "scrape" {
		return "", ""
	}
	if strings.Contains(dir, "/") {
		return "", ""
	}
	key, err := url.PathUnescape(dir)
	if err != nil {
		return "", ""
	}
	return last, key
}
