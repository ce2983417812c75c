#!/usr/bin/python3
"""A rate-limited libtorrent host for `shoal bench`'s libtorrent comparator.

Run with Debian's /usr/bin/python3, which sees python3-libtorrent:

    lt_bench.py seed TORRENT DIR [--bind IP] [--port P] [--up-limit B/S] [--stats-file F]
    lt_bench.py get  TORRENT DIR [--bind IP] [--port P] [--up-limit B/S] [--down-limit B/S]
                                 [--seed-after] [--timeout S] [--stats-file F]

The session listens on --bind (default 127.0.0.1) with DHT, LSD, UPnP,
NAT-PMP and uTP off, and finds peers through the torrent's tracker. It
prints "listening on IP:PORT" on stderr once the socket is bound.

Rate limits are session-wide upload_rate_limit / download_rate_limit in
bytes per second. libtorrent exempts local peers (loopback, LAN) from its
limits through the local peer class; this script installs a peer-class
filter that puts every IPv4 address in the global class only, so the
limits apply to loopback peers too. Without it the comparison is void.

seed: serves DIR until SIGINT/SIGTERM.
get: downloads into DIR; prints "complete: ..." once every piece is
verified, then exits 0, or with --seed-after keeps serving until a signal.
Both write {"Uploaded": N, "Downloaded": N} (payload bytes) to --stats-file
on exit. Progress lines go to stderr. Bench tooling, not part of Shoal.
"""

import argparse
import json
import os
import signal
import sys
import time

import libtorrent as lt


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="lt_bench.py")
    p.add_argument("mode", choices=["seed", "get"])
    p.add_argument("torrent")
    p.add_argument("dir")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--up-limit", type=int, default=0, help="bytes/s, 0: none")
    p.add_argument("--down-limit", type=int, default=0, help="bytes/s, 0: none")
    p.add_argument("--seed-after", action="store_true")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--stats-file", default="")
    return p.parse_args(argv)


def make_session(args):
    settings = {
        "listen_interfaces": "%s:%d" % (args.bind, args.port),
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_tcp": True,
        "enable_incoming_tcp": True,
        "allow_multiple_connections_per_ip": True,
        "upload_rate_limit": args.up_limit,
        "download_rate_limit": args.down_limit,
        "alert_mask": (lt.alert.category_t.error_notification
                       | lt.alert.category_t.status_notification),
    }
    ses = lt.session(settings)
    # Every address in the global peer class (and not the local one), so
    # the session's rate limits also bind loopback and LAN peers.
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(f)
    return ses


def wait_listening(ses, deadline):
    while time.monotonic() < deadline:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_failed_alert):
                raise RuntimeError("listen failed: %s" % a.message())
            if isinstance(a, lt.listen_succeeded_alert):
                if a.socket_type == lt.socket_type_t.tcp:
                    return a.port
    raise RuntimeError("no listen_succeeded_alert before deadline")


def write_stats(path, st):
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"Uploaded": st.total_payload_upload,
                   "Downloaded": st.total_payload_download}, f)
    os.rename(tmp, path)


def main(argv):
    args = parse_args(argv)
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    ses = make_session(args)
    port = wait_listening(ses, time.monotonic() + 30)
    log("listening on %s:%d" % (args.bind, port))

    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.dir
    if args.mode == "seed":
        atp.flags |= lt.torrent_flags.seed_mode
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    h = ses.add_torrent(atp)
    total = atp.ti.num_pieces()
    if args.mode == "seed":
        log("seeding %s" % atp.ti.name())

    deadline = time.monotonic() + args.timeout
    done = args.mode == "seed"
    last_report = 0.0
    code = 0
    while not stop["flag"]:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                log("error: %s" % a.message())
                return 1
        st = h.status()
        now = time.monotonic()
        if now - last_report > 2.0:
            log("progress %.1f%% peers %d down %d B/s up %d B/s"
                % (st.progress * 100, st.num_peers, st.download_payload_rate,
                   st.upload_payload_rate))
            last_report = now
        if not done:
            seeding = st.is_seeding or st.state == lt.torrent_status.seeding
            if seeding and st.num_pieces == total:
                done = True
                log("complete: all %d pieces verified" % total)
                if not args.seed_after:
                    break
            elif now > deadline:
                log("timeout after %.0fs" % args.timeout)
                code = 1
                break
    write_stats(args.stats_file, h.status())
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
