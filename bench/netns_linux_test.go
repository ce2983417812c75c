package bench

import (
	"context"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFabricCongestion: a connection between two hosts of a fabric runs
// HostCongestion (where the kernel has it), whatever the machine's
// default, and the route that sets it is in every namespace.
func TestFabricCongestion(t *testing.T) {
	needNetns(t)
	if hostCongestion() == "" {
		t.Skip("the kernel has no " + HostCongestion)
	}
	ctx := context.Background()
	f, err := newFabric(ctx, 2, []float64{10e6, 10e6}, []float64{10e6, 10e6}, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	for _, h := range f.hosts {
		out, err := exec.Command("ip", "-n", h.ns, "route", "show", "10.77.0.0/16").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "congctl "+HostCongestion) {
			t.Errorf("%s: route %v\n%s", h.ns, err, out)
		}
	}
	// inNS runs fn on a thread of its own that has joined host i's
	// namespace; the thread ends with fn (it stays locked), so no other
	// goroutine runs in that namespace.
	inNS := func(i int, fn func()) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			fd, err := unix.Open("/var/run/netns/"+f.hosts[i].ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				t.Error(err)
				return
			}
			fn()
		}()
		<-done
	}
	var ln net.Listener
	inNS(1, func() {
		if ln, err = net.Listen("tcp", f.hosts[1].ip+":0"); err != nil {
			t.Error(err)
		}
	})
	if ln == nil {
		t.FailNow()
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			var b [1]byte
			_, _ = c.Read(b[:])
		}
	}()
	var got string
	inNS(0, func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Error(err)
			return
		}
		_ = rc.Control(func(fd uintptr) {
			got, err = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
		})
		if err != nil {
			t.Error(err)
		}
	})
	if got != HostCongestion {
		t.Errorf("congestion control %q, want %q", got, HostCongestion)
	}
}
