# Shared by the CLI test scripts (sourced, not run): a temporary directory T
# removed at exit, the failure flag `fail`, `ok` / `bad` (print a check's
# result; `bad` sets fail), `expect`, which runs a command and checks its
# exit code and (optionally) a pattern in its output, and `train_paysim`.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
expect() { # expect CODE PATTERN -- command...
  local code=$1 pat=$2; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$code" ]; then
    echo "FAIL: '$*' exited $rc, expected $code: $out"; fail=1; return
  fi
  if [ -n "$pat" ] && ! grep -qE -- "$pat" <<<"$out"; then
    echo "FAIL: '$*' output lacks /$pat/: $out"; fail=1; return
  fi
  echo "ok: $* -> $rc"
}
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
train_paysim() { # train_paysim FRAUD DIR: a 10-tree PaySim bundle in DIR
  "$1" train --schema paysim --n-estimators 10 --early-stopping 0 --nthread 1 --quiet \
    --out "$2" "$FRAUD_SOURCE_DIR/data/samples/paysim/paysim.csv.gz"
}
