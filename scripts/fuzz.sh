#!/usr/bin/env bash
# Runs every fuzz target of the module briefly (FUZZTIME each, default 3s).
# The committed corpora under */testdata/fuzz also run as plain tests.
#
# `go test -fuzz` sometimes ends a clean run with "context deadline exceeded"
# when the time budget expires while a worker is mid-input; such a run found
# nothing, so it is retried, while a real finding ("Failing input") fails.
set -euo pipefail
FUZZTIME="${FUZZTIME:-3s}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		for attempt in 1 2 3; do
			echo "fuzz $pkg $target ($FUZZTIME)"
			if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >"$log" 2>&1; then
				break
			fi
			if grep -q "Failing input" "$log" || ! grep -q "context deadline exceeded" "$log" || [ "$attempt" = 3 ]; then
				cat "$log"
				exit 1
			fi
			echo "  (fuzz run ended on its deadline without a finding; retrying)"
		done
	done
done
