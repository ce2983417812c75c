package main

import "testing"

// TestOneProc: only a process whose every direction of traffic is limited,
// to oneProcRate in all, runs on one scheduler slot.
func TestOneProc(t *testing.T) {
	for _, c := range []struct {
		up, down  float64
		downloads bool
		want      bool
	}{
		{10e6, 10e6, true, true},
		{50e6, 50e6, true, true},
		{60e6, 50e6, true, false}, // over oneProcRate together
		{10e6, 0, true, false},    // unlimited download
		{0, 10e6, true, false},    // unlimited upload
		{0, 0, true, false},
		{10e6, 0, false, true}, // a seeder: its download limit does not matter
		{200e6, 0, false, false},
		{0, 0, false, false},
	} {
		if got := oneProc(c.up, c.down, c.downloads); got != c.want {
			t.Errorf("oneProc(%g, %g, %v) = %v, want %v", c.up, c.down, c.downloads, got, c.want)
		}
	}
}

// TestShapedLink: the bench's hint of a link shaped outside the process is
// read as a positive rate, and anything else is ignored.
func TestShapedLink(t *testing.T) {
	for _, c := range []struct {
		env  string
		want float64
	}{
		{"10000000", 10e6},
		{"1e9", 1e9},
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"fast", 0},
	} {
		t.Setenv(shapedLinkEnv, c.env)
		if got := shapedLink(); got != c.want {
			t.Errorf("%s=%q: shapedLink() = %g, want %g", shapedLinkEnv, c.env, got, c.want)
		}
	}
}
