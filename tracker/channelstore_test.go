package tracker

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

// infoDict is a valid bencoded single-file info dictionary of length
// bytes (one piece of 16 KiB at most per 16 KiB), distinct per name.
func infoDict(name string, length int) []byte {
	pieces := (length + 16383) / 16384
	return fmt.Appendf(nil, "d6:lengthi%de4:name%d:%s12:piece lengthi16384e6:pieces%d:%se",
		length, len(name), name, pieces*20, string(make([]byte, pieces*20)))
}

// storeRelease is the release a server would register for info.
func storeRelease(ch string, seq uint64, info []byte, at time.Time) channel.Release {
	h := sha1.Sum(info)
	return channel.Release{Channel: ch, Seq: seq, InfoHash: hex.EncodeToString(h[:]), Name: "n", Size: int64(len(info)), PieceLength: 16384, PublishedAt: at}
}

type channelStoreMaker func(t *testing.T, lim ChannelLimits) ChannelStore

// testChannelStore is the conformance scenario every ChannelStore passes.
func testChannelStore(t *testing.T, mk channelStoreMaker) {
	ctx, t0 := context.Background(), time.Unix(1_700_000_000, 0).UTC()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	id := ChannelID{Name: "build"}

	t.Run("publish and read", func(t *testing.T) {
		s := mk(t, ChannelLimits{MaxReleases: 2})
		if _, err := s.Releases(ctx, id, t0); !errors.Is(err, channel.ErrUnknownChannel) {
			t.Fatalf("releases of an unknown channel: %v", err)
		}
		if _, err := s.Info(ctx, id, 1); !errors.Is(err, channel.ErrUnknownChannel) {
			t.Fatalf("info of an unknown channel: %v", err)
		}
		infos := [][]byte{infoDict("a", 10), infoDict("b", 20), infoDict("c", 30)}
		for i, info := range infos {
			out, created, err := s.Publish(ctx, id, storeRelease("build", 0, info, t0.Add(time.Duration(i)*time.Second)), info)
			if err != nil || !created || out.Seq != uint64(i+1) {
				t.Fatalf("publish %d: %+v %v %v", i, out, created, err)
			}
		}
		out, created, err := s.Publish(ctx, id, storeRelease("build", 3, infos[2], t0.Add(time.Hour)), infos[2])
		if err != nil || created || out.Seq != 3 || !out.PublishedAt.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("re-register 3: %+v %v %v", out, created, err)
		}
		if _, _, err := s.Publish(ctx, id, storeRelease("build", 3, infos[0], t0), infos[0]); !errors.Is(err, channel.ErrConflict) {
			t.Fatalf("seq 3 with another hash: %v", err)
		}
		rels, err := s.Releases(ctx, id, t0)
		if err != nil || len(rels) != 2 || rels[0].Seq != 2 || rels[1].Seq != 3 || !rels[1].PublishedAt.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("releases kept: %+v %v", rels, err)
		}
		if b, err := s.Info(ctx, id, 3); err != nil || string(b) != string(infos[2]) {
			t.Fatalf("info 3: %q %v", b, err)
		}
		if _, err := s.Info(ctx, id, 1); !errors.Is(err, ErrUnknownRelease) {
			t.Fatalf("info of an evicted release: %v", err)
		}
		if _, err := s.Releases(ctx, ChannelID{Tenant: "other", Name: "build"}, t0); !errors.Is(err, channel.ErrUnknownChannel) {
			t.Fatalf("another tenant sees the channel: %v", err)
		}
	})

	t.Run("reports", func(t *testing.T) {
		s := mk(t, ChannelLimits{HostTTL: 10 * time.Second})
		// Hosts that report before anything is published make a pending
		// channel: still unknown to release reads (saying hosts wait), on
		// the fleet page, and its floor lifted.
		must(s.Report(ctx, id, channel.HostReport{Host: "h1", Current: 4, Have: []uint64{3, 4}}, t0))
		if rels, err := s.Releases(ctx, id, t0); !errors.Is(err, channel.ErrUnknownChannel) || !strings.Contains(err.Error(), "1 hosts subscribed") {
			t.Fatalf("pending channel: %v %v", rels, err)
		}
		if vs, err := s.View(ctx, "", t0); err != nil || len(vs) != 1 || len(vs[0].Hosts) != 1 || len(vs[0].Releases) != 0 {
			t.Fatalf("pending channel's view: %+v %v", vs, err)
		}
		info := infoDict("five", 50)
		out, _, err := s.Publish(ctx, id, storeRelease("build", 0, info, t0), info)
		if err != nil || out.Seq != 5 {
			t.Fatalf("publish after a report of 4: %+v %v", out, err)
		}
		must(s.Report(ctx, id, channel.HostReport{Host: "origin", Origin: true, Uploaded: 1000, Current: 5}, t0))
		must(s.Report(ctx, id, channel.HostReport{Host: "h2", Fetching: 5, Progress: 0.5}, t0.Add(time.Second)))
		must(s.Report(ctx, id, channel.HostReport{Host: "h1", Current: 5, Have: []uint64{4, 5}}, t0.Add(2*time.Second)))
		must(s.Report(ctx, id, channel.HostReport{Host: "h1", Current: 5, Have: []uint64{4, 5}}, t0.Add(3*time.Second)))
		must(s.Report(ctx, id, channel.HostReport{Host: "origin", Origin: true, Uploaded: 1600, Current: 5}, t0.Add(3*time.Second)))
		vs, err := s.View(ctx, "", t0.Add(3*time.Second))
		if err != nil || len(vs) != 1 {
			t.Fatalf("view: %+v %v", vs, err)
		}
		v := vs[0]
		var hosts []string
		for _, h := range v.Hosts {
			hosts = append(hosts, h.Report.Host)
		}
		if !slices.Equal(hosts, []string{"h1", "h2", "origin"}) || v.Egress != 600 || v.Floor != 5 {
			t.Fatalf("view hosts %v egress %d floor %d", hosts, v.Egress, v.Floor)
		}
		if len(v.Releases) != 1 || v.Releases[0].OriginBase != 0 {
			t.Fatalf("view releases %+v", v.Releases)
		}
		done := v.Releases[0].Completed
		if len(done) != 2 || !done["h1"].Equal(t0.Add(2*time.Second)) || !done["origin"].Equal(t0) {
			t.Fatalf("completions %v", done)
		}
		if h := v.Hosts[0]; !h.Since.Equal(t0) || !h.Seen.Equal(t0.Add(3*time.Second)) {
			t.Fatalf("h1 since %v seen %v", h.Since, h.Seen)
		}
		// After the TTL the hosts are gone, the releases stay.
		later := t0.Add(20 * time.Second)
		if vs, err := s.View(ctx, "", later); err != nil || len(vs) != 1 || len(vs[0].Hosts) != 0 || len(vs[0].Releases) != 1 {
			t.Fatalf("view after the ttl: %+v %v", vs, err)
		}
		// A pending channel whose hosts all left is gone from the view.
		other := ChannelID{Name: "typo"}
		must(s.Report(ctx, other, channel.HostReport{Host: "h9"}, later))
		names := func(at time.Time) (out []string) {
			vs, err := s.View(ctx, "", at)
			must(err)
			for _, v := range vs {
				out = append(out, v.ID.Name)
			}
			return out
		}
		if got := names(later.Add(5 * time.Second)); !slices.Equal(got, []string{"build", "typo"}) {
			t.Fatalf("pending channel within the ttl: %v", got)
		}
		if got := names(later.Add(11 * time.Second)); !slices.Equal(got, []string{"build"}) {
			t.Fatalf("pending channel after the ttl: %v", got)
		}
	})

	t.Run("bounds", func(t *testing.T) {
		s := mk(t, ChannelLimits{MaxHosts: 3, MaxPending: 2, MaxChannels: 2, HostTTL: 10 * time.Second})
		for i := range 3 {
			must(s.Report(ctx, id, channel.HostReport{Host: fmt.Sprint("h", i)}, t0))
		}
		if err := s.Report(ctx, id, channel.HostReport{Host: "h3"}, t0); !errors.Is(err, ErrChannelFull) {
			t.Fatalf("a fourth host over a bound of 3: %v", err)
		}
		must(s.Report(ctx, id, channel.HostReport{Host: "h0", Current: 1}, t0.Add(time.Second))) // known hosts still report
		must(s.Report(ctx, id, channel.HostReport{Host: "h3"}, t0.Add(11*time.Second)))          // room once h1, h2 expired
		must(s.Report(ctx, ChannelID{Name: "p2"}, channel.HostReport{Host: "x"}, t0))
		if err := s.Report(ctx, ChannelID{Name: "p3"}, channel.HostReport{Host: "x"}, t0); !errors.Is(err, ErrTooManyChannels) {
			t.Fatalf("a third pending channel over a bound of 2: %v", err)
		}
		// Publishing takes a pending channel out of the pending count, and
		// pending channels never block a publish.
		for _, name := range []string{"build", "new"} {
			info := infoDict(name, 10)
			if _, _, err := s.Publish(ctx, ChannelID{Name: name}, storeRelease(name, 0, info, t0), info); err != nil {
				t.Fatalf("publish %s: %v", name, err)
			}
		}
		info := infoDict("third", 10)
		if _, _, err := s.Publish(ctx, ChannelID{Name: "third"}, storeRelease("third", 0, info, t0), info); !errors.Is(err, ErrTooManyChannels) {
			t.Fatalf("a third published channel over a bound of 2: %v", err)
		}
		must(s.Report(ctx, ChannelID{Name: "p3"}, channel.HostReport{Host: "x"}, t0)) // build left the pending count
	})

	t.Run("completions bounded", func(t *testing.T) {
		// Hosts come and go (each lives one TTL): the completions kept per
		// release stay within MaxHosts.
		s := mk(t, ChannelLimits{MaxHosts: 2, HostTTL: 10 * time.Second})
		info := infoDict("c", 10)
		if _, _, err := s.Publish(ctx, id, storeRelease("build", 0, info, t0), info); err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			at := t0.Add(time.Duration(i) * 11 * time.Second)
			must(s.Report(ctx, id, channel.HostReport{Host: fmt.Sprint("h", i), Current: 1}, at))
			vs, err := s.View(ctx, "", at)
			if err != nil || len(vs) != 1 || len(vs[0].Releases[0].Completed) != min(i+1, 2) {
				t.Fatalf("after %d hosts: %+v %v", i+1, vs, err)
			}
		}
	})

	t.Run("watch", func(t *testing.T) {
		s := mk(t, ChannelLimits{})
		changed, done := s.Watch(id)
		defer done()
		info := infoDict("w", 10)
		if _, _, err := s.Publish(ctx, id, storeRelease("build", 0, info, t0), info); err != nil {
			t.Fatal(err)
		}
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatal("no notification of a publish")
		}
	})
}

func TestMemoryChannelStore(t *testing.T) {
	testChannelStore(t, func(t *testing.T, lim ChannelLimits) ChannelStore { return NewMemoryChannelStore(lim) })
}

// TestMemoryChannelStoreInfoBudget: the info dictionaries held stay
// within MaxInfoBytes, counting what eviction frees.
func TestMemoryChannelStoreInfoBudget(t *testing.T) {
	ctx, t0 := context.Background(), time.Unix(1000, 0)
	one := len(infoDict("a", 10))
	s := NewMemoryChannelStore(ChannelLimits{MaxReleases: 2, MaxInfoBytes: int64(3 * one)})
	pub := func(ch, name string) error {
		info := infoDict(name, 10)
		_, _, err := s.Publish(ctx, ChannelID{Name: ch}, storeRelease(ch, 0, info, t0), info)
		return err
	}
	for _, n := range []string{"a", "b", "c", "d"} { // 2 kept: a, b evicted as c, d arrive
		if err := pub("one", n); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	if err := pub("two", "e"); err != nil {
		t.Fatal(err)
	}
	if err := pub("two", "f"); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("over budget: %v", err)
	}
	if _, b := s.Len(); b != int64(3*one) {
		t.Fatalf("holding %d bytes, want %d", b, 3*one)
	}
	if err := pub("one", "g"); err != nil { // evicts c: fits
		t.Fatalf("publish that frees its own room: %v", err)
	}
}
