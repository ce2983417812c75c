package client

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/shoal-p2p/shoal/dht"
	"github.com/shoal-p2p/shoal/peers"
	"github.com/shoal-p2p/shoal/wire"
)

// peerExt is what one peer told us in its extended handshake (BEP 10).
// The torrent loop owns it; the PEX rules are the peer manager's.
type peerExt struct {
	got        bool // its extended handshake arrived
	pexID      int  // its id for ut_pex, 0 if it has none
	metadataID int  // its id for ut_metadata, 0 if it has none
	// metaQueued counts our ut_metadata replies to it not yet written: the
	// loop adds one per reply, the writer takes it off once written.
	metaQueued atomic.Int32
}

// usesPEX reports whether this torrent may exchange peers (BEP 27: a
// private torrent never does).
func (t *Torrent) usesPEX() bool { return !t.mi.Info.Private && !t.opts.NoPEX }

// clientVersion is the "v" of our BEP 10 handshakes.
const clientVersion = peers.ClientName

// sendExtendedHandshake sends our BEP 10 handshake: client name, request
// queue size, listening port, the extensions we speak, the size of the
// info dictionary we can serve (BEP 9) and our zone (the peer's core
// reads it: swarm locality).
func (t *Torrent) sendExtendedHandshake(pc *peerConn) {
	eh := wire.ExtendedHandshake{M: map[string]int{extMetadata: extMetadataID}, V: clientVersion, Reqq: t.core.Config().MaxQueuedUploads,
		MetadataSize: len(t.mi.InfoBytes), Zone: t.c.cfg.Zone}
	if t.usesPEX() {
		eh.M[extPEX] = extPEXID
	}
	eh.Port = t.c.listenPort()
	payload, err := eh.Marshal()
	if err != nil {
		t.log.Warn("encode extended handshake", "err", err)
		return
	}
	pc.enqueue(outItem{msg: wire.Message{Type: wire.Extended, ExtendedID: wire.ExtendedHandshakeID, ExtendedPayload: payload}})
}

// onExtended handles an extended message (BEP 10). The handshake also goes
// to the core (it reads reqq and the peer's zone); ut_metadata and ut_pex
// are the runtime's.
// It reports whether the core should see the message.
func (t *Torrent) onExtended(now time.Time, pc *peerConn, m wire.Message) bool {
	switch m.ExtendedID {
	case wire.ExtendedHandshakeID:
		eh, err := wire.ParseExtendedHandshake(m.ExtendedPayload)
		if err != nil {
			return true
		}
		if eh.Port > 0 && eh.Port < 65536 {
			pc.listenPort.Store(int32(eh.Port))
		}
		pc.ext.got = true
		pc.ext.pexID = eh.M[extPEX]
		pc.ext.metadataID = eh.M[extMetadata]
		e := peers.ExtendedInfo{ListenPort: eh.Port, PEX: pc.ext.pexID > 0 && pc.ext.pexID < 256,
			Metadata: pc.ext.metadataID != 0, Zone: eh.Zone}
		if t.mgr.FactsFirst(e) {
			// A far peer: the manager keeps a few (the most useful, seeds
			// apart), judged on the core's current view.
			t.facts = t.core.AppendPeerFacts(t.facts[:0])
			t.mgr.Facts(now, t.facts)
		}
		t.mgr.Extended(now, pc.id, e)
		return true
	case extMetadataID:
		mm, err := wire.ParseMetadataMessage(m.ExtendedPayload)
		if err != nil || pc.ext.metadataID == 0 {
			return false
		}
		t.serveMetadata(pc, mm)
	case extPEXID:
		if !t.usesPEX() {
			return false
		}
		pm, err := wire.ParsePEXMessage(m.ExtendedPayload)
		if err != nil {
			return false
		}
		// The peer manager bounds what PEX may add and how fast.
		t.mgr.PEXReceived(now, pc.id, pm)
	}
	return false
}

// serveMetadata answers a ut_metadata message (BEP 9). Replies share one
// marshalled copy per piece, and a peer may have at most
// metadataServer.maxQueued of them waiting to be written: one that asks for
// more without reading is disconnected, so a flood of requests costs a
// bounded queue, not a copy of the dictionary per request.
func (t *Torrent) serveMetadata(pc *peerConn, mm wire.MetadataMessage) {
	id := pc.ext.metadataID
	if id <= 0 || id > 255 {
		return
	}
	if t.meta == nil {
		t.meta = newMetadataServer(t.mi.InfoBytes)
	}
	payload, ok, err := t.meta.reply(mm)
	if err != nil {
		t.log.Warn("encode ut_metadata reply", "peer", pc, "err", err)
		return
	}
	if !ok {
		return
	}
	if n := int(pc.ext.metaQueued.Load()); n >= t.meta.maxQueued() {
		pc.close(fmt.Sprintf("flooded ut_metadata requests (%d replies unread)", n))
		return
	}
	pc.ext.metaQueued.Add(1)
	pc.enqueue(outItem{msg: wire.Message{Type: wire.Extended, ExtendedID: uint8(id)}, shared: payload, sent: &pc.ext.metaQueued})
}

// sendExt marshals and queues one extended message on the peer's id.
func (t *Torrent) sendExt(pc *peerConn, id int, marshal func() ([]byte, error)) {
	if id <= 0 || id > 255 {
		return
	}
	payload, err := marshal()
	if err != nil {
		t.log.Warn("encode extended message", "peer", pc, "err", err)
		return
	}
	pc.enqueue(outItem{msg: wire.Message{Type: wire.Extended, ExtendedID: uint8(id), ExtendedPayload: payload}})
}

// onPort handles a BitTorrent PORT message (BEP 5): the peer runs a DHT
// node on that UDP port, which we offer to our routing table.
func (t *Torrent) onPort(pc *peerConn, port uint16) {
	if t.c.dht == nil || port == 0 || t.mi.Info.Private {
		return
	}
	t.c.dht.AddNode(dht.NodeInfo{Addr: netip.AddrPortFrom(pc.remote.Addr(), port)})
}

// sendPort tells a peer that runs a DHT where ours listens (BEP 5).
func (t *Torrent) sendPort(pc *peerConn) {
	if t.c.dht == nil || !pc.hs.SupportsDHT() || t.mi.Info.Private {
		return
	}
	if ua, ok := t.c.dht.Addr().(*net.UDPAddr); ok && ua.Port > 0 {
		pc.enqueue(outItem{msg: wire.Message{Type: wire.Port, Port: uint16(ua.Port)}})
	}
}
