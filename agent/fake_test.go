package agent

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/metainfo"
)

// memTracker is an in-memory stand-in for the tracker's channel endpoints,
// for the package's own tests (the end-to-end tests in e2e/fleet run the
// real tracker). It keeps releases per channel, answers Next as soon as a
// newer release exists, and records host reports.
type memTracker struct {
	key string

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every publish
	releases map[string][]channel.Release
	infos    map[string][]byte // channel/seq -> info
	reports  map[string]channel.HostReport
	lost     bool // answers as a restarted tracker: knows nothing
}

func newMemTracker(key string) *memTracker {
	return &memTracker{key: key, changed: make(chan struct{}), releases: map[string][]channel.Release{},
		infos: map[string][]byte{}, reports: map[string]channel.HostReport{}}
}

func (m *memTracker) Publish(ctx context.Context, ch, key string, info []byte, seq uint64) (channel.Release, error) {
	if key == "" || key != m.key {
		return channel.Release{}, &channel.StatusError{Op: "publish " + ch, Status: 403, Message: "publish key required"}
	}
	mi, err := metainfo.ParseInfo(info)
	if err != nil {
		return channel.Release{}, &channel.StatusError{Op: "publish " + ch, Status: 400, Message: err.Error()}
	}
	ih := sha1.Sum(info)
	m.mu.Lock()
	defer m.mu.Unlock()
	rels := m.releases[ch]
	for _, r := range rels {
		if r.Seq == seq {
			if r.InfoHash == hex.EncodeToString(ih[:]) {
				return r, nil
			}
			return channel.Release{}, &channel.StatusError{Op: "publish " + ch, Status: 409, Message: "seq taken"}
		}
	}
	if seq == 0 {
		seq = 1
		if len(rels) > 0 {
			seq = rels[len(rels)-1].Seq + 1
		}
	}
	r := channel.Release{Channel: ch, Seq: seq, InfoHash: hex.EncodeToString(ih[:]), Name: mi.Name,
		Size: mi.TotalLength(), PieceLength: mi.PieceLength, PublishedAt: time.Now().UTC()}
	m.releases[ch] = append(rels, r)
	m.infos[fmt.Sprintf("%s/%d", ch, seq)] = info
	close(m.changed)
	m.changed = make(chan struct{})
	return r, nil
}

func (m *memTracker) Releases(ctx context.Context, ch string) ([]channel.Release, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rels, ok := m.releases[ch]
	if !ok {
		return nil, &channel.StatusError{Op: "releases of " + ch, Status: 404, Message: "unknown channel"}
	}
	return append([]channel.Release(nil), rels...), nil
}

func (m *memTracker) Next(ctx context.Context, ch string, after uint64) (channel.Release, bool, error) {
	for {
		m.mu.Lock()
		rels, known := m.releases[ch]
		wait := m.changed
		m.mu.Unlock()
		if !known {
			return channel.Release{}, false, &channel.StatusError{Op: "next of " + ch, Status: 404, Message: "unknown channel"}
		}
		if n := len(rels); n > 0 && rels[n-1].Seq > after {
			return rels[n-1], true, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return channel.Release{}, false, ctx.Err()
		case <-time.After(2 * time.Second):
			return channel.Release{}, false, nil
		}
	}
}

func (m *memTracker) Info(ctx context.Context, ch string, seq uint64, want metainfo.InfoHash) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, ok := m.infos[fmt.Sprintf("%s/%d", ch, seq)]
	if !ok {
		return nil, &channel.StatusError{Op: "info", Status: 404, Message: "no such release"}
	}
	if sha1.Sum(info) != want {
		return nil, fmt.Errorf("info hash mismatch")
	}
	return info, nil
}

func (m *memTracker) Report(ctx context.Context, ch string, r channel.HostReport) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reports[ch+"/"+r.Host] = r
	return nil
}

// restart forgets every channel, as a tracker restarted on the memory
// store does.
func (m *memTracker) restart() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.releases = map[string][]channel.Release{}
	m.infos = map[string][]byte{}
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *memTracker) report(ch, host string) (channel.HostReport, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reports[ch+"/"+host]
	return r, ok
}
