#!/usr/bin/python3
"""A libtorrent peer for Shoal's interop tests.

Run with Debian's /usr/bin/python3, which sees python3-libtorrent:

    lt_peer.py seed TORRENT DIR [--port P]
    lt_peer.py get  TORRENT DIR [--port P] [--peer HOST:PORT]... [--timeout S]
    lt_peer.py create PATH TORRENT [--piece-length BYTES]

Both modes listen on 127.0.0.1 only, with DHT, LSD, UPnP, NAT-PMP and uTP
off, and print "listening on 127.0.0.1:PORT" on stderr once the socket is
bound (P=0 picks a free port and the line reports the real one).

seed: serves the files under DIR (seed mode: pieces are hashed lazily when
first requested) until SIGINT/SIGTERM.

get: downloads into DIR, (re)connecting to every --peer while it has no
peers, and exits 0 once every piece is verified (the torrent reaches the
seeding state); exits 1 on a torrent error or when --timeout runs out.

create: writes a v1-only torrent of the file or directory PATH to TORRENT
and prints its info hash (hex) on stdout, like `shoal create`. The e2e tests
use it for a libtorrent-to-libtorrent control run of the harness itself.

Progress lines go to stderr. This is test tooling, not part of Shoal.
"""

import argparse
import os
import sys

import libtorrent as lt

sys.dont_write_bytecode = True  # keep testdata free of __pycache__
import ltcommon  # noqa: E402 (after the line above)
from ltcommon import log


def parse_args(argv):
    p = argparse.ArgumentParser(prog="lt_peer.py")
    p.add_argument("mode", choices=["seed", "get", "create"])
    p.add_argument("torrent", help="TORRENT (seed, get) or PATH (create)")
    p.add_argument("dir", help="DIR (seed, get) or TORRENT (create)")
    p.add_argument("--piece-length", type=int, default=256 * 1024)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--peer", action="append", default=[],
                   help="HOST:PORT to connect to (get mode)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="give up after this many seconds (get mode)")
    return p.parse_args(argv)


def parse_peer(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit("bad --peer %r, want HOST:PORT" % s)
    return host.strip("[]"), int(port)


def report(st, total):
    log("progress %.1f%% pieces %d/%d peers %d down %d B/s up %d B/s state %s"
        % (st.progress * 100, st.num_pieces, total,
           st.num_peers, st.download_rate, st.upload_rate,
           ltcommon.state_name(st)))


def create(path, out, piece_length):
    path = os.path.abspath(path)
    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, piece_length, lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, os.path.dirname(path))
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    print(str(lt.torrent_info(out).info_hash()))
    return 0


def main(argv):
    args = parse_args(argv)
    if args.mode == "create":
        return create(args.torrent, args.dir, args.piece_length)
    stop = ltcommon.stop_on_signals()
    ses = ltcommon.start_session(port=args.port)

    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    h = ltcommon.add_torrent(ses, atp, args.dir, seed=args.mode == "seed")
    total = atp.ti.num_pieces()
    log("info hash %s" % str(h.info_hash()))

    peers = [parse_peer(p) for p in args.peer]
    last_connect = [0.0]

    def connect(st, now):
        if peers and st.num_peers == 0 and now - last_connect[0] > 1.0:
            for host, p in peers:
                h.connect_peer((host, p))
            last_connect[0] = now

    def done(st):
        # The seeding state can show up a status snapshot before the
        # last piece is counted; finish only when both agree.
        seeding = st.is_seeding or st.state == lt.torrent_status.seeding
        return seeding and st.num_pieces == total

    return ltcommon.run(ses, h, stop, get=args.mode == "get",
                        timeout=args.timeout,
                        report=lambda st: report(st, total),
                        done=done, tick=connect)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
