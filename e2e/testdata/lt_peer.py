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
import signal
import sys
import time

import libtorrent as lt


def log(msg):
    print(msg, file=sys.stderr, flush=True)


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


def make_session(port):
    settings = {
        "listen_interfaces": "127.0.0.1:%d" % port,
        "outgoing_interfaces": "",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_tcp": True,
        "enable_incoming_tcp": True,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": False,
        "alert_mask": (lt.alert.category_t.error_notification
                       | lt.alert.category_t.status_notification
                       | lt.alert.category_t.port_mapping_notification),
    }
    return lt.session(settings)


def wait_listening(ses, deadline):
    """Blocks until libtorrent reports its TCP listen socket; returns the port."""
    while time.monotonic() < deadline:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_failed_alert):
                raise RuntimeError("listen failed: %s" % a.message())
            if isinstance(a, lt.listen_succeeded_alert):
                if a.socket_type == lt.socket_type_t.tcp:
                    return a.port
    raise RuntimeError("no listen_succeeded_alert before deadline")


def parse_peer(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit("bad --peer %r, want HOST:PORT" % s)
    return host.strip("[]"), int(port)


def state_name(st):
    return str(st.state).rsplit(".", 1)[-1]


def report(st, total):
    log("progress %.1f%% pieces %d/%d peers %d down %d B/s up %d B/s state %s"
        % (st.progress * 100, st.num_pieces, total,
           st.num_peers, st.download_rate, st.upload_rate, state_name(st)))


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
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    ses = make_session(args.port)
    port = wait_listening(ses, time.monotonic() + 30)
    log("listening on 127.0.0.1:%d" % port)

    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.dir
    if args.mode == "seed":
        atp.flags |= lt.torrent_flags.seed_mode
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    h = ses.add_torrent(atp)
    total = atp.ti.num_pieces()
    log("info hash %s" % str(h.info_hash()))

    peers = [parse_peer(p) for p in args.peer]
    deadline = time.monotonic() + args.timeout
    last_connect = 0.0
    last_report = 0.0
    while not stop["flag"]:
        ses.wait_for_alert(250)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                log("error: %s" % a.message())
                return 1
            if isinstance(a, lt.hash_failed_alert):
                log("hash failed: %s" % a.message())
        st = h.status()
        now = time.monotonic()
        if peers and st.num_peers == 0 and now - last_connect > 1.0:
            for host, p in peers:
                h.connect_peer((host, p))
            last_connect = now
        if now - last_report > 1.0:
            report(st, total)
            last_report = now
        if args.mode == "get":
            # The seeding state can show up a status snapshot before the
            # last piece is counted; finish only when both agree.
            seeding = st.is_seeding or st.state == lt.torrent_status.seeding
            if seeding and st.num_pieces == total:
                report(st, total)
                log("finished: all %d pieces verified" % st.num_pieces)
                return 0
            if now > deadline:
                log("timeout after %.0fs" % args.timeout)
                return 1
    log("stopping on signal")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
