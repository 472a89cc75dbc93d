#!/usr/bin/env bash
# Builds the Collector in build/ once per pinned version into a cache outside the clone and prints
# the binary's path. Later runs reuse it. Needs Go (the module proxy brings the modules).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=$(sed -nE 's/^const version = "(.*)"$/\1/p' "$here/build/main.go")
# The sum file names every module version, so a change of pins builds a new binary.
pins=$(sha256sum "$here/build/go.sum" "$here/build/main.go" | sha256sum | cut -c1-12)
cache="${TRACEGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracegate}"
binary="$cache/otelcol-$version-$pins"
if [[ ! -x "$binary" ]]; then
  mkdir -p "$cache"
  echo "building the Collector $version into $binary (several minutes the first time)" >&2
  # Two cores are shared with everything else on the machine: build one package at a time.
  (cd "$here/build" && GOFLAGS=-buildvcs=false go build -p "${GO_BUILD_JOBS:-1}" -trimpath \
    -ldflags="-s -w" -o "$binary.tmp" .)
  mv "$binary.tmp" "$binary"
fi
echo "$binary"
