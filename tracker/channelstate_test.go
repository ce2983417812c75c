package tracker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

// rel is a release of channel "build" whose info hash is derived from tag.
func rel(seq uint64, tag string) channel.Release {
	return channel.Release{Channel: "build", Seq: seq, InfoHash: fmt.Sprintf("%040x", tag), Name: "n", Size: 100, PieceLength: 16384}
}

func seqs(h *channelHead) []uint64 {
	var out []uint64
	for _, r := range h.Releases {
		out = append(out, r.Seq)
	}
	return out
}

func TestChannelHeadPublish(t *testing.T) {
	var h channelHead
	type step struct {
		rel     channel.Release
		wantSeq uint64
		created bool
		evicted []uint64
		err     error
		kept    []uint64
	}
	steps := []step{
		{rel: rel(0, "a"), wantSeq: 1, created: true, kept: []uint64{1}},
		{rel: rel(0, "a"), wantSeq: 1, kept: []uint64{1}},                   // a retried publish of the latest
		{rel: rel(0, "b"), wantSeq: 2, created: true, kept: []uint64{1, 2}}, //
		{rel: rel(0, "a"), wantSeq: 3, created: true, kept: []uint64{1, 2, 3}, evicted: nil},
		{rel: rel(2, "b"), wantSeq: 2, kept: []uint64{1, 2, 3}},               // re-registration
		{rel: rel(2, "z"), err: channel.ErrConflict, kept: []uint64{1, 2, 3}}, // seq taken
		{rel: rel(0, "c"), wantSeq: 4, created: true, evicted: []uint64{1}, kept: []uint64{2, 3, 4}},
		{rel: rel(1, "a"), err: channel.ErrConflict, kept: []uint64{2, 3, 4}}, // older than every release kept
		{rel: rel(9, "d"), wantSeq: 9, created: true, evicted: []uint64{2}, kept: []uint64{3, 4, 9}},
		{rel: rel(0, "e"), wantSeq: 10, created: true, evicted: []uint64{3}, kept: []uint64{4, 9, 10}},
		{rel: rel(7, "f"), wantSeq: 7, created: true, evicted: []uint64{4}, kept: []uint64{7, 9, 10}}, // a gap filled
	}
	for i, s := range steps {
		out, created, evicted, err := h.publish(s.rel, 3, int64(i))
		if s.err != nil {
			if !errors.Is(err, s.err) {
				t.Fatalf("step %d: err %v, want %v", i, err, s.err)
			}
		} else if err != nil || out.Seq != s.wantSeq || created != s.created || !slices.Equal(evicted, s.evicted) {
			t.Fatalf("step %d: seq %d created %v evicted %v err %v; want %d %v %v", i, out.Seq, created, evicted, err, s.wantSeq, s.created, s.evicted)
		}
		if !slices.Equal(seqs(&h), s.kept) {
			t.Fatalf("step %d: kept %v, want %v", i, seqs(&h), s.kept)
		}
	}
	if h.Floor != 10 {
		t.Fatalf("floor %d", h.Floor)
	}
	if i, ok := h.find(9); !ok || h.Releases[i].OriginBase != 8 {
		t.Fatalf("origin base of 9: %+v", h.Releases)
	}
}

// TestFloorSurvivesForgetting: a head that lost its releases (a tracker
// restart) never numbers a publish at or below what hosts report.
func TestFloorSurvivesForgetting(t *testing.T) {
	var h channelHead
	h.raise(5) // a host reports current=5
	h.raise(3)
	out, _, _, err := h.publish(rel(0, "new"), 16, 0)
	if err != nil || out.Seq != 6 {
		t.Fatalf("after a report of 5: seq %d %v", out.Seq, err)
	}
	// The origin re-registers 5 explicitly: accepted, below the floor.
	if out, created, _, err := h.publish(rel(5, "old"), 16, 0); err != nil || !created || out.Seq != 5 {
		t.Fatalf("re-register 5: %+v %v %v", out, created, err)
	}
	if !slices.Equal(seqs(&h), []uint64{5, 6}) {
		t.Fatalf("kept %v", seqs(&h))
	}
	// One report lifts the floor by at most maxReportJump.
	if got := h.reported(channel.HostReport{Host: "liar", Current: channel.MaxSeq}); got != 6+maxReportJump {
		t.Fatalf("a report of MaxSeq asks for %d", got)
	}
	h.raise(channel.MaxSeq + 10)
	if _, _, _, err := h.publish(rel(0, "x"), 16, 0); !errors.Is(err, channel.ErrConflict) || !strings.Contains(err.Error(), "every sequence number") {
		t.Fatalf("numbering exhausted: %v", err)
	}
}

func TestNextHostRecordEgress(t *testing.T) {
	t0 := time.Unix(1000, 0)
	rep := func(up int64, origin bool) channel.HostReport {
		return channel.HostReport{Host: "o", Uploaded: up, Origin: origin}
	}
	r1, d := nextHostRecord(nil, rep(500, true), t0)
	if d != 0 || r1.Since != t0 {
		t.Fatalf("first report: delta %d", d)
	}
	r2, d := nextHostRecord(&r1, rep(800, true), t0.Add(time.Second))
	if d != 300 || r2.Since != t0 || r2.Seen != t0.Add(time.Second) {
		t.Fatalf("growth: delta %d %+v", d, r2)
	}
	r3, d := nextHostRecord(&r2, rep(100, true), t0.Add(2*time.Second))
	if d != 100 {
		t.Fatalf("after an agent restart: delta %d", d)
	}
	if _, d := nextHostRecord(&r3, rep(900, false), t0); d != 0 {
		t.Fatalf("a non-origin adds egress %d", d)
	}
}

func TestChannelKey(t *testing.T) {
	for _, id := range []ChannelID{{"", "build"}, {"blue team/x", "m.v2"}, {"%", "a"}} {
		got, ok := parseChannelKey(id.key())
		if !ok || got != id {
			t.Errorf("%+v -> %q -> %+v %v", id, id.key(), got, ok)
		}
	}
	for _, bad := range []string{"nokey", "a/../x", "%zz/a"} {
		if _, ok := parseChannelKey(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseKeyFile(t *testing.T) {
	keys, publish, err := ParseKeyFile(strings.NewReader("# fleet\nabc blue\nsolo\nori blue publish # the origin\nself publish\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	for tok, tenant := range map[string]string{"abc": "blue", "solo": "solo", "ori": "blue", "self": "self"} {
		if got, err := keys.Tenant(tok); err != nil || got != tenant {
			t.Errorf("announce key %s: %q %v", tok, got, err)
		}
	}
	if len(publish) != 2 || publish["ori"] != "blue" || publish["self"] != "self" {
		t.Fatalf("publish keys %v", publish)
	}
	pk := NewPublishKeys(publish)
	if _, err := pk.Tenant("abc"); !errors.Is(err, ErrUnknownPublishKey) {
		t.Fatalf("an announce key publishing: %v", err)
	}
	if tn, err := pk.Tenant("ori"); err != nil || tn != "blue" {
		t.Fatalf("publish key: %q %v", tn, err)
	}
	if _, err := (*PublishKeys)(nil).Tenant("x"); !errors.Is(err, ErrNoPublishKeys) {
		t.Fatalf("nil keys: %v", err)
	}
	for _, bad := range []string{"a b c\n", "a b c publish\n"} {
		if _, _, err := ParseKeyFile(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
