#!/usr/bin/env bash
# bench.sh [BUILD_DIR] [--only SECTION[,SECTION...]] [--reps N] [--seconds S]
#
# The benchmark suite (`make bench`): installs the peers it compares against
# from Debian when they are missing (scripts/deps/bench.txt), builds fraud
# (BUILD_DIR, default build) and the bare libmicrohttpd peer
# (bench/http -> BUILD_DIR/bench-http), then runs bench/http/suite.py, which
# measures every table and rewrites docs/benchmarks.md.  With --only the
# named sections run and the document goes to stdout.  Sections: client,
# forest, server, cpu, batching, state, featurizer, generator, training.
# The whole suite is sized to finish in under 10 minutes on 2 cores.
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
exec /usr/bin/python3 "$ROOT/bench/http/suite.py" --build "$BUILD" "$@"
