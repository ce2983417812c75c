// Package e2e holds Shoal's end-to-end and interop tests. They build the
// shoal binary once per run, start real processes on loopback (trackers,
// seeders, getters, libtorrent peers through testdata/lt_peer.py, and the
// Transmission, qBittorrent and rtorrent daemons) and check that every copy
// is byte-identical to its source.
//
// It is not where protocol logic is tested: the pure core and the wire
// formats carry their own scripted and fuzz tests. These tests are slow and
// talk to the operating system; `go test -short ./e2e` skips the slowest.
// The package has no exported API; everything lives in _test.go files.
// The process, file and libtorrent helpers it shares with e2e/discovery
// and e2e/trackerinterop live in e2e/harness; the libtorrent driver
// scripts of both interop packages, and the session setup they share
// (ltcommon.py), live in testdata.
package e2e
