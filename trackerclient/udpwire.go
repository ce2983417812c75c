package trackerclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// The UDP tracker protocol of BEP 15 (with BEP 41 options) as values:
// every packet is parsed from and appended to a byte slice, with no I/O
// here. All integers are big-endian. Both directions live here, so the
// tracker server (package tracker) reads exactly what this client writes:
// the client uses the request encoders and the reply parser; the server
// half (ParseUDPRequest and the Append...Response functions) is exported
// for the server, and costs a program that only announces nothing.

// udpProtocolID is the magic constant opening a BEP 15 connect request.
const udpProtocolID = 0x41727101980

// UDP actions (BEP 15).
const (
	UDPActionConnect  = 0
	UDPActionAnnounce = 1
	UDPActionScrape   = 2
	UDPActionError    = 3
)

// Packet sizes (BEP 15) and bounds.
const (
	UDPAnnounceLen = 98
	UDPHeaderLen   = 16 // connection ID, action, transaction ID
	// UDPMaxScrapeHashes is how many info hashes one scrape may name:
	// about as many as fit a 1500-byte datagram, as BEP 15 notes.
	UDPMaxScrapeHashes = 74
	// UDPMaxPacket bounds any datagram the server or client reads.
	UDPMaxPacket = 2048
)

// BEP 41 option types following an announce request.
const (
	udpOptEnd     = 0
	udpOptNOP     = 1
	udpOptURLData = 2
)

// ErrBadPacket marks a datagram that is not a well-formed BEP 15 packet.
var ErrBadPacket = errors.New("malformed UDP tracker packet")

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

// UDPRequest is a client's datagram as the server parses it: a connect,
// an announce or a scrape.
type UDPRequest struct {
	ConnID        uint64
	Action        uint32
	TransactionID uint32
	// Announce fields (Action == UDPActionAnnounce).
	Announce AnnounceRequest
	// IP is the optional IPv4 address field; zero means "the sender's".
	IP netip.Addr
	// NumWant is -1 (or any negative) for the tracker's default.
	NumWant int32
	// URLData is the BEP 41 path and query, if the client sent one.
	URLData string
	// InfoHashes are the hashes of a scrape (Action == UDPActionScrape).
	InfoHashes [][20]byte
}

// ParseUDPRequest parses one client datagram. Errors wrap ErrBadPacket;
// the transaction ID is returned whenever the header was readable so the
// server can address an error reply.
func ParseUDPRequest(b []byte) (UDPRequest, error) {
	var r UDPRequest
	if len(b) < UDPHeaderLen {
		return r, fmt.Errorf("%w: %d bytes is shorter than a header", ErrBadPacket, len(b))
	}
	r.ConnID = binary.BigEndian.Uint64(b[0:8])
	r.Action = binary.BigEndian.Uint32(b[8:12])
	r.TransactionID = binary.BigEndian.Uint32(b[12:16])
	switch r.Action {
	case UDPActionConnect:
		if r.ConnID != udpProtocolID {
			return r, fmt.Errorf("%w: connect without the protocol ID", ErrBadPacket)
		}
		return r, nil
	case UDPActionAnnounce:
		return r, parseUDPAnnounce(b, &r)
	case UDPActionScrape:
		body := b[UDPHeaderLen:]
		if len(body) == 0 || len(body)%20 != 0 || len(body)/20 > UDPMaxScrapeHashes {
			return r, fmt.Errorf("%w: scrape of %d bytes of hashes", ErrBadPacket, len(body))
		}
		for ; len(body) > 0; body = body[20:] {
			r.InfoHashes = append(r.InfoHashes, [20]byte(body[:20]))
		}
		return r, nil
	default:
		return r, fmt.Errorf("%w: unknown action %d", ErrBadPacket, r.Action)
	}
}

// parseUDPAnnounce fills the announce fields of r from b (BEP 15) and the
// BEP 41 options after them.
func parseUDPAnnounce(b []byte, r *UDPRequest) error {
	if len(b) < UDPAnnounceLen {
		return fmt.Errorf("%w: announce of %d bytes, want %d", ErrBadPacket, len(b), UDPAnnounceLen)
	}
	a := &r.Announce
	copy(a.InfoHash[:], b[16:36])
	copy(a.PeerID[:], b[36:56])
	a.Downloaded = int64(binary.BigEndian.Uint64(b[56:64]))
	a.Left = int64(binary.BigEndian.Uint64(b[64:72]))
	a.Uploaded = int64(binary.BigEndian.Uint64(b[72:80]))
	if a.Downloaded < 0 || a.Left < 0 || a.Uploaded < 0 {
		return fmt.Errorf("%w: negative byte count", ErrBadPacket)
	}
	ev := binary.BigEndian.Uint32(b[80:84])
	if ev >= uint32(len(udpEvents)) {
		return fmt.Errorf("%w: unknown event %d", ErrBadPacket, ev)
	}
	a.Event = udpEvents[ev]
	if ip := [4]byte(b[84:88]); ip != [4]byte{} {
		r.IP = netip.AddrFrom4(ip)
	}
	if key := binary.BigEndian.Uint32(b[88:92]); key != 0 {
		a.Key = fmt.Sprintf("%08x", key) // zero: the client sent none
	}
	r.NumWant = int32(binary.BigEndian.Uint32(b[92:96]))
	a.Port = binary.BigEndian.Uint16(b[96:98])
	if r.NumWant >= 0 {
		a.NumWant = int(r.NumWant)
	}
	urlData, err := parseUDPOptions(b[UDPAnnounceLen:])
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
				return "", fmt.Errorf("%w: truncated URLData option", ErrBadPacket)
			}
			url = append(url, b[2:2+int(b[1])]...)
			b = b[2+int(b[1]):]
		default:
			// Unknown options are skipped by their length byte (BEP 41).
			if len(b) < 2 || len(b) < 2+int(b[1]) {
				return "", fmt.Errorf("%w: truncated option %d", ErrBadPacket, b[0])
			}
			b = b[2+int(b[1]):]
		}
	}
	return string(url), nil
}

// AppendUDPConnectResponse appends a connect reply (BEP 15).
func AppendUDPConnectResponse(b []byte, tid uint32, connID uint64) []byte {
	b = binary.BigEndian.AppendUint32(b, UDPActionConnect)
	b = binary.BigEndian.AppendUint32(b, tid)
	return binary.BigEndian.AppendUint64(b, connID)
}

// AppendUDPAnnounceResponse appends an announce reply. Peers are written
// 6 bytes each when v6 is false and 18 bytes each when true (BEP 15's
// IPv6 form); peers of the other family are skipped.
func AppendUDPAnnounceResponse(b []byte, tid uint32, interval time.Duration, leechers, seeders int, peers []netip.AddrPort, v6 bool) []byte {
	b = binary.BigEndian.AppendUint32(b, UDPActionAnnounce)
	b = binary.BigEndian.AppendUint32(b, tid)
	b = binary.BigEndian.AppendUint32(b, uint32(interval.Seconds()))
	b = binary.BigEndian.AppendUint32(b, uint32(leechers))
	b = binary.BigEndian.AppendUint32(b, uint32(seeders))
	for _, p := range peers {
		if !p.Addr().Unmap().Is4() == v6 {
			b = wire.AppendCompactAddr(b, p)
		}
	}
	return b
}

// AppendUDPScrapeResponse appends a scrape reply: seeders, completed,
// leechers for each hash in request order (BEP 15).
func AppendUDPScrapeResponse(b []byte, tid uint32, stats []SwarmStats) []byte {
	b = binary.BigEndian.AppendUint32(b, UDPActionScrape)
	b = binary.BigEndian.AppendUint32(b, tid)
	for _, s := range stats {
		b = binary.BigEndian.AppendUint32(b, uint32(s.Complete))
		b = binary.BigEndian.AppendUint32(b, uint32(s.Downloaded))
		b = binary.BigEndian.AppendUint32(b, uint32(s.Incomplete))
	}
	return b
}

// AppendUDPError appends an error reply carrying a message (BEP 15).
func AppendUDPError(b []byte, tid uint32, msg string) []byte {
	b = binary.BigEndian.AppendUint32(b, UDPActionError)
	b = binary.BigEndian.AppendUint32(b, tid)
	return append(b, msg...)
}

// Client side.

// appendUDPConnectRequest appends a connect request.
func appendUDPConnectRequest(b []byte, tid uint32) []byte {
	b = binary.BigEndian.AppendUint64(b, udpProtocolID)
	b = binary.BigEndian.AppendUint32(b, UDPActionConnect)
	return binary.BigEndian.AppendUint32(b, tid)
}

// appendUDPAnnounceRequest appends an announce request for req, with the
// BEP 41 URLData option carrying urlData (the announce URL's path and
// query) when it is not empty.
func appendUDPAnnounceRequest(b []byte, connID uint64, tid uint32, req AnnounceRequest, key uint32, urlData string) []byte {
	b = binary.BigEndian.AppendUint64(b, connID)
	b = binary.BigEndian.AppendUint32(b, UDPActionAnnounce)
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
	if len(b) > UDPAnnounceLen {
		b = append(b, udpOptEnd)
	}
	return b
}

// appendUDPScrapeRequest appends a scrape request for hashes.
func appendUDPScrapeRequest(b []byte, connID uint64, tid uint32, hashes [][20]byte) []byte {
	b = binary.BigEndian.AppendUint64(b, connID)
	b = binary.BigEndian.AppendUint32(b, UDPActionScrape)
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
	case UDPActionConnect:
		if len(body) < 8 {
			return r, fmt.Errorf("%w: short connect reply", ErrBadResponse)
		}
		r.ConnID = binary.BigEndian.Uint64(body)
	case UDPActionAnnounce:
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
	case UDPActionScrape:
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
	case UDPActionError:
		r.Message = string(body)
	default:
		return r, fmt.Errorf("%w: unknown action %d", ErrBadResponse, r.Action)
	}
	return r, nil
}
