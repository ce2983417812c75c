//go:build !linux

package client

import (
	"io"
	"net"
)

// newSockReader returns nc: raw socket calls are used on Linux only (see
// sock_linux.go).
func newSockReader(nc net.Conn) io.Reader { return nc }

// sockWriter is not used outside Linux.
type sockWriter struct{}

// newSockWriter returns nil: the writer writes to the connection itself.
func newSockWriter(net.Conn) *sockWriter { return nil }

func (*sockWriter) writev([][]byte) error { panic("unreachable") }
