package harness

import (
	"context"
	"testing"
	"time"
)

// Context returns a context that ends after d, or 5 s before the test's
// deadline (the go test -timeout) when that comes sooner, so a stuck test
// fails with its own message rather than a timeout panic. It is cancelled
// when the test ends.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := dt.Deadline(); ok && time.Until(dl)-5*time.Second < d {
			d = time.Until(dl) - 5*time.Second
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
