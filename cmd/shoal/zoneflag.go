package main

import (
	"errors"
	"flag"

	"github.com/shoal-p2p/shoal/zone"
)

// zoneFlag is a --zone location label, checked when it is set.
type zoneFlag string

func (z *zoneFlag) String() string { return string(*z) }

func (z *zoneFlag) Set(v string) error {
	if err := zone.Check(v); err != nil {
		return err
	}
	*z = zoneFlag(v)
	return nil
}

// addZoneFlag registers --zone on fs.
func addZoneFlag(fs *flag.FlagSet) *zoneFlag {
	z := new(zoneFlag)
	fs.Var(z, "zone", "this host's location `LABEL`, broadest first, e.g. dc1/row4/rack12: sent with each announce so the tracker hands out peers in the same rack, then row, first")
	return z
}

// errZoneWithAgent: a running agent announces with its own label.
var errZoneWithAgent = errors.New("--zone does not apply with --agent: the agent announces with its own --zone")
