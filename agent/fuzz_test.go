package agent

import (
	"testing"

	"github.com/shoal-p2p/shoal/metainfo"
)

// FuzzParseAddBody: any body gives a value or a clear error, never a
// panic, and an accepted body names exactly one source.
func FuzzParseAddBody(f *testing.F) {
	mi, err := metainfo.Create("fuzz_test.go", metainfo.CreateOptions{Trackers: []string{"http://t/announce"}})
	if err != nil {
		f.Fatal(err)
	}
	tb, _ := mi.Marshal()
	for _, s := range [][]byte{tb, []byte(`{"magnet":"magnet:?xt=urn:btih:0123456789012345678901234567890123456789"}`),
		[]byte(`{"path":"/srv/build","pin":false}`), []byte(` {"path":"/a", "piece_length": 65536}`), []byte("d4:infod"), []byte("{")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parseAddBody(body)
		if err != nil {
			if in.mi != nil || in.magnet != nil || in.path != "" {
				t.Fatalf("error %v with a value", err)
			}
			return
		}
		n := 0
		for _, ok := range []bool{in.mi != nil, in.magnet != nil, in.path != "" && in.mi == nil} {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("accepted %q naming %d sources", body, n)
		}
	})
}

// FuzzParseSubscribeBody: pins are bounded and in range.
func FuzzParseSubscribeBody(f *testing.F) {
	for _, s := range []string{"", `{"pin":[1,2]}`, `{"pin":[0]}`, `{"pin":null}`, "[]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseSubscribeBody(body)
		if err != nil {
			return
		}
		if len(req.Pin) > maxPins {
			t.Fatalf("%d pins accepted", len(req.Pin))
		}
		for _, p := range req.Pin {
			if p == 0 {
				t.Fatal("pin 0 accepted")
			}
		}
	})
}

// FuzzParsePublishBody: an accepted body has an absolute path.
func FuzzParsePublishBody(f *testing.F) {
	for _, s := range []string{`{"path":"/srv/x","key":"k"}`, `{"path":"x"}`, `{"path":"/x","seq":99999999999999999999}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parsePublishBody(body)
		if err != nil {
			return
		}
		if req.Path == "" || req.Path[0] != '/' || req.PieceLength < 0 {
			t.Fatalf("accepted %+v", req)
		}
	})
}

// FuzzParseChannelName: an accepted name is one safe path component.
func FuzzParseChannelName(f *testing.F) {
	for _, s := range []string{"build", "..", ".x", "a/b", "a b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if parseChannelName(name) != nil {
			return
		}
		for _, c := range name {
			if c == '/' || c == '\\' || c == 0 {
				t.Fatalf("accepted %q", name)
			}
		}
		if name == "." || name == ".." || name == "" {
			t.Fatalf("accepted %q", name)
		}
	})
}
