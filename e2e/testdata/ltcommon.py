"""Shared libtorrent session setup for Shoal's interop test scripts
(lt_peer.py, lt_dht.py), which import it from this directory.

The session listens on 127.0.0.1 only, with LSD, UPnP, NAT-PMP and uTP
off, several connections per IP allowed (every test peer is on loopback),
and the DHT off unless a bootstrap node is given; then the DHT's IP
restrictions are lifted, since every node shares 127.0.0.1.

This is test tooling, not part of Shoal.
"""

import signal
import sys
import time

import libtorrent as lt


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def settings(port=0, dht_bootstrap=None):
    """Returns the session settings; see the module docstring."""
    s = {
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
    if dht_bootstrap:
        s.update({
            "enable_dht": True,
            "dht_bootstrap_nodes": dht_bootstrap,
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_enforce_node_id": False,
            "dht_prefer_verified_node_ids": False,
            "dht_ignore_dark_internet": False,
            "dht_announce_interval": 5,
        })
    return s


def start_session(port=0, dht_bootstrap=None, any_listen_failure=True,
                  timeout=30):
    """Starts a session, waits until its TCP socket is bound and prints
    "listening on 127.0.0.1:PORT" on stderr. Raises RuntimeError when no
    TCP socket is bound in time or, with any_listen_failure, when any
    socket fails to listen."""
    ses = lt.session(settings(port, dht_bootstrap))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            if any_listen_failure and isinstance(a, lt.listen_failed_alert):
                raise RuntimeError("listen failed: %s" % a.message())
            if (isinstance(a, lt.listen_succeeded_alert)
                    and a.socket_type == lt.socket_type_t.tcp):
                log("listening on 127.0.0.1:%d" % a.port)
                return ses
    raise RuntimeError("no listen_succeeded_alert before deadline")


def stop_on_signals():
    """Returns a dict whose "flag" turns True on SIGINT or SIGTERM."""
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def add_torrent(ses, atp, save_path, seed):
    """Adds atp, saving under save_path, started at once (not auto-managed);
    seed adds it in seed mode (pieces hashed lazily when first requested)."""
    atp.save_path = save_path
    if seed:
        atp.flags |= lt.torrent_flags.seed_mode
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    return ses.add_torrent(atp)


def state_name(st):
    return str(st.state).rsplit(".", 1)[-1]


def run(ses, h, stop, get, timeout, report, done, tick=None):
    """Drives the torrent until a signal (exit 0), a torrent or file error
    (exit 1) or, when get, until done(status) (exit 0) or the timeout in
    seconds (exit 1). report(status) runs about once a second and once
    more on completion; tick(status, now) on every round. Returns the
    exit code."""
    deadline = time.monotonic() + timeout
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
        if tick:
            tick(st, now)
        if now - last_report > 1.0:
            report(st)
            last_report = now
        if get:
            if done(st):
                report(st)
                log("finished: all %d pieces verified" % st.num_pieces)
                return 0
            if now > deadline:
                log("timeout after %.0fs" % timeout)
                return 1
    log("stopping on signal")
    return 0
