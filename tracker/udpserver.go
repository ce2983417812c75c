package tracker

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/shoal-p2p/shoal/trackerclient"
)

// ServeUDP answers BEP 15 requests (connect, announce, scrape) arriving
// on pc until ctx ends or pc fails; it does not close pc. Requests are
// handled by a few goroutines reading pc at once, all stopped before
// ServeUDP returns. Malformed packets get a BEP 15 error when their header
// was readable; packets over a source's rate are dropped silently, so a
// spoofed flood is not reflected.
func (s *Server) ServeUDP(ctx context.Context, pc net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { pc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	workers := 4 * runtime.GOMAXPROCS(0)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- s.udpWorker(ctx, pc)
		}()
	}
	wg.Wait()
	close(errc)
	if ctx.Err() != nil {
		return nil
	}
	return <-errc
}

func (s *Server) udpWorker(ctx context.Context, pc net.PacketConn) error {
	buf := make([]byte, trackerclient.UDPMaxPacket)
	out := make([]byte, 0, trackerclient.UDPMaxPacket)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return err
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			continue // e.g. ICMP port unreachable surfaced on Linux
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		if reply := s.HandleUDP(ctx, buf[:n], ua.AddrPort(), out[:0]); len(reply) > 0 {
			pc.WriteTo(reply, from)
		}
	}
}

// HandleUDP answers one BEP 15 datagram pkt from src, appending the reply
// to out; an empty result means no reply is sent. It is the protocol core
// of [Server.ServeUDP], exposed so transports other than a socket (and
// tests) can drive it.
func (s *Server) HandleUDP(ctx context.Context, pkt []byte, src netip.AddrPort, out []byte) []byte {
	// Every caller gets the same view of the source: IPv4 as IPv4, no zone.
	src = netip.AddrPortFrom(src.Addr().Unmap().WithZone(""), src.Port())
	now := s.cfg.Now()
	if !s.cfg.RateLimit.Allow(src.Addr(), now) {
		s.metrics.fail("rate_limited")
		return nil
	}
	req, err := trackerclient.ParseUDPRequest(pkt)
	if err != nil {
		s.metrics.fail("bad_request")
		if len(pkt) < trackerclient.UDPHeaderLen {
			return nil
		}
		return trackerclient.AppendUDPError(out, req.TransactionID, "malformed request")
	}
	if req.Action == trackerclient.UDPActionConnect {
		return trackerclient.AppendUDPConnectResponse(out, req.TransactionID, s.connIDs.Issue(src.Addr(), now))
	}
	if !s.connIDs.Valid(req.ConnID, src.Addr(), now) {
		s.metrics.fail("bad_connection_id")
		return trackerclient.AppendUDPError(out, req.TransactionID, "invalid or expired connection ID")
	}
	key := udpURLKey(req.URLData)
	if req.Action == trackerclient.UDPActionScrape {
		stats, ref := s.scrape(ctx, key, req.InfoHashes, "udp")
		if ref != nil {
			s.metrics.fail(ref.metric)
			return trackerclient.AppendUDPError(out, req.TransactionID, ref.reason)
		}
		return trackerclient.AppendUDPScrapeResponse(out, req.TransactionID, stats)
	}
	q := announceQuery{AnnounceRequest: req.Announce, Compact: true, IP: req.IP}
	q.Zone = udpURLZone(req.URLData)
	q.NumWantSet = req.NumWant >= 0
	if q.Port == 0 {
		s.metrics.fail("bad_request")
		return trackerclient.AppendUDPError(out, req.TransactionID, "invalid port")
	}
	rep, ref := s.announce(ctx, announceInput{query: q, src: src.Addr(), key: key, proto: "udp", sameFamily: true})
	if ref != nil {
		s.metrics.fail(ref.metric)
		return trackerclient.AppendUDPError(out, req.TransactionID, ref.reason)
	}
	var room [64]netip.AddrPort // on the stack for any usual numwant
	addrs := room[:0]
	for _, p := range rep.Peers {
		addrs = append(addrs, p.Addr)
	}
	return trackerclient.AppendUDPAnnounceResponse(out, req.TransactionID, rep.Interval, rep.Incomplete, rep.Complete, addrs, src.Addr().Is6())
}

// udpURLKey extracts the announce key from BEP 41 URL data: the path
// segment before "announce" or "scrape", or else a "key" parameter.
func udpURLKey(urlData string) string {
	if urlData == "" {
		return ""
	}
	u, err := url.Parse(urlData)
	if err != nil {
		return ""
	}
	if _, key := splitTrackerPath(u.Path); key != "" {
		return key
	}
	return u.Query().Get("key")
}

// udpURLZone extracts the location label from BEP 41 URL data: the
// "zone" parameter of its query (trackerclient puts it there).
func udpURLZone(urlData string) string {
	if urlData == "" {
		return ""
	}
	u, err := url.Parse(urlData)
	if err != nil {
		return ""
	}
	return u.Query().Get("zone")
}
