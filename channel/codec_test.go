package channel

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleRelease(seq uint64) Release {
	return Release{
		Channel:     "build",
		Seq:         seq,
		InfoHash:    strings.Repeat("ab", 20),
		Name:        "build-1234.tar",
		Size:        5 << 30,
		PieceLength: 4 << 20,
		PublishedAt: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
	}
}

func sampleReport() HostReport {
	return HostReport{Host: "web-01.dc1", Zone: "rack-7", Current: 3, Fetching: 4, Progress: 0.25,
		Have: []uint64{1, 2, 3}, DownRate: 1.5e8, UpRate: 1.2e8, Uploaded: 1 << 40}
}

func TestRoundTrips(t *testing.T) {
	rel := sampleRelease(7)
	b, _ := json.Marshal(rel)
	got, err := ParseRelease(b)
	if err != nil || !reflect.DeepEqual(got, rel) {
		t.Fatalf("release: %+v %v", got, err)
	}
	rep := sampleReport()
	b, _ = json.Marshal(rep)
	gotRep, err := ParseHostReport(b)
	if err != nil || !reflect.DeepEqual(gotRep, rep) {
		t.Fatalf("report: %+v %v", gotRep, err)
	}
	list := ReleaseList{Channel: "build", Releases: []Release{sampleRelease(1), sampleRelease(2)}}
	b, _ = json.Marshal(list)
	gotList, err := ParseReleaseList(b)
	if err != nil || !reflect.DeepEqual(gotList, list) {
		t.Fatalf("list: %+v %v", gotList, err)
	}
	latest := sampleRelease(2)
	sums := SummaryList{Channels: []Summary{{Channel: "build", Latest: &latest, Releases: 2, Subscribers: 9}, {Channel: "empty"}}}
	b, _ = json.Marshal(sums)
	gotSums, err := ParseSummaryList(b)
	if err != nil || !reflect.DeepEqual(gotSums, sums) {
		t.Fatalf("summaries: %+v %v", gotSums, err)
	}
}

// TestWireNames pins the JSON field names of the contract.
func TestWireNames(t *testing.T) {
	b, _ := json.Marshal(sampleRelease(1))
	for _, k := range []string{`"channel"`, `"seq"`, `"info_hash"`, `"name"`, `"size"`, `"piece_length"`, `"published_at"`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("release JSON lacks %s: %s", k, b)
		}
	}
	rep := sampleReport()
	rep.Origin = true
	b, _ = json.Marshal(rep)
	for _, k := range []string{`"host"`, `"zone"`, `"current"`, `"fetching"`, `"progress"`, `"have"`, `"down_rate"`, `"up_rate"`, `"uploaded"`, `"origin"`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("report JSON lacks %s: %s", k, b)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	big := `{"host":"` + strings.Repeat("a", MaxReportSize) + `"}`
	cases := []struct {
		name  string
		parse func([]byte) error
		in    string
		want  error
		says  string
	}{
		{"report not json", report, `{"host":`, ErrInvalid, "host report"},
		{"report trailing", report, `{"host":"a"} {}`, ErrInvalid, "after top-level"},
		{"report too large", report, big, ErrTooLarge, "limit"},
		{"report no host", report, `{"current":1}`, ErrInvalid, "host name"},
		{"report host with space", report, `{"host":"a b"}`, ErrInvalid, "space"},
		{"report host control", report, `{"host":"a\u0007"}`, ErrInvalid, "control"},
		{"report progress", report, `{"host":"a","progress":1.5}`, ErrInvalid, "progress"},
		{"report negative rate", report, `{"host":"a","down_rate":-1}`, ErrInvalid, "rates"},
		{"report negative uploaded", report, `{"host":"a","uploaded":-1}`, ErrInvalid, "uploaded"},
		{"report have zero", report, `{"host":"a","have":[0]}`, ErrInvalid, "seq 0"},
		{"report have too many", report, `{"host":"a","have":[` + strings.Repeat("1,", MaxHave) + `1]}`, ErrInvalid, "limit"},
		{"report seq too big", report, `{"host":"a","current":9007199254740992}`, ErrInvalid, "seq over"},
		{"report wrong type", report, `{"host":"a","current":"3"}`, ErrInvalid, "current"},
		{"release seq 0", release, `{"channel":"b","seq":0,"info_hash":"` + strings.Repeat("a", 40) + `","name":"n","size":1,"piece_length":1}`, ErrInvalid, "seq 0"},
		{"release upper hash", release, `{"channel":"b","seq":1,"info_hash":"` + strings.Repeat("A", 40) + `","name":"n","size":1,"piece_length":1}`, ErrInvalid, "lowercase hex"},
		{"release bad channel", release, `{"channel":"../x","seq":1,"info_hash":"` + strings.Repeat("a", 40) + `","name":"n","size":1,"piece_length":1}`, ErrInvalid, "channel name"},
		{"release no size", release, `{"channel":"b","seq":1,"info_hash":"` + strings.Repeat("a", 40) + `","name":"n","piece_length":1}`, ErrInvalid, "size 0"},
		{"list out of order", list, `{"channel":"build","releases":[` + relJSON(2) + `,` + relJSON(1) + `]}`, ErrInvalid, "seq 1 after 2"},
		{"list other channel", list, `{"channel":"other","releases":[` + relJSON(1) + `]}`, ErrInvalid, "holds a release of build"},
		{"summaries twice", summaries, `{"channels":[{"channel":"a"},{"channel":"a"}]}`, ErrInvalid, "twice"},
		{"summaries negative", summaries, `{"channels":[{"channel":"a","releases":-1}]}`, ErrInvalid, "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.parse([]byte(c.in))
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("got %v, want %v saying %q", err, c.want, c.says)
			}
		})
	}
}

func relJSON(seq uint64) string {
	b, _ := json.Marshal(sampleRelease(seq))
	return string(b)
}

func report(b []byte) error    { _, err := ParseHostReport(b); return err }
func release(b []byte) error   { _, err := ParseRelease(b); return err }
func list(b []byte) error      { _, err := ParseReleaseList(b); return err }
func summaries(b []byte) error { _, err := ParseSummaryList(b); return err }

func TestValidName(t *testing.T) {
	for _, ok := range []string{"build", "a", "model-v2.gguf", "A_B-c.9", strings.Repeat("x", MaxNameLen)} {
		if err := ValidName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "a/b", "a b", "a%2F", "é", strings.Repeat("x", MaxNameLen+1)} {
		if err := ValidName(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q accepted (%v)", bad, err)
		}
	}
}

func TestReportHolds(t *testing.T) {
	r := HostReport{Host: "h", Current: 5, Fetching: 7, Have: []uint64{3, 5}}
	for seq, want := range map[uint64]bool{0: false, 3: true, 4: false, 5: true, 7: false} {
		if r.Holds(seq) != want {
			t.Errorf("Holds(%d) = %v", seq, !want)
		}
	}
	if r.Highest() != 7 {
		t.Errorf("Highest = %d", r.Highest())
	}
}
