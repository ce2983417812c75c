// Package bench measures a real distribution job: one origin and N
// receivers, each a separate OS process on loopback, every host's upload
// and download limited to a given rate. It runs the same job with Shoal,
// with libtorrent (python3-libtorrent hosts under the same session rate
// limits) and with single-source HTTP, and reports for each the finish
// time of every receiver against the Kumar-Ross floor, the origin's egress,
// CPU seconds per GB delivered and peak memory.
//
// It is the harness behind `shoal bench`: it starts and stops processes,
// times them, verifies every copy and summarises. It is not a simulator
// (see package sim) and not a test of protocol correctness: its figures
// are reported, never asserted. Links are emulated by the hosts' own rate
// limiters on loopback, or (Config.Netns, root only) by tc tbf on veth
// pairs with every host in its own network namespace behind a bridge.
package bench
