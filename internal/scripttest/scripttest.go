// Package scripttest runs the scenario scripts of the pure machines
// (swarm/testdata, peers/testdata) with github.com/cockroachdb/datadriven.
// A block's directive line and each of its input lines are one command
// each; the block's output is what its commands printed, one line each, or
// "(none)" when they printed nothing. "go test -rewrite" regenerates the
// expectations.
package scripttest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// Runner interprets one script's commands.
type Runner interface {
	// Run runs one command line and returns the lines it printed.
	Run(line string) ([]string, error)
	// Check verifies the machine's invariants after a command; nil if they
	// hold (or there is no machine yet).
	Check() error
}

// Run runs every script matching glob, each as a subtest with a fresh
// runner from newRunner.
func Run(t *testing.T, glob string, newRunner func() Runner) {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts match %s: %v", glob, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			r := newRunner()
			datadriven.RunTest(t, f, func(t *testing.T, d *datadriven.TestData) string {
				cmds := []string{d.FullCmd()}
				if d.Input != "" {
					cmds = append(cmds, strings.Split(d.Input, "\n")...)
				}
				var out []string
				for _, c := range cmds {
					lines, err := r.Run(c)
					if err != nil {
						t.Fatalf("%s: %s: %v", d.Pos, c, err)
					}
					out = append(out, lines...)
					if err := r.Check(); err != nil {
						t.Fatalf("%s: %s: invariant: %v", d.Pos, c, err)
					}
				}
				if len(out) == 0 {
					return "(none)\n"
				}
				return strings.Join(out, "\n") + "\n"
			})
		})
	}
}
