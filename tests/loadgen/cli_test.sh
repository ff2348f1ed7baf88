#!/usr/bin/env bash
# cli_test.sh FRAUD MHD_FIXED - `fraud loadgen` end to end against the bare
# libmicrohttpd peer: exit codes (0 ok, 1 nothing answered, 2 usage), the
# JSON report's accounting checked by /usr/bin/python3, a body file and V2
# tensors reaching the server.  Every run is bounded by a request count.
set -euo pipefail
fraud=$1
mhd=$2
tmp=$(mktemp -d /tmp/fraud-loadgen-cli.XXXXXX)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$mhd" --port 0 --threads 2 > "$tmp/port" &
server=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(awk '/^port /{print $2}' "$tmp/port")
[ -n "$port" ] || fail "mhd_fixed did not report its port"
base="http://127.0.0.1:$port"

# --help and usage errors
"$fraud" loadgen --help | grep -q -- '--endpoint URL' || fail "--help"
expect_usage() {
  set +e; "$fraud" loadgen "$@" >/dev/null 2>"$tmp/err"; rc=$?; set -e
  [ "$rc" -eq 2 ] || fail "expected exit 2 for: $* (got $rc)"
  [ -s "$tmp/err" ] || fail "no message for: $*"
}
expect_usage --requests 10
expect_usage --endpoint "$base/" --requests 0
expect_usage --endpoint "$base/" --requests 10 --concurrency abc
expect_usage --endpoint "$base/" --duration 5parsecs
expect_usage --endpoint "$base/" --requests 10 --body a --body-lines b
expect_usage --endpoint "$base/" --v2-batch 4
expect_usage --endpoint "$base/" --requests 10 --no-such-option
expect_usage --endpoint "$base/" --requests 10 --rate -5
expect_usage --endpoint "$base/" --duration 2s --warmup 3s
expect_usage --endpoint "$base/" --requests 10 --csv x.csv
expect_usage --endpoint "$base/" --requests 10 --schema ulb

# A run with a body file, checked through the JSON report.
printf '{"amt":"149.62"}' > "$tmp/body.json"
"$fraud" loadgen --endpoint "$base/v1/score" --body "$tmp/body.json" --requests 3000 \
  --concurrency 8 --threads 2 --json > "$tmp/report.json" || fail "run failed"
/usr/bin/python3 - "$tmp/report.json" <<'PY' || fail "JSON report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["mode"] == "closed", r
assert r["issued"] == 3000 and r["completed"] == 3000, r
assert r["status"] == {"200": 3000}, r["status"]
assert r["failures"] == 0 and all(v == 0 for v in r["errors"].values()), r["errors"]
assert r["connections"] == 8 and r["threads"] == 2 and r["connects"] == 8, r
lat = r["latency_ms"]
order = [lat[k] for k in ("min", "p50", "p90", "p99", "p99_9", "max")]
assert order == sorted(order) and order[0] > 0, lat
# Each request carried the 16-byte body plus the same headers.
assert r["bytes_sent"] % 3000 == 0, r["bytes_sent"]
assert r["throughput_rps"] > 0
PY

# Open loop with the text report.
"$fraud" loadgen --endpoint "$base/v1/score" --requests 200 --rate 2000 -c 4 -t 1 \
  > "$tmp/open.txt" || fail "open loop run"
grep -q "open loop against" "$tmp/open.txt" || fail "open loop text"
grep -q "200 completed" "$tmp/open.txt" || fail "open loop count: $(cat "$tmp/open.txt")"

# V2 tensors: the peer ignores the path, so the feature count is given.
"$fraud" loadgen --endpoint "$base" --v2-batch 16 --model m --nfeatures 30 \
  --input-name input__0 --requests 100 -c 2 --json > "$tmp/v2.json" || fail "V2 run"
/usr/bin/python3 -c "
import json, sys
r = json.load(open('$tmp/v2.json'))
assert r['url'].endswith('/v2/models/m/infer'), r['url']
assert r['completed'] == 100, r
# 16 rows x 30 features of text floats: well over a kilobyte per request.
assert r['bytes_sent'] > 100 * 16 * 30 * 2, r['bytes_sent']
" || fail "V2 report"

# Real transactions from a CSV sample; the path defaults to /v1/score.
fx=${FRAUD_FIXTURES:-$(dirname "$0")/../fixtures}
"$fraud" loadgen --endpoint "$base" --csv "$fx/loadgen/tiny.csv" \
  --schema "$fx/loadgen/tiny.yaml" --requests 40 -c 2 --json > "$tmp/csv.json" || fail "CSV run"
/usr/bin/python3 -c "
import json
r = json.load(open('$tmp/csv.json'))
assert r['url'].endswith('/v1/score') and r['completed'] == 40, r
" || fail "CSV report"

# --write-bodies: the V2 bodies as JSON lines, nothing sent.
"$fraud" loadgen --v2-batch 3 --model m --nfeatures 4 --input-name x --v2-bodies 5 \
  --seed 7 --write-bodies "$tmp/v2.jsonl" || fail "--write-bodies"
/usr/bin/python3 -c "
import json
lines = open('$tmp/v2.jsonl').read().splitlines()
assert len(lines) == 5, len(lines)
for l in lines:
    t = json.loads(l)['inputs'][0]
    assert t['shape'] == [3, 4] and len(t['data']) == 12 and t['name'] == 'x', t
    assert all(0 <= v < 1 for v in t['data'])
" || fail "written bodies"
expect_usage --v2-batch 3 --model m --nfeatures 4 --input-name x --v2-binary --write-bodies "$tmp/b"

# V2 rows from a feature matrix CSV in `fraud features` form: the id and
# label columns dropped, an empty cell
# (missing) sent as null, rows wrapping round to fill the last batch.
printf 'transaction_id,f1,f2,label\nt1,1.5,,0\nt2,2,3.25,1\nt3,-4,5,0\n' > "$tmp/features.csv"
"$fraud" loadgen --v2-batch 2 --model m --features "$tmp/features.csv" --input-name x \
  --write-bodies "$tmp/fm.jsonl" || fail "--features"
/usr/bin/python3 -c "
import json
b = [json.loads(l)['inputs'][0] for l in open('$tmp/fm.jsonl')]
assert [t['shape'] for t in b] == [[2, 2], [2, 2]], b
assert b[0]['data'] == [1.5, None, 2, 3.25], b[0]
assert b[1]['data'] == [-4, 5, 1.5, None], b[1]
" || fail "feature-matrix bodies"

# Nothing answers: exit 1, connect errors counted.
kill "$server"; wait "$server" 2>/dev/null || true; server=
set +e
"$fraud" loadgen --endpoint "$base/v1/score" --requests 5 -c 1 --json > "$tmp/dead.json" 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "expected exit 1 with no server (got $rc)"
/usr/bin/python3 -c "
import json
r = json.load(open('$tmp/dead.json'))
assert r['errors']['connect'] == 5 and r['completed'] == 0, r
" || fail "dead-server report"
echo "loadgen CLI: ok"
