// Package trackerinterop tests Shoal's tracker against real BitTorrent
// programs from Debian, as separate processes on loopback: aria2c and
// libtorrent against the Shoal tracker, Shoal peers against opentracker,
// two Shoal trackers sharing one redis-server. It also holds the tracker
// load bench (BenchmarkTrackerLoad), which measures the Shoal tracker and
// opentracker the same way in one run. A test whose program is missing
// skips and says which Debian package provides it.
//
// It is not where the tracker's protocol logic is tested: that is the
// tracker package's own unit, golden-packet and fuzz tests.
package trackerinterop
