#!/usr/bin/env bash
# Checks what can be checked of deploy/ on this machine: the systemd units
# with systemd-analyze verify (against a built binary), and the
# Dockerfile's build steps run as a shell script (kubernetes/build.sh).
# SHOAL_BIN may name an already built binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$here/kubernetes/build.sh" "$tmp/image" >/dev/null
bin="${SHOAL_BIN:-$tmp/image/shoal}"
if command -v systemd-analyze >/dev/null; then
	for u in "$here"/systemd/*.service; do
		sed "s|/usr/local/bin/shoal|$bin|g" "$u" >"$tmp/$(basename "$u")"
	done
	systemd-analyze verify "$tmp"/*.service
	echo "systemd units verified"
else
	echo "systemd-analyze not installed: units not checked" >&2
fi
echo "Dockerfile build steps ran: $tmp/image/shoal"
