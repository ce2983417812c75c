package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	randv2 "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/sim"
	"github.com/shoal-p2p/shoal/tracker"
)

// simExtraFlags are shoal sim's racks, policy and comparison flags.
type simExtraFlags struct {
	rackSize *int
	uplink   string
	core     rateFlag
	policy   *string
	compare  *string
	outside  *float64
	enough   *int
	fromJSON *string
	ctrlQ    *bool
}

// addSimExtraFlags registers --rack-size, --rack-uplink, --core-rate,
// --policy, --compare and --control-queued on fs.
func addSimExtraFlags(fs *flag.FlagSet) *simExtraFlags {
	f := &simExtraFlags{}
	f.rackSize = fs.Int("rack-size", 0, "put the receivers in racks of `R` hosts behind one uplink each (0: no racks)")
	fs.Func("rack-uplink", "each rack's uplink `RATE` each way, e.g. 50GB, or an oversubscription R×link:U such as 4:1 (default: unlimited)",
		func(v string) error { f.uplink = v; return nil })
	fs.Var(&f.core, "core-rate", "`RATE` of the core joining the rack uplinks (default: unlimited)")
	f.policy = fs.String("policy", "local", "peer choice with racks, comma-separated to run several: local (hosts announce their rack; the cores prefer rack neighbours), handout (the labels reach the tracker only) or random")
	f.compare = fs.String("compare", "shoal", "comma-separated `systems` to run on the same links: shoal, single, replicated:K, sharded:K")
	f.outside = fs.Float64("zone-outside", tracker.DefaultLocality.Outside, "local policy: `share` of each handout drawn uniformly from outside the host's rack")
	f.enough = fs.Int("zone-enough", tracker.DefaultLocality.Enough, "local policy: handout size up to which the nearest peers outside the rack are added to a small rack's")
	f.ctrlQ = fs.Bool("control-queued", false, "a Request, Have, handshake or close waits behind the blocks already on their way to its receiver, as under tc shaping (bench --netns); off, it takes the latency only, as under the loopback bench's limiter")
	f.fromJSON = fs.String("from-json", "", "run nothing: print the comparison and write --svg from the reports in `file` (a --json output, one per line)")
	return f
}

// apply sets cfg's rack fields; it returns the systems and policies to
// run.
func (f *simExtraFlags) apply(cfg *sim.Config) (systems []sim.System, policies []string, err error) {
	cfg.RackSize, cfg.CoreRate = *f.rackSize, float64(f.core)
	cfg.ControlQueued = *f.ctrlQ
	if *f.outside < 0 || *f.outside > 1 || *f.enough < 0 {
		return nil, nil, errors.New("--zone-outside must be within [0, 1] and --zone-enough not negative")
	}

	if f.uplink != "" {
		if cfg.RackUplink, err = parseUplink(f.uplink, *f.rackSize, cfg.Link); err != nil {
			return nil, nil, fmt.Errorf("--rack-uplink: %w", err)
		}
	}
	for _, name := range splitList(*f.compare) {
		sys, err := sim.ParseSystem(name)
		if err != nil {
			return nil, nil, fmt.Errorf("--compare: %w", err)
		}
		systems = append(systems, sys)
	}
	if len(systems) == 0 {
		return nil, nil, errors.New("--compare: no system to run")
	}
	for _, p := range splitList(*f.policy) {
		if p != "local" && p != "random" && p != "handout" {
			return nil, nil, fmt.Errorf("--policy %q: want local, handout or random", p)
		}
		policies = append(policies, p)
	}
	if len(policies) == 0 {
		return nil, nil, errors.New("--policy: no policy given")
	}
	if cfg.RackSize == 0 {
		policies = policies[:1] // without racks nobody has a label
	}
	return systems, policies, nil
}

// setPolicy gives cfg a fresh policy of its own (policies keep state:
// their random source and handout budget): the tracker's default as the
// simulator builds it, with the locality of the flags if they changed it.
func (f *simExtraFlags) setPolicy(cfg *sim.Config) {
	cfg.Policy = nil
	if loc := (tracker.Locality{Outside: *f.outside, Enough: *f.enough}); loc != tracker.DefaultLocality {
		prng := randv2.New(randv2.NewPCG(uint64(cfg.Seed), 0x5eed))
		cfg.Policy = tracker.NewDefaultPolicyWith(prng, tracker.NewHandoutBudget(sim.HandoutBudget, sim.AnnounceInterval, 0), loc)
	}
}

// parseUplink reads a rate, or "R:U" meaning rackSize × link × U/R.
func parseUplink(v string, rackSize int, link float64) (float64, error) {
	if a, b, ok := strings.Cut(v, ":"); ok {
		over, err1 := strconv.ParseFloat(a, 64)
		under, err2 := strconv.ParseFloat(b, 64)
		if err1 != nil || err2 != nil || !(over > 0) || !(under > 0) {
			return 0, fmt.Errorf("%q: want an oversubscription such as 4:1", v)
		}
		if rackSize <= 0 {
			return 0, fmt.Errorf("%q: an oversubscription needs --rack-size", v)
		}
		return float64(rackSize) * link * under / over, nil
	}
	r, err := parseSize(v)
	if err != nil {
		return 0, err
	}
	return r, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// simRun is one run of a comparison: a system, and for Shoal a policy.
type simRun struct {
	sys    sim.System
	policy string
}

// runSimCompare runs every system (Shoal once per policy) on cfg, one after
// another, printing each report, appending each to jsonOut, and drawing
// all completion curves on one chart in svgOut.
func runSimCompare(ctx context.Context, cfg sim.Config, extra *simExtraFlags, systems []sim.System, policies []string, jsonOut, svgOut string) error {
	var runs []simRun
	for _, sys := range systems {
		if sys.Kind == sim.SystemShoal {
			for _, p := range policies {
				runs = append(runs, simRun{sys, p})
			}
		} else {
			runs = append(runs, simRun{sys, ""})
		}
	}
	var reports []*sim.Report
	var firstErr error
	for _, run := range runs {
		c := cfg
		c.RandomPeers = run.policy == "random"
		c.HandoutOnly = run.policy == "handout"
		extra.setPolicy(&c)
		start := time.Now()
		peak := newHeapPeak()
		rep, err := sim.RunSystem(ctx, c, run.sys)
		wall, heap := time.Since(start), peak.stop()
		if rep == nil {
			if ctx.Err() != nil {
				return errInterrupted
			}
			return err
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		rep.SimWallS, rep.SimPeakHeapBytes = wall.Seconds(), heap
		label := run.sys.Name
		if run.policy != "" && cfg.RackSize > 0 {
			label += " (" + run.policy + " peers)"
		}
		fmt.Printf("== %s\n", label)
		printSimReport(rep, false)
		printRackReport(rep)
		if jsonOut != "" {
			if err := appendJSON(jsonOut, rep); err != nil {
				return err
			}
		}
		reports = append(reports, rep)
	}
	if len(reports) > 1 {
		printCompareTable(reports)
	}
	if svgOut != "" {
		f, err := os.Create(svgOut)
		if err != nil {
			return err
		}
		if err := sim.WriteCompareSVG(f, reports); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", svgOut, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return firstErr
}

// redrawSimCompare prints the comparison table of the reports saved in
// in (JSON lines, as --json appends them) and draws them to svgOut.
func redrawSimCompare(in, svgOut string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var reports []*sim.Report
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		r := new(sim.Report)
		if err := json.Unmarshal([]byte(line), r); err != nil {
			return fmt.Errorf("%s line %d: %w", in, i+1, err)
		}
		reports = append(reports, r)
	}
	printCompareTable(reports)
	if svgOut == "" {
		return nil
	}
	f, err := os.Create(svgOut)
	if err != nil {
		return err
	}
	if err := sim.WriteCompareSVG(f, reports); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", svgOut, err)
	}
	return f.Close()
}

// printRackReport prints a run's racks figures, if it modelled racks.
func printRackReport(r *sim.Report) {
	rr := r.RackReport
	if rr == nil {
		return
	}
	uplink, core := "unlimited", "unlimited"
	if rr.RackUplinkBytesPerS > 0 {
		uplink = formatBytes(rr.RackUplinkBytesPerS) + "/s"
	}
	if rr.CoreBytesPerS > 0 {
		core = formatBytes(rr.CoreBytesPerS) + "/s"
	}
	fmt.Printf("  racks: %d of %d, uplinks %s, core %s, %s peers\n", rr.Racks, rr.RackSize, uplink, core, rr.Policy)
	fmt.Printf("  into a rack over its uplink: max %s (%.2f F), mean %.2f F; out of a rack: max %s\n",
		formatBytes(float64(rr.RackUplinkInBytesMax)), rr.RackUplinkInRatioMax, rr.RackUplinkInRatioMean,
		formatBytes(float64(rr.RackUplinkOutBytesMax)))
	fmt.Printf("  floor with the uplinks %.3fs (Kumar-Ross %.3fs, uplink terms %.3fs)\n", r.FloorS, rr.FloorKumarRossS, rr.FloorUplinksS)
}

// printCompareTable prints one line per run of a comparison.
func printCompareTable(reps []*sim.Report) {
	if len(reps) == 0 {
		return
	}
	fmt.Printf("\n%-16s %8s %10s %10s %10s %8s %10s %12s\n", "system", "policy", "T_last", "p50", "floor", "eff", "egress/F", "rack in/F")
	for _, r := range reps {
		policy, rackIn := "", ""
		if r.RackReport != nil {
			policy, rackIn = r.RackReport.Policy, strconv.FormatFloat(r.RackReport.RackUplinkInRatioMax, 'f', 2, 64)
		}
		fmt.Printf("%-16s %8s %9.3fs %9.3fs %9.3fs %8.4f %10.2f %12s\n", r.System, policy, r.TLastS, r.P50S, r.FloorS,
			r.Efficiency, r.OriginEgressRatio, rackIn)
	}
}
