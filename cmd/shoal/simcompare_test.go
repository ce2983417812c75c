package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-p2p/shoal/sim"
)

func TestSimExtraFlags(t *testing.T) {
	parse := func(args ...string) (sim.Config, []sim.System, []string, error) {
		fs := flag.NewFlagSet("sim", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f := addSimExtraFlags(fs)
		if err := fs.Parse(args); err != nil {
			return sim.Config{}, nil, nil, err
		}
		cfg := sim.Config{Link: 5e9}
		systems, policies, err := f.apply(&cfg)
		return cfg, systems, policies, err
	}
	cfg, systems, policies, err := parse("--rack-size", "40", "--rack-uplink", "4:1", "--policy", "local,random",
		"--compare", "shoal,single,replicated:10,sharded:10")
	if err != nil || cfg.RackSize != 40 || cfg.RackUplink != 50e9 || len(systems) != 4 || systems[2].K != 10 ||
		strings.Join(policies, ",") != "local,random" {
		t.Fatalf("cfg %+v, systems %+v, policies %v, err %v", cfg, systems, policies, err)
	}
	if cfg, _, _, err := parse("--rack-size", "40", "--rack-uplink", "50GB"); err != nil || cfg.RackUplink != 50e9 {
		t.Fatalf("rate uplink: %v %v", cfg.RackUplink, err)
	}
	if cfg, _, _, err := parse("--control-queued"); err != nil || !cfg.ControlQueued {
		t.Fatalf("--control-queued: %v %v", cfg.ControlQueued, err)
	}
	if cfg, _, _, err := parse(); err != nil || cfg.ControlQueued {
		t.Fatalf("control messages are queued by default: %v %v", cfg.ControlQueued, err)
	}
	if _, _, policies, _ := parse("--policy", "local,random"); len(policies) != 1 {
		t.Fatalf("without racks only one policy runs: %v", policies)
	}
	for _, bad := range [][]string{
		{"--rack-uplink", "4:1"},
		{"--rack-size", "40", "--rack-uplink", "4:0"},
		{"--rack-size", "40", "--rack-uplink", "fast"},
		{"--compare", "shoal,ftp"},
		{"--compare", ","},
		{"--policy", "nearest"},
		{"--zone-outside", "2"},
	} {
		if _, _, _, err := parse(bad...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

func TestRedrawSimCompare(t *testing.T) {
	dir := t.TempDir()
	in, svg := filepath.Join(dir, "runs.json"), filepath.Join(dir, "cmp.svg")
	for _, r := range []*sim.Report{
		{System: "shoal", Peers: 2, SizeBytes: 1e6, FloorS: 1, TLastS: 1.2, FinishS: []float64{1.1, 1.2}},
		{System: "single", Peers: 2, SizeBytes: 1e6, FloorS: 1, TLastS: 2, FinishS: []float64{2, 2}},
	} {
		if err := appendJSON(in, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := redrawSimCompare(in, svg); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !strings.Contains(string(b), "single: T_last 2.00s") {
		t.Fatalf("chart: %v\n%s", err, b)
	}
	os.WriteFile(in, []byte("{not json\n"), 0o644)
	if err := redrawSimCompare(in, svg); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad JSON: %v", err)
	}
}
