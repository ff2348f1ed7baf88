#!/usr/bin/env bash
# train_interrupt.sh FRAUD - `fraud train` interrupted at many points never
# leaves a temporary bundle directory, and its exit status says what exists:
#   exit 0                       the bundle is complete;
#   killed by SIGINT/SIGTERM     stderr says either "no bundle was written"
#                                (and there is none) or "the bundle DIR is
#                                complete" (and it is);
# anything else fails.  "Complete" is checked independently of fraud: every
# file the manifest lists exists with its sha256 (Python's hashlib).
# Half the runs are interrupted when the progress output announces the
# write stage (plus 0..9 ms), the window where a signal delivered to an
# OpenMP worker thread used to kill the process mid-write; the others at
# evenly spread times over a whole run.  Bounded: 20 runs of ~1 s.
set -u -o pipefail
fraud=${1:?usage: train_interrupt.sh FRAUD}
src=${FRAUD_SOURCE_DIR:?}
. "$(dirname "$0")/lib.sh"
set -m # background jobs keep SIGINT (no job control: they would ignore it)
data="$src/data/samples/sparkov/sparkov_windows.csv.gz"
train_args=(train --schema sparkov --nthread 2 --n-estimators 150 --early-stopping 0
            --progress --quiet "$data")

complete() { # complete DIR: every file of the manifest is there with its sha256
  /usr/bin/python3 - "$1" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
try:
    files = json.load(open(os.path.join(d, "manifest.json")))["files"]
    ok = files and all(hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest() == f["sha256"]
                       for n, f in files.items())
except (OSError, ValueError, KeyError):
    ok = False
sys.exit(0 if ok else 1)
PY
}

# A run without interruption: its duration spreads the timed interruptions.
t0=$(date +%s%N)
"$fraud" "${train_args[@]/--progress/--no-progress}" --out "$T/base/fraud/1" >/dev/null 2>&1 ||
  { echo "FAIL: the uninterrupted training failed"; exit 1; }
total_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "uninterrupted run: ${total_ms} ms"

runs=20 n_write=0 n_sig_complete=0 n_sig_none=0 n_ok=0
for i in $(seq 0 $((runs - 1))); do
  sig=$([ $((i % 2)) -eq 0 ] && echo INT || echo TERM)
  repo="$T/r$i"
  mkdir -p "$repo/fraud"
  "$fraud" "${train_args[@]}" --out "$repo/fraud/1" >"$repo.out" 2>"$repo.err" &
  pid=$!
  if [ $((i % 4)) -lt 2 ]; then # at the write stage
    how="at the write stage"
    until grep -aq "writing the bundle" "$repo.err" || ! kill -0 $pid 2>/dev/null; do
      sleep 0.001
    done
    sleep "0.00$((RANDOM % 10))"
    n_write=$((n_write + 1))
  else
    ms=$(( total_ms * i / runs ))
    how="after ${ms} ms"
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  fi
  kill -s "$sig" $pid 2>/dev/null
  wait $pid 2>/dev/null; rc=$?
  left=$(ls -A "$repo/fraud" | grep -F '.tmp-' || true)
  msg=$(tr '\r' '\n' <"$repo.err" | grep -a '^fraud train: interrupted' || true)
  what="run $i (SIG$sig $how): exit $rc"
  if [ -n "$left" ]; then
    echo "FAIL: $what left a temporary directory: $left"; fail=1; continue
  fi
  case $rc in
  0)
    if complete "$repo/fraud/1"; then n_ok=$((n_ok + 1)); echo "ok: $what, bundle complete"
    else echo "FAIL: $what but the bundle is not complete"; fail=1; fi
    ;;
  130 | 143)
    want=$([ "$sig" = INT ] && echo 130 || echo 143)
    [ "$rc" = "$want" ] || { echo "FAIL: $what, expected $want for SIG$sig"; fail=1; continue; }
    if grep -q "the bundle $repo/fraud/1 is complete" <<<"$msg"; then
      if complete "$repo/fraud/1"; then n_sig_complete=$((n_sig_complete + 1)); echo "ok: $what: $msg"
      else echo "FAIL: $what says the bundle is complete, it is not: $msg"; fail=1; fi
    elif grep -q "no bundle was written" <<<"$msg"; then
      if [ ! -e "$repo/fraud/1" ]; then n_sig_none=$((n_sig_none + 1)); echo "ok: $what: $msg"
      else echo "FAIL: $what says no bundle was written, but $repo/fraud/1 exists: $msg"; fail=1; fi
    else
      echo "FAIL: $what without a message saying whether the bundle was written: $(tail -c 300 "$repo.err")"
      fail=1
    fi
    ;;
  *)
    echo "FAIL: $what (neither 0 nor death by the signal): $(tail -c 300 "$repo.err")"; fail=1
    ;;
  esac
done
echo "runs: $runs ($n_write at the write stage); exit 0 with the bundle $n_ok," \
     "interrupted with a complete bundle $n_sig_complete, interrupted with none $n_sig_none"
# The loop must have exercised both interrupted outcomes, or it proved little.
[ $n_sig_complete -gt 0 ] || { echo "FAIL: no run was interrupted during the write"; fail=1; }
[ $n_sig_none -gt 0 ] || { echo "FAIL: no run was interrupted before the write"; fail=1; }
exit $fail
