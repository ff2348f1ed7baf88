#!/usr/bin/env bash
# Featurizer benchmarks (issue 3): offline throughput on >= 1 M rows,
# online featurize + state update per transaction in process and through
# Redis, memory per entity; for the default specs of the synthetic schema
# (`fraud generate --rows 1000000`) and of Sparkov (the bundled sample tiled
# to 1 M rows by make_sparkov_bench.py).  Prints Markdown (the body of
# docs/benchmarks-features.md) on stdout.
#
# usage: bench/features/run.sh [BUILD_DIR] [ROWS]
#   BUILD_DIR  a build with bench_features (default: build), ROWS (1000000)
# Needs redis-server (Debian package) for the Redis rows; without it they
# are left out.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${1:-build}
ROWS=${2:-1000000}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
BENCH="$BUILD/tests/bench_features"
FRAUD="$BUILD/fraud"
[ -x "$BENCH" ] || { echo "run.sh: $BENCH not built (make build)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/fraud-bench-features-XXXXXX)
REDIS_PID=
cleanup() {
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

"$FRAUD" generate --rows "$ROWS" --seed 7 -o "$WORK/synthetic.csv" 2>/dev/null
/usr/bin/python3 "$HERE/make_sparkov_bench.py" "$ROWS" "$WORK/sparkov.csv"

REDIS_URL=
if command -v redis-server >/dev/null; then
  PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$WORK/redis"
  redis-server --port "$PORT" --bind 127.0.0.1 --dir "$WORK/redis" --save "" \
    --appendonly no --loglevel warning >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.05
  done
  REDIS_URL="redis://127.0.0.1:$PORT"
fi

declare -A R
measure() { # name schema data
  local args=(--schema "$2" --repeat 3 "$3")
  [ -n "$REDIS_URL" ] && args=(--redis "$REDIS_URL" --redis-rows 100000 "${args[@]}")
  while read -r k v; do R["$1.$k"]=$v; done < <("$BENCH" "${args[@]}")
}
measure synthetic synthetic "$WORK/synthetic.csv"
measure sparkov sparkov "$WORK/sparkov.csv"

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo "Machine: $(nproc) cores ($cpu), $(free -g | awk '/Mem:/{print $2}') GiB;"
echo "load average when the run started: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share the cores)."
echo "Built with the project's default flags (RelWithDebInfo, -O2)."
echo
echo "| figure | synthetic spec | Sparkov spec | target |"
echo "|---|---|---|---|"
row() { echo "| $1 | $2 | $3 | $4 |"; }
row "rows (generated / tiled sample)" "${R[synthetic.rows]}" "${R[sparkov.rows]}" ">= 1,000,000"
row "features per transaction" "${R[synthetic.features]}" "${R[sparkov.features]}" ""
row "offline: transactions per CPU-second (one core)" "${R[synthetic.offline_txn_per_cpu_second]}" "${R[sparkov.offline_txn_per_cpu_second]}" ">= 2,000,000"
row "online in process: ns per transaction (featurize + update)" "${R[synthetic.online_memory_ns_per_txn]}" "${R[sparkov.online_memory_ns_per_txn]}" "<= 2,000"
if [ -n "$REDIS_URL" ]; then
  row "online through Redis (local, 1 connection): us per transaction" "${R[synthetic.online_redis_us_per_txn]}" "${R[sparkov.online_redis_us_per_txn]}" ""
fi
row "entities held after the replay" "${R[synthetic.memory_entities]}" "${R[sparkov.memory_entities]}" ""
row "memory per entity (bytes, records + table entries)" "${R[synthetic.memory_bytes_per_entity]}" "${R[sparkov.memory_bytes_per_entity]}" ""
echo
echo "Command: \`bench/features/run.sh build $ROWS\` (bench_features --schema S --repeat 3"
echo "[--redis URL --redis-rows 100000] DATA; best of 3 runs)."
