// Package fleetpage tests the tracker's fleet page in a real headless
// Chromium (Debian's chromium): a small fleet of real `shoal agent`
// processes on loopback spreads a release published with `shoal publish`
// while the page is open, and the test reads what the page shows (hosts
// subscribed, hosts fetching, hosts done out of hosts subscribed, the
// hosts still missing it, the completion curve, the origin egress) from
// its DOM as it changes, without reloading.
//
// The browser is driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe), so no port is opened; conditions on the page
// are awaited inside the page with a MutationObserver, not by polling.
// It also runs the channel endpoints of real `shoal tracker` processes:
// two trackers sharing channels through one redis-server, and a tracker
// killed and restarted on the memory store that never reuses a seq. It
// holds tests only.
package fleetpage
