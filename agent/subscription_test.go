package agent

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestSubscriptionScripts runs testdata/subscription/*.txt: each command
// steps a Subscription and prints the actions it emitted and its state.
// Run with -rewrite to regenerate the expectations.
func TestSubscriptionScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/subscription", func(t *testing.T, path string) {
		var s *Subscription
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "new" {
				keep := 3
				if d.HasArg("keep") {
					d.ScanArgs(t, "keep", &keep)
				}
				s = NewSubscription(keep)
				return "ok\n"
			}
			if s == nil {
				d.Fatalf(t, "%s before new", d.Cmd)
			}
			seq := func() uint64 {
				if len(d.CmdArgs) == 0 {
					d.Fatalf(t, "%s needs a sequence number", d.Cmd)
				}
				n, err := strconv.ParseUint(d.CmdArgs[0].Key, 10, 64)
				if err != nil {
					d.Fatalf(t, "%s: %v", d.Cmd, err)
				}
				return n
			}
			switch d.Cmd {
			case "restore":
				var cur uint64
				var held []uint64
				for _, a := range d.CmdArgs {
					switch a.Key {
					case "current":
						cur, _ = strconv.ParseUint(a.Vals[0], 10, 64)
					case "held":
						held = append(held, seqList(a.Vals)...)
					}
				}
				s.Restore(cur, held)
			case "offer":
				s.Offer(seq())
			case "complete":
				s.Completed(seq())
			case "switched":
				s.Switched(seq())
			case "fail":
				s.Failed(seq())
			case "removed":
				s.Removed(seq())
			case "pin":
				s.Pin(seq(), true)
			case "unpin":
				s.Pin(seq(), false)
			case "trim":
				busy := map[uint64]bool{}
				for _, a := range d.CmdArgs {
					if a.Key == "busy" {
						for _, n := range seqList(a.Vals) {
							busy[n] = true
						}
					}
				}
				s.Trim(func(q uint64) bool { return busy[q] })
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			var b strings.Builder
			for _, a := range s.Actions() {
				fmt.Fprintln(&b, a)
			}
			fmt.Fprintf(&b, "state: current=%d latest=%d fetching=%v held=%v\n", s.Current(), s.Latest(), s.Fetching(), s.Held())
			return b.String()
		})
	})
}

// seqList parses argument values such as "1,2,3" or (1, 2, 3).
func seqList(vals []string) []uint64 {
	var out []uint64
	for _, v := range vals {
		for _, f := range strings.Split(v, ",") {
			if n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}
