#!/usr/bin/python3
"""A libtorrent peer that finds its swarm only through the DHT, for Shoal's
discovery interop tests (e2e/discovery). Run with Debian's /usr/bin/python3.

    lt_dht.py seed TORRENT DIR --bootstrap HOST:PORT
    lt_dht.py get  MAGNET  DIR --bootstrap HOST:PORT [--timeout S]

The session (ltcommon.py) listens on 127.0.0.1 (TCP and the DHT's UDP on
one port), has its DHT bootstrapped from the given node only, and has LSD,
UPnP, NAT-PMP and uTP off. Loopback needs the DHT's IP restrictions lifted,
since every node shares 127.0.0.1. It prints "listening on 127.0.0.1:PORT"
on stderr.

seed serves DIR until SIGTERM; get downloads the magnet into DIR and
exits 0 once every piece is verified, 1 on error or timeout.

This is test tooling, not part of Shoal.
"""

import argparse
import sys

import libtorrent as lt

sys.dont_write_bytecode = True  # keep testdata free of __pycache__
import ltcommon  # noqa: E402 (after the line above)
from ltcommon import log


def report(st):
    log("progress %.1f%% peers %d state %s metadata %s" % (
        st.progress * 100, st.num_peers, ltcommon.state_name(st),
        st.has_metadata))


def main(argv):
    p = argparse.ArgumentParser(prog="lt_dht.py")
    p.add_argument("mode", choices=["seed", "get"])
    p.add_argument("what", help="TORRENT (seed) or MAGNET (get)")
    p.add_argument("dir")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--timeout", type=float, default=150.0)
    args = p.parse_args(argv)
    stop = ltcommon.stop_on_signals()

    try:
        ses = ltcommon.start_session(dht_bootstrap=args.bootstrap,
                                     any_listen_failure=False)
    except RuntimeError as e:
        log("error: not listening (%s)" % e)
        return 1

    if args.mode == "seed":
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(args.what)
    else:
        atp = lt.parse_magnet_uri(args.what)
    h = ltcommon.add_torrent(ses, atp, args.dir, seed=args.mode == "seed")

    def done(st):
        return (st.has_metadata and st.is_seeding
                and st.num_pieces == h.torrent_file().num_pieces())

    return ltcommon.run(ses, h, stop, get=args.mode == "get",
                        timeout=args.timeout, report=report, done=done)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
