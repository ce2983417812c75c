package dht

import (
	"reflect"
	"testing"
)

// FuzzParseMessage checks that no input panics the KRPC parser and that
// whatever parses survives a Marshal/Parse round trip unchanged.
func FuzzParseMessage(f *testing.F) {
	for _, g := range goldenPackets {
		f.Add([]byte(g.wire))
	}
	f.Add([]byte("d1:eli202e0:e1:t1:x1:y1:ee"))
	f.Add([]byte("d1:rd2:id20:abcdefghij01234567895:nodes26:abcdefghij0123456789\x7f\x00\x00\x01\x1a\xe1e1:t1:x1:y1:re"))
	f.Add([]byte("d1:ad2:id20:abcdefghij01234567893:fooi1ee1:q3:foo1:t1:x1:y1:qe"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		if _, err := DecodeNodes(m.R.Nodes); err == nil && len(m.R.Nodes)%CompactNodeLen != 0 {
			t.Fatal("DecodeNodes accepted a bad length")
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("marshal parsed message: %v", err)
		}
		m2, err := ParseMessage(out)
		if err != nil {
			t.Fatalf("reparse %q: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed message:\n%+v\n%+v", m, m2)
		}
	})
}
