#!/usr/bin/python3
"""A libtorrent peer that finds its swarm only through the DHT, for Shoal's
discovery interop tests. Run with Debian's /usr/bin/python3.

    lt_dht.py seed TORRENT DIR --bootstrap HOST:PORT
    lt_dht.py get  MAGNET  DIR --bootstrap HOST:PORT [--timeout S]

The session listens on 127.0.0.1 (TCP and the DHT's UDP on one port), has
its DHT bootstrapped from the given node only, and has LSD, UPnP, NAT-PMP
and uTP off. Loopback needs the DHT's IP restrictions lifted, since every
node shares 127.0.0.1. It prints "listening on 127.0.0.1:PORT" on stderr.

seed serves DIR until SIGTERM; get downloads the magnet into DIR and
exits 0 once every piece is verified, 1 on error or timeout.

This is test tooling, not part of Shoal.
"""

import argparse
import signal
import sys
import time

import libtorrent as lt


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def session(bootstrap):
    s = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": True,
        "dht_bootstrap_nodes": bootstrap,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_enforce_node_id": False,
        "dht_prefer_verified_node_ids": False,
        "dht_ignore_dark_internet": False,
        "dht_announce_interval": 5,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
    })
    return s


def main(argv):
    p = argparse.ArgumentParser(prog="lt_dht.py")
    p.add_argument("mode", choices=["seed", "get"])
    p.add_argument("what", help="TORRENT (seed) or MAGNET (get)")
    p.add_argument("dir")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--timeout", type=float, default=150.0)
    args = p.parse_args(argv)
    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(flag=True))

    ses = session(args.bootstrap)
    deadline = time.monotonic() + 30
    port = None
    while port is None and time.monotonic() < deadline:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if isinstance(a, lt.listen_succeeded_alert) and a.socket_type == lt.socket_type_t.tcp:
                port = a.port
    if port is None:
        log("error: not listening")
        return 1
    log("listening on 127.0.0.1:%d" % port)

    if args.mode == "seed":
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(args.what)
        atp.flags |= lt.torrent_flags.seed_mode
    else:
        atp = lt.parse_magnet_uri(args.what)
    atp.save_path = args.dir
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    h = ses.add_torrent(atp)
    deadline = time.monotonic() + args.timeout
    last = 0.0
    while not stop["flag"]:
        ses.wait_for_alert(250)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                log("error: %s" % a.message())
                return 1
        st = h.status()
        now = time.monotonic()
        if now - last > 1.0:
            log("progress %.1f%% peers %d state %s metadata %s" % (
                st.progress * 100, st.num_peers,
                str(st.state).rsplit(".", 1)[-1], st.has_metadata))
            last = now
        if args.mode == "get":
            if st.has_metadata and st.is_seeding and st.num_pieces == h.torrent_file().num_pieces():
                log("finished: all %d pieces verified" % st.num_pieces)
                return 0
            if now > deadline:
                log("timeout after %.0fs" % args.timeout)
                return 1
    log("stopping on signal")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
