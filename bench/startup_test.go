package bench

import "testing"

// TestParseDiscovery: a receiver's "discovery:" line gives its first peer,
// first piece and first upload, and a line from a binary that says only
// the first peer gives that.
func TestParseDiscovery(t *testing.T) {
	tests := []struct {
		line string
		want discovery
	}{
		{"discovery: first peer after 0.110s, metadata after 0.000s, complete after 10.950s, first piece after 0.640s, first upload after 0.710s",
			discovery{peer: 0.11, piece: 0.64, upload: 0.71}},
		{"discovery: first peer after 0.110s, metadata after 0.000s, complete after 10.950s, first piece after 0.640s, first upload after 0.000s",
			discovery{peer: 0.11, piece: 0.64}},
		{"discovery: first peer after 0.250s, metadata after 0.000s, complete after 8.100s", discovery{peer: 0.25}},
		{"discovery: nonsense", discovery{}},
	}
	for _, tt := range tests {
		if got := parseDiscovery(tt.line); got != tt.want {
			t.Errorf("parseDiscovery(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

// TestStartupLine: the medians and the last of the receivers' start-up
// times, a receiver that never sent a block counted apart, and nothing for
// a system whose receivers say nothing.
func TestStartupLine(t *testing.T) {
	r := Result{
		StartedS:     []float64{0.1, 0.3, 0.2},
		FirstPeerS:   []float64{0.2, 0.4, 0.3},
		FirstPieceS:  []float64{0.9, 1.5, 0.7},
		FirstUploadS: []float64{1.0, 0, 0.8},
	}
	want := "start-up: receivers started p50 0.20s, last 0.30s; first peer p50 0.30s, last 0.40s; first piece verified p50 0.90s, last 1.50s; first block sent p50 0.80s, last 1.00s (1 never)"
	if got := r.startupLine(); got != want {
		t.Errorf("startupLine() =\n%s\nwant\n%s", got, want)
	}
	if got := (Result{}).startupLine(); got != "" {
		t.Errorf("no receivers' times: %q, want nothing", got)
	}
}
