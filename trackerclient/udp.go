package trackerclient

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// udpFirstTimeout is how long the UDP client waits for the first reply
// before resending; it doubles on each retry. BEP 15 suggests 15 s, far
// too slow for a fleet on one network; the context bounds the total.
const udpFirstTimeout = 2 * time.Second

// udpMaxTries bounds the sends of one request.
const udpMaxTries = 4

// udpSession is one BEP 15 exchange with a tracker: a connect, then the
// request it authorises.
type udpSession struct {
	conn    net.Conn
	peerLen int
	buf     []byte
}

// dialUDPTracker opens a session to the host of u and obtains a
// connection ID.
func dialUDPTracker(ctx context.Context, u *url.URL) (*udpSession, uint64, error) {
	if u.Port() == "" {
		return nil, 0, fmt.Errorf("%w: udp URL without a port", ErrUnsupportedScheme)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", u.Host)
	if err != nil {
		return nil, 0, err
	}
	s := &udpSession{conn: conn, peerLen: compactPeerLen4, buf: make([]byte, UDPMaxPacket)}
	if ra, ok := conn.RemoteAddr().(*net.UDPAddr); ok && !ra.AddrPort().Addr().Unmap().Is4() {
		s.peerLen = compactPeerLen6
	}
	r, err := s.roundTrip(ctx, func(tid uint32) []byte { return appendUDPConnectRequest(nil, tid) }, UDPActionConnect)
	if err != nil {
		conn.Close()
		return nil, 0, fmt.Errorf("connect: %w", err)
	}
	return s, r.ConnID, nil
}

// roundTrip sends the packet build makes for a fresh transaction ID and
// waits for the reply to it, resending with a doubling timeout. An error
// reply becomes a *FailureError.
func (s *udpSession) roundTrip(ctx context.Context, build func(tid uint32) []byte, action uint32) (udpResponse, error) {
	var tidb [4]byte
	rand.Read(tidb[:])
	tid := binary.BigEndian.Uint32(tidb[:])
	pkt := build(tid)
	timeout := udpFirstTimeout
	for try := 0; try < udpMaxTries; try++ {
		if err := ctx.Err(); err != nil {
			return udpResponse{}, err
		}
		if _, err := s.conn.Write(pkt); err != nil {
			return udpResponse{}, err
		}
		deadline := time.Now().Add(timeout)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		s.conn.SetReadDeadline(deadline)
		stop := context.AfterFunc(ctx, func() { s.conn.SetReadDeadline(time.Unix(1, 0)) })
		r, err := s.awaitReply(tid)
		stop()
		if err == nil {
			if r.Action == UDPActionError {
				return r, &FailureError{Reason: r.Message}
			}
			if r.Action != action {
				return r, fmt.Errorf("%w: reply action %d, want %d", ErrBadResponse, r.Action, action)
			}
			return r, nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return udpResponse{}, err
		}
		if ctx.Err() != nil {
			return udpResponse{}, ctx.Err()
		}
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			// The read deadline was the context's, which expired a moment
			// before its timer fired.
			return udpResponse{}, context.DeadlineExceeded
		}
		timeout *= 2
	}
	return udpResponse{}, fmt.Errorf("no reply after %d tries", udpMaxTries)
}

// awaitReply reads datagrams until one answers tid; others are stale
// replies to earlier sends and are skipped.
func (s *udpSession) awaitReply(tid uint32) (udpResponse, error) {
	for {
		n, err := s.conn.Read(s.buf)
		if err != nil {
			return udpResponse{}, err
		}
		r, err := parseUDPResponse(s.buf[:n], s.peerLen)
		if err != nil {
			if n >= 8 && binary.BigEndian.Uint32(s.buf[4:8]) == tid {
				return r, err
			}
			continue
		}
		if r.TransactionID == tid {
			return r, nil
		}
	}
}

// announceUDP announces req to the BEP 15 tracker at u. The URL's path
// and query go along as BEP 41 URL data, so a private tracker's key in
// udp://host:port/KEY/announce reaches it; req.Zone is added to that
// query as "zone".
func announceUDP(ctx context.Context, u *url.URL, req AnnounceRequest) (*AnnounceResponse, error) {
	s, connID, err := dialUDPTracker(ctx, u)
	if err != nil {
		return nil, err
	}
	defer s.conn.Close()
	var key uint32
	for _, c := range []byte(req.Key) {
		key = key*31 + uint32(c)
	}
	urlData := u.EscapedPath()
	query := u.RawQuery
	if req.Zone != "" {
		// Not a BEP 41 field: a Shoal tracker reads it from the URL data's
		// query, as it reads "zone" from an HTTP announce.
		if query != "" {
			query += "&"
		}
		query += "zone=" + escapeBytes([]byte(req.Zone))
	}
	if query != "" {
		urlData += "?" + query
	}
	r, err := s.roundTrip(ctx, func(tid uint32) []byte {
		return appendUDPAnnounceRequest(nil, connID, tid, req, key, urlData)
	}, UDPActionAnnounce)
	if err != nil {
		return nil, fmt.Errorf("announce: %w", err)
	}
	return &r.Announce, nil
}

// scrapeUDP scrapes hashes from the BEP 15 tracker at u.
func scrapeUDP(ctx context.Context, u *url.URL, hashes [][20]byte) (map[[20]byte]SwarmStats, error) {
	if len(hashes) == 0 || len(hashes) > UDPMaxScrapeHashes {
		return nil, fmt.Errorf("scrape: %d info hashes, want 1 to %d", len(hashes), UDPMaxScrapeHashes)
	}
	s, connID, err := dialUDPTracker(ctx, u)
	if err != nil {
		return nil, err
	}
	defer s.conn.Close()
	r, err := s.roundTrip(ctx, func(tid uint32) []byte {
		return appendUDPScrapeRequest(nil, connID, tid, hashes)
	}, UDPActionScrape)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	if len(r.Scrape) != len(hashes) {
		return nil, fmt.Errorf("%w: scrape reply has %d entries for %d hashes", ErrBadResponse, len(r.Scrape), len(hashes))
	}
	out := make(map[[20]byte]SwarmStats, len(hashes))
	for i, h := range hashes {
		out[h] = r.Scrape[i]
	}
	return out, nil
}
