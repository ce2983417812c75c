package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shoal-p2p/shoal/metainfo"
)

// RTorrent is an rtorrent (Debian's rtorrent) run for one test in daemon
// mode (no terminal): its own session folder, a peer port on 127.0.0.1,
// no DHT, PEX or encryption, settings given as -o options, driven through
// XML-RPC over an SCGI socket in the temp dir.
type RTorrent struct {
	proc     *Proc
	name     string
	PeerAddr string // HOST:PORT where it accepts BitTorrent peers
	sock     string // SCGI socket
}

// StartRTorrent starts rtorrent with a fresh session under a test temp dir
// and waits until it answers XML-RPC. It skips the test when rtorrent is
// not installed.
func StartRTorrent(ctx context.Context, t testing.TB, name string) *RTorrent {
	t.Helper()
	bin := NeedProgram(t, "rtorrent", "rtorrent")
	dir := t.TempDir()
	session := filepath.Join(dir, "session")
	if err := os.MkdirAll(session, 0o755); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	r := &RTorrent{name: name, PeerAddr: "127.0.0.1:" + strconv.Itoa(port), sock: filepath.Join(dir, "scgi.sock")}
	opts := []string{
		"system.daemon.set=true",
		"session.path.set=" + session,
		"directory.default.set=" + filepath.Join(dir, "downloads"),
		fmt.Sprintf("network.port_range.set=%d-%d", port, port),
		"network.port_random.set=no",
		"network.bind_address.set=127.0.0.1",
		"network.scgi.open_local=" + r.sock,
		"dht.mode.set=off", // not "disable": it refuses torrents without trackers
		"protocol.pex.set=no",
		"trackers.use_udp.set=no",
		"protocol.encryption.set=none", // Shoal speaks plain BitTorrent
	}
	args := []string{"-n"} // no ~/.rtorrent.rc
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	r.proc = Start(ctx, t, name, bin, args...)
	if err := Poll(ctx, name+" XML-RPC", func() (bool, error) {
		if r.proc.Exited() {
			return false, fmt.Errorf("%s exited: %v", name, r.proc.Err())
		}
		_, err := r.call(ctx, "system.client_version")
		return err == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// Add loads and starts the .torrent file at torrent with its data in (or
// to be downloaded into) dir, the folder that holds the torrent's name,
// and returns its info hash. Existing data is hash-checked first.
func (r *RTorrent) Add(ctx context.Context, t testing.TB, torrent, dir string) metainfo.InfoHash {
	t.Helper()
	mi, err := metainfo.Load(torrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// For a multi-file torrent d.directory is the folder holding its
	// name; for a single file it is the file's folder. Either way: dir.
	if _, err := r.call(ctx, "load.start", "", torrent, "d.directory.set="+dir); err != nil {
		t.Fatal(err)
	}
	return mi.InfoHash
}

// Torrent returns the daemon's state of the torrent ih.
func (r *RTorrent) Torrent(ctx context.Context, ih metainfo.InfoHash) (DaemonTorrent, error) {
	h := strings.ToUpper(ih.String())
	var vals [4]string
	for i, m := range []string{"d.complete", "d.hashing", "d.bytes_done", "d.size_bytes"} {
		v, err := r.call(ctx, m, h)
		var fault *xmlrpcFault
		if errors.As(err, &fault) {
			return DaemonTorrent{State: "not loaded: " + fault.Error()}, nil // loading is asynchronous
		}
		if err != nil {
			return DaemonTorrent{}, err
		}
		vals[i] = v
	}
	msg, err := r.call(ctx, "d.message", h)
	if err != nil {
		return DaemonTorrent{}, err
	}
	done, _ := strconv.ParseInt(vals[2], 10, 64)
	size, _ := strconv.ParseInt(vals[3], 10, 64)
	st := DaemonTorrent{
		Done:  vals[0] == "1" && vals[1] == "0",
		State: fmt.Sprintf("complete=%s hashing=%s message=%q", vals[0], vals[1], msg),
	}
	if size > 0 {
		st.Progress = float64(done) / float64(size)
	}
	// d.message also carries tracker complaints, which are not fatal; a
	// failed hash check or a file error is.
	if strings.Contains(msg, "Hash check") || strings.Contains(msg, "Storage error") {
		st.Error = msg
	}
	return st, nil
}

// WaitDone waits until the torrent ih is complete and hash-checked.
func (r *RTorrent) WaitDone(ctx context.Context, t testing.TB, ih metainfo.InfoHash) {
	t.Helper()
	if err := waitTorrent(ctx, t.Logf, r.name, func() (DaemonTorrent, error) { return r.Torrent(ctx, ih) }); err != nil {
		t.Fatal(err)
	}
}

// xmlrpcFault is an XML-RPC fault reply.
type xmlrpcFault struct {
	code int
	msg  string
}

func (f *xmlrpcFault) Error() string { return fmt.Sprintf("fault %d: %s", f.code, f.msg) }

// call runs an XML-RPC method with string parameters over SCGI and returns
// its result as text (integers in decimal).
func (r *RTorrent) call(ctx context.Context, method string, params ...string) (string, error) {
	var body bytes.Buffer
	body.WriteString(`<?xml version="1.0"?><methodCall><methodName>`)
	xml.EscapeText(&body, []byte(method))
	body.WriteString(`</methodName><params>`)
	for _, p := range params {
		body.WriteString(`<param><value><string>`)
		xml.EscapeText(&body, []byte(p))
		body.WriteString(`</string></value></param>`)
	}
	body.WriteString(`</params></methodCall>`)

	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", r.sock)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", r.name, method, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// SCGI: a netstring of NUL-separated headers, then the body.
	hdr := fmt.Sprintf("CONTENT_LENGTH\x00%d\x00SCGI\x001\x00", body.Len())
	if _, err := fmt.Fprintf(conn, "%d:%s,%s", len(hdr), hdr, body.Bytes()); err != nil {
		return "", fmt.Errorf("%s %s: %w", r.name, method, err)
	}
	br := bufio.NewReader(io.LimitReader(conn, 1<<20))
	mh, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		return "", fmt.Errorf("%s %s: reply headers: %w", r.name, method, err)
	}
	if st := mh.Get("Status"); st != "" && !strings.HasPrefix(st, "200") {
		return "", fmt.Errorf("%s %s: status %s", r.name, method, st)
	}
	reply, err := io.ReadAll(br)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", r.name, method, err)
	}
	return parseXMLRPCReply(reply)
}

// parseXMLRPCReply returns the single value of a methodResponse as text,
// or an *xmlrpcFault.
func parseXMLRPCReply(reply []byte) (string, error) {
	type value struct {
		String *string `xml:"string"`
		I8     *string `xml:"i8"`
		I4     *string `xml:"i4"`
		Int    *string `xml:"int"`
		Inner  string  `xml:",chardata"`
		Struct []struct {
			Name  string `xml:"name"`
			Value struct {
				I4     string `xml:"i4"`
				Int    string `xml:"int"`
				String string `xml:"string"`
			} `xml:"value"`
		} `xml:"struct>member"`
	}
	var resp struct {
		Params []value `xml:"params>param>value"`
		Fault  *value  `xml:"fault>value"`
	}
	if err := xml.Unmarshal(reply, &resp); err != nil {
		return "", fmt.Errorf("xml-rpc reply: %w: %.200q", err, reply)
	}
	if f := resp.Fault; f != nil {
		fault := &xmlrpcFault{}
		for _, m := range f.Struct {
			switch m.Name {
			case "faultCode":
				fault.code, _ = strconv.Atoi(m.Value.I4 + m.Value.Int)
			case "faultString":
				fault.msg = m.Value.String
			}
		}
		return "", fault
	}
	if len(resp.Params) != 1 {
		return "", fmt.Errorf("xml-rpc reply with %d values: %.200q", len(resp.Params), reply)
	}
	v := resp.Params[0]
	for _, s := range []*string{v.String, v.I8, v.I4, v.Int} {
		if s != nil {
			return strings.TrimSpace(*s), nil
		}
	}
	return strings.TrimSpace(v.Inner), nil // a bare <value>text</value> is a string
}
