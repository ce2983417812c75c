package tracker

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shoal-p2p/shoal/channel"
)

func FuzzParseChannelQuery(f *testing.F) {
	for _, s := range []string{"", "after=3", "key=k&after=0&wait=500ms", "seq=7", "wait=1500", "after=-1", "seq=0", "wait=1h", "after=%zz", "after=9007199254740992"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseChannelQuery(raw, 25*time.Second)
		if err != nil {
			return
		}
		if q.After > channel.MaxSeq || q.Seq > channel.MaxSeq || q.Wait < 0 || q.Wait > 25*time.Second || len(raw) > maxQueryLen {
			t.Fatalf("%q accepted as %+v", raw, q)
		}
	})
}

// FuzzChannelRequests drives the publish and report handlers with
// arbitrary bodies: every answer is one of the documented statuses with
// a JSON body, never a 500 or a panic, and only an accepted publish is
// listed afterwards.
func FuzzChannelRequests(f *testing.F) {
	f.Add(true, infoDict("a", 100), "")
	f.Add(true, []byte("d4:name1:xe"), "seq=2")
	f.Add(false, []byte(`{"host":"h","current":3,"have":[1,2,3]}`), "")
	f.Add(false, []byte(`{"host":"h","progress":-0}`), "after=1")
	srv := NewServer(ServerConfig{Logger: discard(), Channels: ChannelConfig{PublishKeys: NewPublishKeys(map[string]string{"k": ""})}})
	f.Fuzz(func(t *testing.T, publish bool, body []byte, query string) {
		path, want := "/v1/channels/fz/hosts", map[int]bool{204: true, 400: true, 413: true, 507: true}
		if publish {
			path, want = "/v1/channels/fz/releases", map[int]bool{200: true, 201: true, 400: true, 409: true, 413: true, 507: true}
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer k")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if !want[rec.Code] {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Code != 204 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("status %d without JSON: %q", rec.Code, rec.Body)
		}
		if rec.Code == 201 {
			if _, err := channel.ParseRelease(rec.Body.Bytes()); err != nil {
				t.Fatalf("created release does not parse: %v", err)
			}
		}
	})
}
