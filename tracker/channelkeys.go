package tracker

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Errors for publishes a tracker refuses; the HTTP API answers them 403.
var (
	// ErrNoPublishKeys means the tracker was given no publish key, so it
	// refuses every publish (secure by default).
	ErrNoPublishKeys = errors.New("this tracker accepts no publish: it has no publish key (start it with --publish-key KEY, or a publish line in --keys)")
	// ErrMissingPublishKey means a publish came without a key.
	ErrMissingPublishKey = errors.New("publish key required (Authorization: Bearer KEY)")
	// ErrUnknownPublishKey means the key is not a publish key here; an
	// announce key does not allow publishing.
	ErrUnknownPublishKey = errors.New("not a publish key")
)

// PublishKeys are the keys allowed to publish releases, each for a
// tenant ("" on an open tracker). Keys are held as SHA-256 digests, so a
// lookup takes the same time whatever prefix of a key a caller guessed.
// A nil *PublishKeys refuses every publish.
type PublishKeys struct {
	tenants map[[32]byte]string
}

// NewPublishKeys returns PublishKeys from a map of key to tenant.
func NewPublishKeys(keyToTenant map[string]string) *PublishKeys {
	p := &PublishKeys{tenants: make(map[[32]byte]string, len(keyToTenant))}
	for k, t := range keyToTenant {
		p.tenants[sha256.Sum256([]byte(k))] = t
	}
	return p
}

// Len is the number of publish keys.
func (p *PublishKeys) Len() int {
	if p == nil {
		return 0
	}
	return len(p.tenants)
}

// Tenant returns the tenant key may publish into.
func (p *PublishKeys) Tenant(key string) (string, error) {
	if p.Len() == 0 {
		return "", ErrNoPublishKeys
	}
	if key == "" {
		return "", ErrMissingPublishKey
	}
	t, ok := p.tenants[sha256.Sum256([]byte(key))]
	if !ok {
		return "", ErrUnknownPublishKey
	}
	return t, nil
}

// ParseKeyFile reads a tracker's keys file: one "TOKEN [TENANT] [publish]"
// per line. Every TOKEN is an announce key of TENANT (the token itself
// when absent); with the word "publish" it may also publish releases into
// that tenant's channels (so "publish" is never a tenant name). A #
// starts a comment to the end of the line; blank lines are skipped. It returns the announce
// keys and the publish keys as a map of key to tenant.
func ParseKeyFile(r io.Reader) (*Keys, map[string]string, error) {
	announce, publish := map[string]string{}, map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		for i, w := range f {
			if strings.HasPrefix(w, "#") { // a comment to the end of the line
				f = f[:i]
				break
			}
		}
		if len(f) == 0 {
			continue
		}
		canPublish := len(f) > 1 && f[len(f)-1] == "publish"
		if canPublish {
			f = f[:len(f)-1]
		}
		if len(f) > 2 {
			return nil, nil, fmt.Errorf("keys line %d: want TOKEN [TENANT] [publish], got %d fields", n, len(f))
		}
		announce[f[0]] = f[len(f)-1]
		if canPublish {
			publish[f[0]] = f[len(f)-1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading keys: %w", err)
	}
	return NewKeys(announce), publish, nil
}
