package bench

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LinkUse (--netns only) says how full the hosts' links were, read from
// the fabric's own counters: the bridge side of each host's veth counts
// the host's upload as received and its download as sent, in whole frames,
// as tc counts them against the link's rate (so 1.0 is a full link,
// headers and ACKs included). The run is cut in three by the receivers'
// mean download: start-up until it first reaches 90% of the link over a
// 250 ms window, the tail after the last such window, steady between.
// Shares are of the link over each phase; a receiver counts until it
// finished. IdleS are the seconds of link time each phase left unused,
// the mean over receivers of the phase's length (up to its finish) less
// what it downloaded over the link's rate: where T_last went beyond what
// the links could carry.
type LinkUse struct {
	StartupEndS float64 `json:"startup_end_s"` // seconds from the receivers' start
	TailStartS  float64 `json:"tail_start_s"`
	// Receivers' downloads, as a share of the link.
	DownStartup float64 `json:"down_startup"`
	DownSteady  float64 `json:"down_steady"`
	DownTail    float64 `json:"down_tail"`
	// Mean seconds of download link left idle per receiver, per phase.
	IdleStartupS float64 `json:"idle_startup_s"`
	IdleSteadyS  float64 `json:"idle_steady_s"`
	IdleTailS    float64 `json:"idle_tail_s"`
	// Uploads in the steady phase: the origin's and the receivers' mean.
	OriginUpSteady float64 `json:"origin_up_steady"`
	UpSteady       float64 `json:"up_steady"`
	// Uploads in start-up, where the receivers' downloads wait for their
	// uploads: the origin's share and the receivers' mean.
	OriginUpStartup float64 `json:"origin_up_startup"`
	UpStartup       float64 `json:"up_startup"`
	// UpOnsetS is when a receiver's upload first reached half its link
	// over 250 ms (seconds from the receivers' start; its finish if
	// never): the median and the last over receivers. Until then a
	// receiver holds nothing the others ask of it at its link's pace.
	UpOnsetP50S float64 `json:"up_onset_p50_s"`
	UpOnsetMaxS float64 `json:"up_onset_max_s"`
	Samples     int     `json:"samples"`
}

// line is LinkUse as the bench prints it.
func (u *LinkUse) line() string {
	startup := fmt.Sprintf("; start-up uploads: origin %.0f%%, receivers %.0f%%, a receiver's first half full at p50 %.2fs, last %.2fs",
		100*u.OriginUpStartup, 100*u.UpStartup, u.UpOnsetP50S, u.UpOnsetMaxS)
	if u.TailStartS <= u.StartupEndS {
		return fmt.Sprintf("links: receivers' downloads never filled 90%% of the link over 250 ms: %.0f%% of it to %.2fs, idle %.2f s a receiver%s (frames, as tc counts)",
			100*u.DownStartup, u.StartupEndS, u.IdleStartupS, startup)
	}
	return fmt.Sprintf("links: receivers' downloads at %.0f%% of the link in start-up (to %.2fs), %.0f%% steady (to %.2fs), %.0f%% in the tail; "+
		"idle %.2f + %.2f + %.2f s a receiver; uploads steady: origin %.0f%%, receivers %.0f%%%s (frames, as tc counts)",
		100*u.DownStartup, u.StartupEndS, 100*u.DownSteady, u.TailStartS, 100*u.DownTail,
		u.IdleStartupS, u.IdleSteadyS, u.IdleTailS, 100*u.OriginUpSteady, 100*u.UpSteady, startup)
}

// linkSample is every host's cumulative frame bytes up and down at T
// seconds from the receivers' start.
type linkSample struct {
	t        float64
	up, down []int64 // by host index
}

// linkSampleEvery is how often the fabric's counters are read: 50 ms
// resolves a 128 KiB piece at 10 MB/s, and reading /proc/net/dev costs a
// few tens of microseconds.
const linkSampleEvery = 50 * time.Millisecond

// sampleLinks reads every host's veth counters every linkSampleEvery
// until the returned stop is called, which returns the samples (times in
// seconds from start). A read that fails is skipped.
func (f *fabric) sampleLinks(start time.Time) (stop func() []linkSample) {
	index := make(map[string]int, len(f.hosts))
	for i, h := range f.hosts {
		index[h.veth] = i
	}
	var (
		mu      sync.Mutex
		samples []linkSample
	)
	take := func() {
		text, err := os.ReadFile("/proc/net/dev")
		if err != nil {
			return
		}
		s := linkSample{t: time.Since(start).Seconds(), up: make([]int64, len(f.hosts)), down: make([]int64, len(f.hosts))}
		if parseNetDev(text, index, s.up, s.down) != len(f.hosts) {
			return // a namespace gone or not yet made
		}
		mu.Lock()
		samples = append(samples, s)
		mu.Unlock()
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(linkSampleEvery)
		defer tick.Stop()
		take()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				take()
			}
		}
	}()
	return func() []linkSample {
		close(done)
		<-finished
		take()
		mu.Lock()
		defer mu.Unlock()
		return samples
	}
}

// parseNetDev reads /proc/net/dev's text: for each interface named in
// index, the bytes it received go to up[index] (the host's upload, seen
// from the bridge side) and the bytes it sent to down[index]. It returns
// how many of index's interfaces it found.
func parseNetDev(text []byte, index map[string]int, up, down []int64) int {
	found := 0
	for line := range bytes.Lines(text) {
		name, rest, ok := strings.Cut(string(line), ":")
		if !ok {
			continue
		}
		i, ok := index[strings.TrimSpace(name)]
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		rx, err1 := strconv.ParseInt(f[0], 10, 64)
		tx, err2 := strconv.ParseInt(f[8], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		up[i], down[i] = rx, tx
		found++
	}
	return found
}

// linkUse cuts samples into phases (LinkUse). recv are the receivers'
// host indices, finish their finish times (seconds, same order), origin
// the origin's host index; link and originLink are the links' rates in
// frame bytes per second. It returns nil with fewer than two samples.
func linkUse(samples []linkSample, recv []int, finish []float64, origin int, link, originLink float64) *LinkUse {
	if len(samples) < 2 || len(recv) == 0 || link <= 0 {
		return nil
	}
	tLast := 0.0
	for _, t := range finish {
		tLast = max(tLast, t)
	}
	// at interpolates a host's cumulative bytes at t.
	at := func(t float64, host int, down bool) float64 {
		val := func(s *linkSample) float64 {
			if down {
				return float64(s.down[host])
			}
			return float64(s.up[host])
		}
		if t <= samples[0].t {
			return val(&samples[0])
		}
		for k := 1; k < len(samples); k++ {
			a, b := &samples[k-1], &samples[k]
			if t <= b.t {
				if b.t <= a.t {
					return val(b)
				}
				return val(a) + (val(b)-val(a))*(t-a.t)/(b.t-a.t)
			}
		}
		return val(&samples[len(samples)-1])
	}
	meanDown := func(a, b float64) float64 { // receivers' mean download rate over [a, b]
		sum := 0.0
		for _, h := range recv {
			sum += at(b, h, true) - at(a, h, true)
		}
		return sum / float64(len(recv)) / (b - a)
	}
	// Phases: windows of 250 ms at the receivers' mean download.
	const window, full = 0.25, 0.9
	startEnd, tailStart := -1.0, -1.0
	for t := samples[0].t; t+window <= min(tLast, samples[len(samples)-1].t); t += linkSampleEvery.Seconds() {
		if meanDown(t, t+window) >= full*link {
			if startEnd < 0 {
				startEnd = t
			}
			tailStart = t + window
		}
	}
	if startEnd < 0 { // never full: all start-up
		startEnd, tailStart = tLast, tLast
	}
	u := &LinkUse{StartupEndS: startEnd, TailStartS: tailStart, Samples: len(samples)}
	// phase returns the receivers' download share over [a, b], each up to
	// its finish, and the mean idle seconds.
	phase := func(a, b float64) (share, idle float64) {
		var bytes, span float64
		for k, h := range recv {
			e := min(b, finish[k])
			if e <= a {
				continue
			}
			got := at(e, h, true) - at(a, h, true)
			bytes += got
			span += e - a
			idle += (e - a) - got/link
		}
		if span > 0 {
			share = bytes / (span * link)
		}
		return share, max(0, idle/float64(len(recv)))
	}
	u.DownStartup, u.IdleStartupS = phase(0, startEnd)
	u.DownSteady, u.IdleSteadyS = phase(startEnd, tailStart)
	u.DownTail, u.IdleTailS = phase(tailStart, tLast)
	u.OriginUpStartup, u.UpStartup = uploads(at, recv, origin, 0, startEnd, link, originLink)
	u.UpOnsetP50S, u.UpOnsetMaxS = upOnsets(at, recv, finish, samples[0].t, link)
	u.OriginUpSteady, u.UpSteady = uploads(at, recv, origin, startEnd, tailStart, link, originLink)
	return u
}

// uploads returns the origin's upload share over [a, b] and the receivers'
// mean, through at (a host's cumulative bytes at a time, as in linkUse).
func uploads(at func(t float64, host int, down bool) float64, recv []int, origin int, a, b, link, originLink float64) (originShare, recvShare float64) {
	d := b - a
	if d <= 0 {
		return 0, 0
	}
	if originLink > 0 {
		originShare = (at(b, origin, false) - at(a, origin, false)) / d / originLink
	}
	sum := 0.0
	for _, h := range recv {
		sum += at(b, h, false) - at(a, h, false)
	}
	return originShare, sum / float64(len(recv)) / d / link
}

// upOnsets returns the median and the largest over receivers of the first
// time (from t0, in steps of linkSampleEvery) at which a receiver's upload
// over the next 250 ms reached half the link; a receiver that never did
// counts its finish.
func upOnsets(at func(t float64, host int, down bool) float64, recv []int, finish []float64, t0, link float64) (p50, last float64) {
	const window, half = 0.25, 0.5
	onsets := make([]float64, len(recv))
	for k, h := range recv {
		onsets[k] = finish[k]
		for t := t0; t+window <= finish[k]; t += linkSampleEvery.Seconds() {
			if at(t+window, h, false)-at(t, h, false) >= half*link*window {
				onsets[k] = t
				break
			}
		}
	}
	slices.Sort(onsets)
	return percentile(onsets, 0.5), percentile(onsets, 1)
}
