package tracker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/shoal-p2p/shoal/wire"
)

// The UDP tracker protocol of BEP 15 as values: every packet is parsed
// from and appended to a byte slice, with no I/O here. All integers are
// big-endian.

// udpProtocolID is the magic constant opening a BEP 15 connect request.
const udpProtocolID = 0x41727101980

// UDP actions (BEP 15).
const (
	udpActionConnect  = 0
	udpActionAnnounce = 1
	udpActionScrape   = 2
	udpActionError    = 3
)

// Packet sizes (BEP 15) and bounds.
const (
	udpAnnounceLen = 98
	udpHeaderLen   = 16 // connection ID, action, transaction ID
	// udpMaxScrapeHashes is how many info hashes one scrape may name:
	// about as many as fit a 1500-byte datagram, as BEP 15 notes.
	udpMaxScrapeHashes = 74
	// udpMaxPacket bounds any datagram the server or client reads.
	udpMaxPacket = 2048
)

// BEP 41 option types following an announce request.
const (
	udpOptEnd     = 0
	udpOptNOP     = 1
	udpOptURLData = 2
)

// errBadPacket marks a datagram that is not a well-formed BEP 15 packet.
var errBadPacket = errors.New("malformed UDP tracker packet")

// udpEvent maps BEP 15's event numbers to events.
var udpEvents = [...]Event{EventNone, EventCompleted, EventStarted, EventStopped}

func udpEventCode(e Event) uint32 {
	for i, ev := range udpEvents {
		if ev == e {
			return uint32(i)
		}
	}
	return 0
}

// udpRequest is a client's datagram as the server parses it: a connect,
// an announce or a scrape.
type udpRequest struct {
	ConnID        uint64
	Action        uint32
	TransactionID uint32
	// Announce fields (Action == udpActionAnnounce).
	Announce AnnounceRequest
	// IP is the optional IPv4 address field; zero means "the sender's".
	IP netip.Addr
	// NumWant is -1 (or any negative) for the tracker's default.
	NumWant int32
	// URLData is the BEP 41 path and query, if the client sent one.
	URLData string
	// InfoHashes are the hashes of a scrape (Action == udpActionScrape).
	InfoHashes [][20]byte
}

// parseUDPRequest parses one client datagram. Errors wrap errBadPacket;
// the transaction ID is returned whenever the header was readable so the
// server can address an error reply.
func parseUDPRequest(b []byte) (udpRequest, error) {
	var r udpRequest
	if len(b) < udpHeaderLen {
		return r, fmt.Errorf("%w: %d bytes is shorter than a header", errBadPacket, len(b))
	}
	r.ConnID = binary.BigEndian.Uint64(b[0:8])
	r.Action = binary.BigEndian.Uint32(b[8:12])
	r.TransactionID = binary.BigEndian.Uint32(b[12:16])
	switch r.Action {
	case udpActionConnect:
		if r.ConnID != udpProtocolID {
			return r, fmt.Errorf("%w: connect without the protocol ID", errBadPacket)
		}
		return r, nil
	case udpActionAnnounce:
		return r, parseUDPAnnounce(b, &r)
	case udpActionScrape:
		body := b[udpHeaderLen:]
		if len(body) == 0 || len(body)%20 != 0 || len(body)/20 > udpMaxScrapeHashes {
			return r, fmt.Errorf("%w: scrape of %d bytes of hashes", errBadPacket, len(body))
		}
		for ; len(body) > 0; body = body[20:] {
			r.InfoHashes = append(r.InfoHashes, [20]byte(body[:20]))
		}
		return r, nil
	default:
		return r, fmt.Errorf("%w: unknown action %d", errBadPacket, r.Action)
	}
}

// parseUDPAnnounce fills the announce fields of r from b (BEP 15) and the
// BEP 41 options after them.
func parseUDPAnnounce(b []byte, r *udpRequest) error {
	if len(b) < udpAnnounceLen {
		return fmt.Errorf("%w: announce of %d bytes, want %d", errBadPacket, len(b), udpAnnounceLen)
	}
	a := &r.Announce
	copy(a.InfoHash[:], b[16:36])
	copy(a.PeerID[:], b[36:56])
	a.Downloaded = int64(binary.BigEndian.Uint64(b[56:64]))
	a.Left = int64(binary.BigEndian.Uint64(b[64:72]))
	a.Uploaded = int64(binary.BigEndian.Uint64(b[72:80]))
	if a.Downloaded < 0 || a.Left < 0 || a.Uploaded < 0 {
		return fmt.Errorf("%w: negative byte count", errBadPacket)
	}
	ev := binary.BigEndian.Uint32(b[80:84])
	if ev >= uint32(len(udpEvents)) {
		return fmt.Errorf("%w: unknown event %d", errBadPacket, ev)
	}
	a.Event = udpEvents[ev]
	if ip := [4]byte(b[84:88]); ip != [4]byte{} {
		r.IP = netip.AddrFrom4(ip)
	}
	a.Key = fmt.Sprintf("%08x", binary.BigEndian.Uint32(b[88:92]))
	r.NumWant = int32(binary.BigEndian.Uint32(b[92:96]))
	a.Port = binary.BigEndian.Uint16(b[96:98])
	if r.NumWant >= 0 {
		a.NumWant = int(r.NumWant)
	}
	urlData, err := parseUDPOptions(b[udpAnnounceLen:])
	if err != nil {
		return err
	}
	r.URLData = urlData
	return nil
}

// parseUDPOptions reads BEP 41 options, concatenating URLData chunks. A
// truncated option ends the list, as BEP 41 lets trackers be lenient.
func parseUDPOptions(b []byte) (string, error) {
	var url []byte
	for len(b) > 0 {
		switch b[0] {
		case udpOptEnd:
			return string(url), nil
		case udpOptNOP:
			b = b[1:]
		case udpOptURLData:
			if len(b) < 2 || len(b) < 2+int(b[1]) {
				return "", fmt.Errorf("%w: truncated URLData option", errBadPacket)
			}
			url = append(url, b[2:2+int(b[1])]...)
			b = b[2+int(b[1]):]
		default:
			// Unknown options are skipped by their length byte (BEP 41).
			if len(b) < 2 || len(b) < 2+int(b[1]) {
				return "", fmt.Errorf("%w: truncated option %d", errBadPacket, b[0])
			}
			b = b[2+int(b[1]):]
		}
	}
	return string(url), nil
}

// appendUDPConnectResponse appends a connect reply (BEP 15).
func appendUDPConnectResponse(b []byte, tid uint32, connID uint64) []byte {
	b = binary.BigEndian.AppendUint32(b, udpActionConnect)
	b = binary.BigEndian.AppendUint32(b, tid)
	return binary.BigEndian.AppendUint64(b, connID)
}

// appendUDPAnnounceResponse appends an announce reply. Peers are written
// 6 bytes each when v6 is false and 18 bytes each when true (BEP 15's
// IPv6 form); peers of the other family are skipped.
func appendUDPAnnounceResponse(b []byte, tid uint32, rep reply, v6 bool) []byte {
	b = binary.BigEndian.AppendUint32(b, udpActionAnnounce)
	b = binary.BigEndian.AppendUint32(b, tid)
	b = binary.BigEndian.AppendUint32(b, uint32(rep.Interval.Seconds()))
	b = binary.BigEndian.AppendUint32(b, uint32(rep.Incomplete))
	b = binary.BigEndian.AppendUint32(b, uint32(rep.Complete))
	for _, p := range rep.Peers {
		if !p.Addr.Addr().Unmap().Is4() == v6 {
			b = wire.AppendCompactAddr(b, p.Addr)
		}
	}
	return b
}

// appendUDPScrapeResponse appends a scrape reply: seeders, completed,
// leechers for each hash in request order (BEP 15).
func appendUDPScrapeResponse(b []byte, tid uint32, stats []SwarmStats) []byte {
	b = binary.BigEndian.AppendUint32(b, udpActionScrape)
	b = binary.BigEndian.AppendUint32(b, tid)
	for _, s := range stats {
		b = binary.BigEndian.AppendUint32(b, uint32(s.Complete))
		b = binary.BigEndian.AppendUint32(b, uint32(s.Downloaded))
		b = binary.BigEndian.AppendUint32(b, uint32(s.Incomplete))
	}
	return b
}

// appendUDPError appends an error reply carrying a message (BEP 15).
func appendUDPError(b []byte, tid uint32, msg string) []byte {
	b = binary.BigEndian.AppendUint32(b, udpActionError)
	b = binary.BigEndian.AppendUint32(b, tid)
	return append(b, msg...)
}

// Client side.

// appendUDPConnectRequest appends a connect request.
func appendUDPConnectRequest(b []byte, tid uint32) []byte {
	b = binary.BigEndian.AppendUint64(b, udpProtocolID)
	b = binary.BigEndian.AppendUint32(b, udpActionConnect)
	return binary.BigEndian.AppendUint32(b, tid)
}

// appendUDPAnnounceRequest appends an announce request for req, with the
// BEP 41 URLData option carrying urlData (the announce URL's path and
// query) when it is not empty.
func appendUDPAnnounceRequest(b []byte, connID uint64, tid uint32, req AnnounceRequest, key uint32, urlData string) []byte {
	b = binary.BigEndian.AppendUint64(b, connID)
	b = binary.BigEndian.AppendUint32(b, udpActionAnnounce)
	b = binary.BigEndian.AppendUint32(b, tid)
	b = append(b, req.InfoHash[:]...)
	b = append(b, req.PeerID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(req.Downloaded))
	b = binary.BigEndian.AppendUint64(b, uint64(req.Left))
	b = binary.BigEndian.AppendUint64(b, uint64(req.Uploaded))
	b = binary.BigEndian.AppendUint32(b, udpEventCode(req.Event))
	b = binary.BigEndian.AppendUint32(b, 0) // IP: the sender's
	b = binary.BigEndian.AppendUint32(b, key)
	numWant := int32(-1)
	if req.NumWant > 0 {
		numWant = int32(min(req.NumWant, 1<<20))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(numWant))
	b = binary.BigEndian.AppendUint16(b, req.Port)
	for len(urlData) > 0 {
		chunk := urlData[:min(len(urlData), 255)]
		urlData = urlData[len(chunk):]
		b = append(b, udpOptURLData, byte(len(chunk)))
		b = append(b, chunk...)
	}
	if len(b) > udpAnnounceLen {
		b = append(b, udpOptEnd)
	}
	return b
}

// appendUDPScrapeRequest appends a scrape request for hashes.
func appendUDPScrapeRequest(b []byte, connID uint64, tid uint32, hashes [][20]byte) []byte {
	b = binary.BigEndian.AppendUint64(b, connID)
	b = binary.BigEndian.AppendUint32(b, udpActionScrape)
	b = binary.BigEndian.AppendUint32(b, tid)
	for _, h := range hashes {
		b = append(b, h[:]...)
	}
	return b
}

// udpResponse is a tracker's datagram as the client parses it.
type udpResponse struct {
	Action        uint32
	TransactionID uint32
	ConnID        uint64           // connect
	Announce      AnnounceResponse // announce
	Scrape        []SwarmStats     // scrape
	Message       string           // error
}

// parseUDPResponse parses one tracker datagram. peerLen is 6 for a
// tracker reached over IPv4 and 18 over IPv6 (BEP 15). Errors wrap
// ErrBadResponse.
func parseUDPResponse(b []byte, peerLen int) (udpResponse, error) {
	var r udpResponse
	if len(b) < 8 {
		return r, fmt.Errorf("%w: UDP reply of %d bytes", ErrBadResponse, len(b))
	}
	r.Action = binary.BigEndian.Uint32(b[0:4])
	r.TransactionID = binary.BigEndian.Uint32(b[4:8])
	body := b[8:]
	switch r.Action {
	case udpActionConnect:
		if len(body) < 8 {
			return r, fmt.Errorf("%w: short connect reply", ErrBadResponse)
		}
		r.ConnID = binary.BigEndian.Uint64(body)
	case udpActionAnnounce:
		if len(body) < 12 {
			return r, fmt.Errorf("%w: short announce reply", ErrBadResponse)
		}
		interval := binary.BigEndian.Uint32(body[0:4])
		if interval > maxIntervalSeconds {
			return r, fmt.Errorf("%w: interval %d out of range", ErrBadResponse, interval)
		}
		r.Announce.Interval = secondsDuration(int64(interval))
		r.Announce.Incomplete = int(binary.BigEndian.Uint32(body[4:8]) & 0x7fffffff)
		r.Announce.Complete = int(binary.BigEndian.Uint32(body[8:12]) & 0x7fffffff)
		peers, err := decodeCompactPeers(body[12:], peerLen)
		if err != nil {
			return r, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		r.Announce.Peers = peers
	case udpActionScrape:
		if len(body)%12 != 0 {
			return r, fmt.Errorf("%w: scrape reply of %d bytes", ErrBadResponse, len(body))
		}
		for ; len(body) > 0; body = body[12:] {
			r.Scrape = append(r.Scrape, SwarmStats{
				Complete:   int(binary.BigEndian.Uint32(body[0:4]) & 0x7fffffff),
				Downloaded: int(binary.BigEndian.Uint32(body[4:8]) & 0x7fffffff),
				Incomplete: int(binary.BigEndian.Uint32(body[8:12]) & 0x7fffffff),
			})
		}
	case udpActionError:
		r.Message = string(body)
	default:
		return r, fmt.Errorf("%w: unknown action %d", ErrBadResponse, r.Action)
	}
	return r, nil
}
