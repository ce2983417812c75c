//go:build !unix

package client

// newSlab allocates n bytes from the Go heap.
func newSlab(n int) []byte { return make([]byte, n) }
