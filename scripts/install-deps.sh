#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: the real BitTorrent
# clients used by the interop tests, Redis, and the headless browser of the
# fleet page test. Go modules come through the module proxy
# when the tests build.
set -euo pipefail

# Interop peers: libtorrent (python3-libtorrent), aria2, Transmission
# (transmission-daemon, transmission-cli), qBittorrent (qbittorrent-nox),
# rtorrent; trackers and stores: opentracker, redis-server; the fleet
# page's browser: chromium.
PKGS=(
	python3-libtorrent aria2 transmission-daemon transmission-cli qbittorrent-nox rtorrent
	opentracker redis-server chromium
)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "installing Debian packages: ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
/usr/bin/python3 -c 'import libtorrent as lt; print("libtorrent", lt.__version__)'
