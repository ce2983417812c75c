package harness

import (
	"errors"
	"testing"
)

// TestParseXMLRPCReply checks the reply parser of the rtorrent driver on
// the shapes rtorrent sends: a string, an integer, and a fault.
func TestParseXMLRPCReply(t *testing.T) {
	for _, c := range []struct{ reply, want string }{
		{"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<methodResponse>\r\n<params>\r\n<param><value><string>0.9.8</string></value></param>\r\n</params>\r\n</methodResponse>\r\n", "0.9.8"},
		{`<methodResponse><params><param><value><i8>1</i8></value></param></params></methodResponse>`, "1"},
		{`<methodResponse><params><param><value>bare</value></param></params></methodResponse>`, "bare"},
	} {
		got, err := parseXMLRPCReply([]byte(c.reply))
		if err != nil || got != c.want {
			t.Errorf("parse %q = %q, %v; want %q", c.reply, got, err, c.want)
		}
	}
	fault := `<methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>-501</i4></value></member>` +
		`<member><name>faultString</name><value><string>Could not find info-hash.</string></value></member></struct></value></fault></methodResponse>`
	_, err := parseXMLRPCReply([]byte(fault))
	var f *xmlrpcFault
	if !errors.As(err, &f) || f.code != -501 || f.msg != "Could not find info-hash." {
		t.Fatalf("fault parsed as %v", err)
	}
	if _, err := parseXMLRPCReply([]byte(`<methodResponse>`)); err == nil {
		t.Fatal("truncated reply accepted")
	}
}
