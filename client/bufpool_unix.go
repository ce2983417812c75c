//go:build unix

package client

import "syscall"

// newSlab maps n bytes of anonymous memory outside the Go heap; the Go heap
// serves if mapping fails. Slabs are never unmapped: the pool bounds them.
func newSlab(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	return b
}
