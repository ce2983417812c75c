package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestZoneFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	z := addZoneFlag(fs)
	if err := fs.Parse([]string{"--zone", "dc1/row4/rack12"}); err != nil || string(*z) != "dc1/row4/rack12" {
		t.Fatalf("good label: %q, %v", *z, err)
	}
	err := fs.Parse([]string{"--zone", "dc1//rack"})
	if err == nil || !strings.Contains(err.Error(), "empty segment") {
		t.Fatalf("bad label: %v", err)
	}
}
