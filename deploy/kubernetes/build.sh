#!/usr/bin/env bash
# Runs the Dockerfile's build steps as a shell script (no docker engine
# needed) and checks the result is a static binary: what CI can check of the
# image here. Usage: deploy/kubernetes/build.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-$(mktemp -d)}"
go mod download
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o "$out/shoal" ./cmd/shoal
mkdir -p "$out/data"
if command -v file >/dev/null && ! file "$out/shoal" | grep -q "statically linked"; then
	echo "build.sh: $out/shoal is not statically linked" >&2
	exit 1
fi
"$out/shoal" help >/dev/null
echo "built $out/shoal"
