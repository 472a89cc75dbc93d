#!/usr/bin/env bash
# Makes the Python peers' virtual environment (pinned in requirements.txt) once per set of pins, in
# a cache outside the clone, and prints its python's path. Needs python3 with venv and PyPI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pins=$(sha256sum "$here/requirements.txt" | cut -c1-12)
cache="${TRACEGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracegate}"
venv="$cache/python-peers-$pins"
if [[ ! -x "$venv/ready" ]]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  echo "installing the Python peers into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  printf '#!/bin/sh\n' >"$venv/ready" && chmod +x "$venv/ready"
fi
echo "$venv/bin/python"
