package storage

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIovecs is how many buffers one preadv(2) or pwritev(2) takes
// (IOV_MAX on Linux).
const maxIovecs = 1024

// iovecPool recycles iovec arrays, so vectored I/O allocates nothing.
var iovecPool = sync.Pool{New: func() any { v := make([]unix.Iovec, 0, 64); return &v }}

// pwritev writes all of vec at off in f.
func pwritev(f *os.File, vec [][]byte, off int64) (int, error) {
	return vectored(f, unix.SYS_PWRITEV, vec, off)
}

// preadv fills all of vec from off in f; the file ending first is
// io.ErrUnexpectedEOF.
func preadv(f *os.File, vec [][]byte, off int64) (int, error) {
	return vectored(f, unix.SYS_PREADV, vec, off)
}

// vectored runs preadv or pwritev (trap) until all of vec has moved,
// resuming after short transfers, at most maxIovecs buffers per call. It
// uses the descriptor directly (Fd) rather than through SyscallConn, whose
// callback would allocate on every call: regular files are never in
// non-blocking mode, and the Storage's files are not closed while in use.
func vectored(f *os.File, trap uintptr, vec [][]byte, off int64) (int, error) {
	fd := f.Fd()
	ip := iovecPool.Get().(*[]unix.Iovec)
	defer func() {
		clear(*ip) // drop the references to the buffers
		iovecPool.Put(ip)
	}()
	done := 0
	skip := 0 // bytes of vec[0] already moved
	for {
		for len(vec) > 0 && len(vec[0]) == skip { // nothing (left) in vec[0]
			vec, skip = vec[1:], 0
		}
		if len(vec) == 0 {
			return done, nil
		}
		iov := (*ip)[:0]
		for i, b := range vec[:min(len(vec), maxIovecs)] {
			if i == 0 {
				b = b[skip:]
			}
			var v unix.Iovec
			if len(b) > 0 {
				v.Base = &b[0]
			}
			v.SetLen(len(b))
			iov = append(iov, v)
		}
		*ip = iov
		lo, hi := uintptr(off), uintptr(uint64(off)>>(8*unsafe.Sizeof(uintptr(0))-1)>>1) // hi is 0 on 64-bit
		var (
			r uintptr
			e syscall.Errno
		)
		if trap == unix.SYS_PREADV && !noNowait.Load() {
			r, e = readCached(fd, iov, lo, hi)
		} else {
			e = unix.EAGAIN
		}
		if e == unix.EAGAIN {
			// Piece writes stay ordinary calls: a raw pwritev (one the
			// scheduler is not told of) spared the monitor thread's hand-offs
			// on a loaded machine, but gave nothing on a quiet one (CPU s/GB
			// 3.0 against 2.9, shoal bench --link 1GB, 3 rounds, session 10)
			// and a buffered write may wait in dirty-page throttling, during
			// which a raw call would hold its P and delay every stop of the
			// world, stalling the whole process.
			r, _, e = syscall.Syscall6(trap, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)), lo, hi, 0)
		}
		n := int(r)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			return done, e
		case n == 0 && trap == unix.SYS_PWRITEV:
			return done, io.ErrShortWrite
		case n == 0:
			return done, io.ErrUnexpectedEOF
		}
		done, off = done+n, off+int64(n)
		for n > 0 {
			if rest := len(vec[0]) - skip; n >= rest {
				n -= rest
				vec, skip = vec[1:], 0
			} else {
				skip += n
				n = 0
			}
		}
	}
}

// noNowait is set once the kernel refused preadv2's RWF_NOWAIT: every read
// then takes the ordinary path.
var noNowait atomic.Bool

// readCached reads what of iov the page cache holds, without blocking
// (preadv2 with RWF_NOWAIT) and as a raw system call: one the Go scheduler
// is not told of, since it cannot block. Telling it (syscall.Syscall)
// wakes the runtime's monitor thread when the process was idle, which
// then polls every 20 µs for a millisecond; uploads read blocks that were
// just written, and with 31 processes on two cores those wake-ups were
// most of the runtime's sleeps (see docs/BENCHMARKS.md, Data path). It
// returns EAGAIN when nothing was read without blocking: the caller then
// reads the ordinary way, which may wait for the disk.
func readCached(fd uintptr, iov []unix.Iovec, lo, hi uintptr) (uintptr, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(unix.SYS_PREADV2, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)), lo, hi, unix.RWF_NOWAIT)
	switch e {
	case 0, unix.EAGAIN, unix.EINTR:
		return r, e
	case unix.ENOSYS, unix.EOPNOTSUPP, unix.EINVAL:
		noNowait.Store(true) // an old kernel or a file system without it
	}
	return 0, unix.EAGAIN // the ordinary call reports any real error
}
