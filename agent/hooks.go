package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

// maxHookOutput bounds what a hook's output may put into the log.
const maxHookOutput = 16 << 10

// hookLoop runs the on-complete hook for each switched release, one at a
// time and in order.
func (s *subscriber) hookLoop() {
	defer s.a.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case seq := <-s.hooks:
			s.runHook(seq)
		}
	}
}

// runHook runs --on-complete for release seq with the release in its
// environment, then records in the index that it ran (so a restart runs
// the hook of a release whose hook never finished, and no other).
func (s *subscriber) runHook(seq uint64) {
	a := s.a
	ih, ok := a.releaseHash(s.name, seq)
	if !ok {
		return
	}
	if a.cfg.OnComplete != "" {
		a.mu.Lock()
		s.hookRunning = seq
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			s.hookRunning = 0
			a.mu.Unlock()
			a.kickGC() // a release kept for the hook may go now
		}()
		e, _ := a.lookup(ih)
		name := ""
		if e != nil {
			name = e.rec.Name
		}
		ctx, cancel := context.WithTimeout(s.ctx, a.cfg.HookTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", a.cfg.OnComplete)
		// Its own process group, killed whole on timeout or stop, so a
		// hook's children go too; WaitDelay bounds the wait for an orphan
		// that still holds the output pipe.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 2 * time.Second
		cmd.Env = append(os.Environ(),
			"SHOAL_CHANNEL="+s.name,
			fmt.Sprintf("SHOAL_SEQ=%d", seq),
			"SHOAL_RELEASE_PATH="+a.contentDir(ih.String()),
			"SHOAL_CURRENT="+filepath.Join(a.cfg.Dir, "channels", s.name, "current"),
			"SHOAL_INFOHASH="+ih.String(),
			"SHOAL_NAME="+name,
		)
		out := &boundedBuffer{max: maxHookOutput}
		cmd.Stdout, cmd.Stderr = out, out
		start := time.Now()
		err := cmd.Run()
		if s.ctx.Err() != nil {
			return // stopped: the hook runs again at the next start
		}
		if ctx.Err() != nil {
			// Recorded as ran: a hook that hangs is not run again at each
			// start.
			a.metrics.hooks.WithLabelValues("timeout").Inc()
			a.log.Error("on-complete hook timed out: killed with its children", "channel", s.name, "seq", seq,
				"timeout", a.cfg.HookTimeout, "output", out.String())
		} else if err != nil {
			a.metrics.hooks.WithLabelValues("failed").Inc()
			a.log.Error("on-complete hook failed", "channel", s.name, "seq", seq, "err", err, "output", out.String())
		} else {
			a.metrics.hooks.WithLabelValues("ok").Inc()
			a.log.Info("on-complete hook ran", "channel", s.name, "seq", seq, "took", time.Since(start).Round(time.Millisecond), "output", out.String())
		}
	}
	a.mu.Lock()
	s.rec.HookRan = max(s.rec.HookRan, seq)
	rec := s.rec
	a.mu.Unlock()
	if err := a.ix.putChannel(rec); err != nil {
		a.log.Error("index", "err", err)
	}
}

// boundedBuffer keeps the first max bytes written to it and counts the
// rest. It is written by the goroutines exec starts for stdout and stderr.
type boundedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := max(b.max-b.buf.Len(), 0)
	b.buf.Write(p[:min(len(p), room)])
	b.dropped += int64(len(p) - min(len(p), room))
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("%s... (%d more bytes not kept)", b.buf.String(), b.dropped)
	}
	return b.buf.String()
}

// reportLoop sends a HostReport to every tracker every ReportEvery and at
// once on a change; for a channel we published it also checks that each
// tracker still has our release and registers it again if not (a tracker
// restarted on the memory store).
func (s *subscriber) reportLoop() {
	a := s.a
	defer a.wg.Done()
	tick := time.NewTicker(a.cfg.ReportEvery)
	defer tick.Stop()
	lastCheck := time.Time{}
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		case <-s.report:
		}
		tcs, err := a.channelTrackers()
		if err != nil || len(tcs) == 0 {
			continue
		}
		r, pub, ok := s.hostReport()
		if !ok {
			continue
		}
		for _, tc := range tcs {
			ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
			if err := tc.Report(ctx, s.name, r); err != nil && s.ctx.Err() == nil {
				a.log.Debug("host report", "channel", s.name, "err", err)
			}
			cancel()
		}
		if pub != nil && time.Since(lastCheck) >= a.cfg.ReportEvery {
			lastCheck = time.Now()
			info := s.publishedInfo(*pub)
			for _, tc := range tcs {
				ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
				if _, err := ensureRegistered(ctx, tc, s.name, pub.Key, info, pub.Seq, pub.InfoHash); err != nil && s.ctx.Err() == nil {
					a.log.Warn("re-register release", "channel", s.name, "seq", pub.Seq, "err", err)
				}
				cancel()
			}
		}
	}
}

// hostReport builds the report of this channel; ok=false when there is
// nothing to say (neither subscribed nor origin).
func (s *subscriber) hostReport() (r channel.HostReport, pub *publishedRecord, ok bool) {
	a := s.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if !s.rec.Subscribed && s.published == nil {
		return r, nil, false
	}
	r = channel.HostReport{Host: a.cfg.Name, Zone: a.cfg.Zone, Current: s.rec.Current,
		Uploaded: s.uploadedGone, Origin: s.published != nil}
	held := s.sub.Held()
	if len(held) > channel.MaxHave {
		held = held[len(held)-channel.MaxHave:]
	}
	r.Have = held
	if f := s.sub.Fetching(); len(f) > 0 {
		r.Fetching = f[len(f)-1]
	}
	for _, e := range a.entries {
		if e.rec.Channel != s.name {
			continue
		}
		r.DownRate += e.downRate
		r.UpRate += e.upRate
		if e.t != nil {
			st := e.t.Stats()
			r.Uploaded += st.Uploaded
			if e.rec.Seq == r.Fetching && st.TotalLength > 0 {
				r.Progress = float64(st.TotalLength-st.BytesLeft) / float64(st.TotalLength)
			}
		}
	}
	if s.published != nil {
		p := *s.published
		pub = &p
	}
	return r, pub, true
}

// publishedInfo is the info dictionary of our published release.
func (s *subscriber) publishedInfo(p publishedRecord) []byte {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	for _, e := range s.a.entries {
		if e.rec.InfoHash == p.InfoHash {
			return e.rec.Info
		}
	}
	return nil
}
