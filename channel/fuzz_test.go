package channel

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Each fuzz target checks that a parser never panics, and that what it
// accepts re-encodes to something it accepts again, unchanged.

func FuzzParseHostReport(f *testing.F) {
	b, _ := json.Marshal(sampleReport())
	f.Add(b)
	f.Add([]byte(`{"host":"a","have":[1,2,3],"origin":true}`))
	f.Add([]byte(`{"host":"a","progress":1e309}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseHostReport(in)
		if err != nil {
			return
		}
		reparse(t, r, ParseHostReport)
	})
}

func FuzzParseRelease(f *testing.F) {
	f.Add([]byte(relJSON(1)))
	f.Add([]byte(`{"channel":"b","seq":9007199254740991,"info_hash":"0000000000000000000000000000000000000000","name":"x","size":1,"piece_length":16384,"published_at":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseRelease(in)
		if err != nil {
			return
		}
		reparse(t, r, ParseRelease)
	})
}

func FuzzParseReleaseList(f *testing.F) {
	f.Add([]byte(`{"channel":"build","releases":[` + relJSON(1) + `,` + relJSON(2) + `]}`))
	f.Add([]byte(`{"channel":"build","releases":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := ParseReleaseList(in)
		if err != nil {
			return
		}
		reparse(t, l, ParseReleaseList)
	})
}

func FuzzParseSummaryList(f *testing.F) {
	f.Add([]byte(`{"channels":[{"channel":"build","latest":` + relJSON(3) + `,"releases":3,"subscribers":10},{"channel":"x"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := ParseSummaryList(in)
		if err != nil {
			return
		}
		reparse(t, l, ParseSummaryList)
	})
}

// FuzzNewClient checks that any accepted announce URL gives an http(s)
// base URL with no path.
func FuzzNewClient(f *testing.F) {
	for _, s := range []string{"http://h:6969/announce", "https://h/KEY/announce", "http://h/a%2Fb/announce", "udp://h:1/announce", "http://h/x/y/announce", "http://h/announce?key=k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := NewClient(s, nil)
		if err != nil {
			return
		}
		b := c.BaseURL()
		if !(len(b) > 7 && (b[:7] == "http://" || len(b) > 8 && b[:8] == "https://")) || bytes.Count([]byte(b), []byte("/")) != 2 {
			t.Fatalf("%q gave base %q", s, b)
		}
	})
}

// reparse marshals v, parses it again and checks the second encoding is
// the first.
func reparse[T any](t *testing.T, v T, parse func([]byte) (T, error)) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal accepted value: %v", err)
	}
	w, err := parse(b)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", b, err)
	}
	b2, _ := json.Marshal(w)
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip changed:\n%s\n%s", b, b2)
	}
}
