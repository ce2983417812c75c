package dht

import (
	"fmt"
	"net"
	"net/netip"
)

// Transport moves KRPC datagrams. ReadFrom blocks until a packet arrives
// and returns an error (net.ErrClosed) once Close has been called. The node
// owns its transport and closes it.
type Transport interface {
	WriteTo(b []byte, to netip.AddrPort) error
	ReadFrom(b []byte) (n int, from netip.AddrPort, err error)
	LocalAddr() net.Addr
	Close() error
}

// UDPTransport is a Transport over a UDP socket.
type UDPTransport struct {
	conn *net.UDPConn
}

// ListenUDP opens a UDP socket on addr ("host:port", ":0" for any port).
func ListenUDP(addr string) (*UDPTransport, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("dht: resolve %q: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("dht: listen %q: %w", addr, err)
	}
	return &UDPTransport{conn: conn}, nil
}

// WriteTo sends one datagram.
func (t *UDPTransport) WriteTo(b []byte, to netip.AddrPort) error {
	_, err := t.conn.WriteToUDPAddrPort(b, to)
	return err
}

// ReadFrom receives one datagram; the source address is unmapped to IPv4
// where possible.
func (t *UDPTransport) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	n, from, err := t.conn.ReadFromUDPAddrPort(b)
	return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
}

// LocalAddr returns the socket's address.
func (t *UDPTransport) LocalAddr() net.Addr { return t.conn.LocalAddr() }

// Close closes the socket.
func (t *UDPTransport) Close() error { return t.conn.Close() }
