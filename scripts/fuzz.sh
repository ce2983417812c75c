#!/usr/bin/env bash
# Runs every fuzz target of the module briefly (FUZZTIME each, default 3s).
# The committed corpora under */testdata/fuzz also run as plain tests.
set -euo pipefail
FUZZTIME="${FUZZTIME:-3s}"
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($FUZZTIME)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >/tmp/fuzz.$$.log 2>&1 || {
			cat /tmp/fuzz.$$.log
			exit 1
		}
	done
done
rm -f /tmp/fuzz.$$.log
