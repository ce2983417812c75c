// Package agent is Shoal's fleet mode: the daemon that runs on every host
// (`shoal agent`).
//
// An Agent keeps a content store under its data folder: every torrent it
// fetched or was given, by info hash, with its files and an index in an
// embedded bbolt database that a crash or kill -9 never leaves half-written.
// It seeds what it holds, subscribes to release channels on the tracker
// (package channel: a long poll for the next release, the info dictionary,
// host reports), fetches each new release, verifies it, switches
// DIR/channels/NAME/current to it atomically with a symlink swap and runs an
// operator's hook. It bounds what it keeps: at most Keep releases per
// channel and disk watermarks (above High it deletes the oldest unpinned
// content until below Low). It serves a local JSON HTTP API (torrents,
// channels, files with Range, publishing, Prometheus metrics, health and a
// small HTML page), documented in docs/API.md.
//
// The decisions are pure and tested without sockets, files or clocks:
// ChooseEvictions (which content the disk watermarks delete) and
// Subscription (which release to fetch, stop, switch to or drop, with the
// newest-wins rule). The rest is a thin shell on client.Client moving bytes
// and time.
package agent
