// Package fleet holds the end-to-end tests of fleet mode: `shoal tracker`,
// `shoal agent` and `shoal publish` as separate processes on loopback. A
// tracker, an origin agent and subscribed agents carry releases of a
// channel one after another; variants share two trackers through a real
// redis-server, kill -9 an agent mid-release and restart it, restart the
// tracker mid-release, and feed the agent's API bad input (including a
// store on a full tmpfs). Tests only; see package harness.
package fleet
