package client

import (
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Peer sockets are read and written with raw system calls (through
// syscall.RawConn, so the runtime's poller still parks a goroutine whose
// socket has nothing for it, and deadlines still apply). A raw call does
// not tell the Go scheduler it is in a system call: these calls never block
// (the sockets are non-blocking) and return within microseconds, and
// telling the scheduler costs more than it saves. Every such call wakes the
// runtime's monitor thread (sysmon) if it was asleep, and a woken monitor
// polls every 20 µs for the next millisecond: with 31 processes on two
// cores that was 65,000 sleeps per N = 30 bench run, 6% of the receivers'
// CPU (see docs/BENCHMARKS.md).

// rawTCP returns the raw connection under nc, or nil if nc is not a TCP
// connection that has one.
func rawTCP(nc net.Conn) syscall.RawConn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// sockReader reads a TCP connection with raw read(2) calls.
type sockReader struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // r.read, bound once (a closure per call would allocate)
	p   []byte
	n   int
	err error
}

// newSockReader returns a reader of nc that makes raw system calls, or nc
// itself if it is not a TCP connection.
func newSockReader(nc net.Conn) io.Reader {
	rc := rawTCP(nc)
	if rc == nil {
		return nc
	}
	r := &sockReader{rc: rc}
	r.fn = r.read
	return r
}

// Read reads into p what the socket holds, waiting for something if it
// holds nothing.
func (r *sockReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.err = p, 0, nil
	err := r.rc.Read(r.fn)
	r.p = nil
	if err != nil {
		return 0, err
	}
	return r.n, r.err
}

// read is the RawConn callback: false asks the poller to wait until the
// socket is readable.
func (r *sockReader) read(fd uintptr) bool {
	for {
		n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
		switch e {
		case 0:
			r.n = int(n)
			if n == 0 {
				r.err = io.EOF
			}
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			r.err = os.NewSyscallError("read", e)
			return true
		}
	}
}

// sockWriter writes a TCP connection with raw writev(2) calls.
type sockWriter struct {
	rc   syscall.RawConn
	fn   func(fd uintptr) bool // w.write, bound once
	bufs [][]byte              // what is left to write
	iov  []unix.Iovec
	err  error
}

// maxIovecs is the most buffers one writev takes (Linux's IOV_MAX).
const maxIovecs = 1024

// notSentLowat is the most data a peer socket holds that TCP has not yet
// sent (TCP_NOTSENT_LOWAT): a write past it waits, so what is queued for a
// peer stays in the sender's own queue, not in a send buffer that the
// kernel grows to megabytes, where a Request or a Have written later would
// wait behind it. Two blocks and their headers: measured under `shoal
// bench --netns` (tc-shaped 10 MB/s links, docs/BENCHMARKS.md, "Session 11
// (netns)"), 32 KiB lowered T_last where 16, 64 and 128 KiB did not.
const notSentLowat = 32 << 10

// newSockWriter returns a raw writer of nc, or nil if nc is not a TCP
// connection (the caller then writes to nc). It bounds the socket's unsent
// data to notSentLowat.
func newSockWriter(nc net.Conn) *sockWriter {
	rc := rawTCP(nc)
	if rc == nil {
		return nil
	}
	_ = rc.Control(func(fd uintptr) {
		// Best effort: a kernel without the option (before 3.12) sends as before.
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notSentLowat)
	})
	w := &sockWriter{rc: rc}
	w.fn = w.write
	return w
}

// writev writes every buffer in order, waiting for room in the socket as
// often as needed. It consumes bufs: entries are resliced as they are
// written.
func (w *sockWriter) writev(bufs [][]byte) error {
	w.bufs, w.err = bufs, nil
	err := w.rc.Write(w.fn)
	w.bufs = nil
	clear(w.iov)
	if err != nil {
		return err
	}
	return w.err
}

// write is the RawConn callback: it writes until everything is written
// (true), the socket is full (false: the poller waits until it has room)
// or an error (true, in w.err).
func (w *sockWriter) write(fd uintptr) bool {
	for {
		for len(w.bufs) > 0 && len(w.bufs[0]) == 0 {
			w.bufs = w.bufs[1:]
		}
		if len(w.bufs) == 0 {
			return true
		}
		w.iov = w.iov[:0]
		for _, b := range w.bufs {
			if len(w.iov) == maxIovecs {
				break
			}
			if len(b) > 0 {
				v := unix.Iovec{Base: &b[0]}
				v.SetLen(len(b))
				w.iov = append(w.iov, v)
			}
		}
		n, _, e := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
		runtime.KeepAlive(w.bufs)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			w.err = os.NewSyscallError("writev", e)
			return true
		}
		for left := int(n); left > 0; {
			if k := len(w.bufs[0]); left >= k {
				left -= k
				w.bufs = w.bufs[1:]
			} else {
				w.bufs[0] = w.bufs[0][left:]
				left = 0
			}
		}
	}
}
