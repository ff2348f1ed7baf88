#!/usr/bin/env bash
# soak.sh [BUILD_DIR] [--target serve|mhd_fixed] [--minutes M] [--out FILE]
#
# The sustained run (`make soak`; not part of CI's default path): measures
# the server's capacity, drives it at 80 % of it for 10 minutes with
# real-sample traffic, and reports errors (must be 0), p99 per minute, and the
# server's RSS and open file descriptors per minute (must not grow after
# warm-up).  Writes docs/soak.md; exits 1 when a check fails.  --target
# mhd_fixed runs the same harness against the bare libmicrohttpd peer.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  BUILD=$1
  shift
fi
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

"$ROOT/scripts/install-deps.sh" build bench
make -C "$ROOT" --no-print-directory build BUILD="$BUILD"
cmake -S "$ROOT/bench/http" -B "$BUILD/bench-http" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD/bench-http" >/dev/null
cd "$ROOT"
exec /usr/bin/python3 "$ROOT/bench/http/soak.py" --build "$BUILD" "$@"
