package client

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSockWriterNotSentLowat: a peer connection's writer bounds the data
// its socket holds unsent to notSentLowat.
func TestSockWriterNotSentLowat(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			var b [1]byte
			_, _ = c.Read(b[:])
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if newSockWriter(nc) == nil {
		t.Fatal("newSockWriter of a TCP connection = nil")
	}
	var got int
	var gerr error
	if err := rawTCP(nc).Control(func(fd uintptr) {
		got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	if got != notSentLowat {
		t.Errorf("TCP_NOTSENT_LOWAT = %d, want %d", got, notSentLowat)
	}
}
