// Package harness is the shared test harness of Shoal's end-to-end test
// packages (e2e, e2e/discovery, e2e/trackerinterop). It builds the shoal
// binary once per test binary, starts child processes with their stdout
// and stderr captured, waits for a line to appear with a deadline instead
// of sleeping, writes deterministic pseudo-random payloads, compares file
// trees byte for byte, drives the BitTorrent daemons of the interop tests
// (Transmission, qBittorrent and rtorrent, each with its own temp folder
// and loopback ports, through its RPC, WebUI or XML-RPC API), and skips
// tests whose external programs (such as Debian's python3-libtorrent) are
// missing.
//
// Like net/http/httptest it exists for tests only: it imports "testing"
// and reports failures through testing.TB. It is not part of Shoal, holds
// no protocol logic, and no non-test code may import it.
package harness
