package peers

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/wire"
)

// ActionKind says what the runtime must do for an Action.
type ActionKind uint8

// Action kinds; the runtime performs a batch's actions in order.
const (
	// Dial connects to Addr and runs the BitTorrent handshake; the runtime
	// reports Connected or DialFailed.
	Dial ActionKind = iota
	// Accept admits Conn, whose handshake Connected reported: the runtime
	// starts moving its messages and hands it to the scheduling core.
	Accept
	// Close closes Conn because of Reason. The manager has forgotten it
	// already; a later Closed for it is harmless.
	Close
	// RecordBan reports that Keys are banned until Until (zero: for good)
	// because of Reason, so the runtime can refuse them in its other
	// torrents too (it steps their managers with BanKeys).
	RecordBan
	// Announce asks tracker Tracker for NumWant peers with event Event; the
	// runtime reports AnnounceDone.
	Announce
	// Lookup runs a DHT get_peers lookup; the runtime reports the peers as
	// they come (AddCandidates from FromDHT) and LookupDone at the end.
	Lookup
	// AnnounceDHT announces the torrent on the DHT; the runtime reports
	// DHTAnnounced.
	AnnounceDHT
	// SendPEX sends PEX to Conn as a ut_pex message (BEP 11).
	SendPEX
	// AskMetadata asks Conn for the whole info dictionary (BEP 9); the
	// runtime reports MetadataFailed, or ends the phase with MetadataDone.
	AskMetadata
)

// AnnounceEvent is the "event" of a tracker announce (BEP 3).
type AnnounceEvent string

// The announce events; the zero value is a regular announce.
const (
	EventNone      AnnounceEvent = ""
	EventStarted   AnnounceEvent = "started"
	EventCompleted AnnounceEvent = "completed"
	EventStopped   AnnounceEvent = "stopped"
)

// Action is one thing the runtime must do. Only the fields of its Kind are
// meaningful: Addr for Dial; Conn for Accept, Close, SendPEX and
// AskMetadata; Reason for Close and RecordBan; Keys and Until for
// RecordBan; Tracker, Event and NumWant for Announce; PEX for SendPEX.
type Action struct {
	Kind    ActionKind
	Addr    netip.AddrPort
	Conn    ConnID
	Reason  string
	Keys    []string
	Until   time.Time
	Tracker int
	Event   AnnounceEvent
	NumWant int
	PEX     wire.PEXMessage
}

// String formats the action compactly, e.g. "dial 10.0.0.1:6881"; the
// scripted tests compare these lines.
func (a Action) String() string {
	return a.format(func(ap netip.AddrPort) string { return ap.String() },
		func(c ConnID) string { return strconv.FormatUint(uint64(c), 10) }, time.Time{})
}

// format is String with caller-chosen names for addresses and connections;
// ban expiries are shown relative to epoch when it is set.
func (a Action) format(addr func(netip.AddrPort) string, conn func(ConnID) string, epoch time.Time) string {
	switch a.Kind {
	case Dial:
		return "dial " + addr(a.Addr)
	case Accept:
		return "accept " + conn(a.Conn)
	case Close:
		return "close " + conn(a.Conn) + ": " + a.Reason
	case RecordBan:
		until := "forever"
		if !a.Until.IsZero() {
			until = a.Until.Sub(epoch).String()
			if epoch.IsZero() {
				until = a.Until.UTC().Format(time.RFC3339)
			}
		}
		return fmt.Sprintf("record-ban %s until=%s: %s", strings.Join(a.Keys, " "), until, a.Reason)
	case Announce:
		ev := string(a.Event)
		if ev == "" {
			ev = "regular"
		}
		return fmt.Sprintf("announce %d %s numwant=%d", a.Tracker, ev, a.NumWant)
	case Lookup:
		return "lookup"
	case AnnounceDHT:
		return "announce-dht"
	case SendPEX:
		var added, dropped []string
		for _, p := range a.PEX.Added {
			s := addr(p.Addr)
			if p.Flags&wire.PEXReachable != 0 {
				s += "(reachable)"
			}
			added = append(added, s)
		}
		for _, d := range a.PEX.Dropped {
			dropped = append(dropped, addr(d))
		}
		return fmt.Sprintf("send-pex %s added=%s dropped=%s", conn(a.Conn), list(added), list(dropped))
	case AskMetadata:
		return "ask-metadata " + conn(a.Conn)
	}
	return fmt.Sprintf("action-%d", int(a.Kind))
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ",")
}
