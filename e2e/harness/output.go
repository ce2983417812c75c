package harness

import (
	"bytes"
	"strings"
	"sync"
)

// Output is a goroutine-safe buffer that wakes a waiter on every write, so
// tests wait for a line to appear without sleeping. A Proc's stdout and
// stderr are each captured in one.
type Output struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{} // capacity 1: "something was written"
}

// NewOutput returns an empty Output.
func NewOutput() *Output { return &Output{notify: make(chan struct{}, 1)} }

// Write appends p and signals a waiter.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	n, err := o.buf.Write(p)
	o.mu.Unlock()
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return n, err
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Tail returns the last n lines written, for failure messages.
func (o *Output) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(o.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
