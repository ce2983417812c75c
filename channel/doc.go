// Package channel is Shoal's release channels as a subscriber or a
// publisher sees them: the values the tracker and the agents exchange
// ([Release], [HostReport], [Summary]), their JSON codec with size bounds,
// and [Client], the HTTP client of the tracker's channel endpoints
// (/v1/channels/...) that `shoal publish` and `shoal agent` use.
//
// A channel is a named stream of releases ("build", "model"): each publish
// registers the next release, numbered 1, 2, 3... and never reused, with
// the torrent's info dictionary, so a subscriber needs no .torrent file to
// fetch it. Subscribers learn of a new release by long polling
// ([Client.Next]) and tell the tracker what they hold ([Client.Report]),
// which the tracker's fleet page shows.
//
// This package is not the tracker's side: the HTTP handlers and the
// channel stores (memory, Redis) live in package tracker, which imports
// this one for the types. It imports neither the tracker, Redis nor
// Prometheus, so a program that only subscribes links none of them.
package channel
