package main

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		bad  bool
	}{
		{in: "1048576", want: 1048576},
		{in: "50MB", want: 50e6},
		{in: "50MB/s", want: 50e6},
		{in: "1.5GiB", want: 1.5 * (1 << 30)},
		{in: "64k", want: 64e3},
		{in: "400Mbit", want: 50e6},
		{in: "400Mbps", want: 50e6},
		{in: "400Mb", want: 50e6},
		{in: "1Gbit", want: 125e6},
		{in: "256MiB", want: 256 << 20},
		{in: "", bad: true},
		{in: "fast", bad: true},
		{in: "-3MB", bad: true},
		{in: "5XB", bad: true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("parseSize(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
