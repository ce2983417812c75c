package storage

import (
	"errors"
	"os"
	"syscall"
)

// allocate grows f from size to length bytes, reserving the blocks with
// fallocate(2) so that a full disk shows up now rather than in the middle of
// a download. Filesystems without fallocate get a sparse Truncate instead.
func allocate(f *os.File, size, length int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, size, length-size)
	for err == syscall.EINTR {
		err = syscall.Fallocate(int(f.Fd()), 0, size, length-size)
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return f.Truncate(length)
	}
	return err
}
