package storage

import (
	"io"
	"os"
	"runtime"
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
			if trap == unix.SYS_PWRITEV && runtime.GOMAXPROCS(0) > 1 && rawWriting.CompareAndSwap(false, true) {
				r, _, e = syscall.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)), lo, hi, 0)
				rawWriting.Store(false)
			} else {
				r, _, e = syscall.Syscall6(trap, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)), lo, hi, 0)
			}
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

// rawWriting is set while a pwritev runs as a raw system call, one the Go
// scheduler is not told of: at most one at a time in the process, and only
// when it has more than one scheduler slot (P), so the raw call holds one P
// while the others go on. An ordinary call (syscall.Syscall) lets the
// runtime's monitor thread (sysmon) take the P of a write that lasts more
// than its 20 µs tick and hand it to another thread, and that resets the
// monitor to polling every 20 µs for the next millisecond: a piece of
// 256 KiB takes tens of µs to copy into the page cache, so with 31
// processes on two cores most piece writes did, and the more so the busier
// the machine (shoal bench --peers 30 --link 1GB: 1,451 hand-offs and
// 80,000 monitor sleeps per run, against 381 and 34,000 with raw writes;
// voluntary context switches per run 117-170k against 42-51k at load
// 75-140; docs/BENCHMARKS.md, session 10). Buffered writes cannot be made
// non-blocking (ext4 refuses pwritev2's RWF_NOWAIT for them), so a raw
// write may wait in the kernel (dirty-page throttling) with its P: hence
// the one at a time, and never on the only P, where the whole process
// would wait with it (a host limited to 100 MB/s in all runs on one P,
// cmd/shoal/gc.go; measured there: fewer wake-ups, no CPU gain, and
// longer T_last on a loaded machine). Raw writes do sleep in the kernel at
// times (a guard that turned them off after the first one over 10 ms in
// which the thread slept fired in every loaded run).
var rawWriting atomic.Bool

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
