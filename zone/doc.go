// Package zone is a host's location label, such as "dc1/row4/rack12":
// its syntax, its bounds, and how near two labels are.
//
// A label is one to MaxLevels segments separated by "/", broadest first
// (data centre, row, rack, or whatever levels a fleet has), each segment
// one or more of [A-Za-z0-9._:-], at most MaxLen bytes in all. Two hosts
// share a rack when their labels are equal, and are nearer the more
// leading segments they share ([Common]). The empty label means "no
// location"; it is near nobody.
//
// A label is what a host says about itself: the tracker uses it only to
// order the peers it hands out, never to decide whom to trust. This
// package is not a topology database and does not discover locations.
package zone
