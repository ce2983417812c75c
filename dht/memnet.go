package dht

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// MemNetwork is an in-process datagram network for tests and simulations:
// endpoints get a Transport each and packets between them are delivered
// through bounded queues, dropped (like UDP) when a queue is full or the
// destination does not exist.
type MemNetwork struct {
	mu        sync.Mutex
	endpoints map[netip.AddrPort]*MemEndpoint
	dropped   atomic.Int64
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{endpoints: map[netip.AddrPort]*MemEndpoint{}}
}

const memQueueLen = 4096

type memPacket struct {
	from netip.AddrPort
	b    []byte
}

// MemEndpoint is one address on a MemNetwork; it implements Transport.
type MemEndpoint struct {
	net    *MemNetwork
	addr   netip.AddrPort
	inbox  chan memPacket
	closed chan struct{}
	once   sync.Once
}

// Listen attaches an endpoint at addr.
func (n *MemNetwork) Listen(addr netip.AddrPort) (*MemEndpoint, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.endpoints[addr]; ok {
		return nil, fmt.Errorf("dht: mem listen %s: address in use", addr)
	}
	e := &MemEndpoint{net: n, addr: addr, inbox: make(chan memPacket, memQueueLen), closed: make(chan struct{})}
	n.endpoints[addr] = e
	return e, nil
}

// Inject delivers b to the endpoint at to as if sent from from, which
// need not exist: tests use it to spoof sources.
func (n *MemNetwork) Inject(from, to netip.AddrPort, b []byte) {
	n.mu.Lock()
	e := n.endpoints[to]
	n.mu.Unlock()
	if e == nil {
		n.dropped.Add(1)
		return
	}
	select {
	case e.inbox <- memPacket{from: from, b: append([]byte(nil), b...)}:
	default:
		n.dropped.Add(1)
	}
}

// Dropped returns how many packets were dropped so far.
func (n *MemNetwork) Dropped() int64 { return n.dropped.Load() }

// WriteTo sends b to the endpoint at to.
func (e *MemEndpoint) WriteTo(b []byte, to netip.AddrPort) error {
	select {
	case <-e.closed:
		return net.ErrClosed
	default:
	}
	e.net.Inject(e.addr, to, b)
	return nil
}

// ReadFrom waits for the next packet.
func (e *MemEndpoint) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	select {
	case p := <-e.inbox:
		return copy(b, p.b), p.from, nil
	case <-e.closed:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

// LocalAddr returns the endpoint's address.
func (e *MemEndpoint) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(e.addr) }

// Close detaches the endpoint and unblocks ReadFrom.
func (e *MemEndpoint) Close() error {
	e.once.Do(func() {
		close(e.closed)
		e.net.mu.Lock()
		delete(e.net.endpoints, e.addr)
		e.net.mu.Unlock()
	})
	return nil
}
