#!/usr/bin/env bash
# Findings of a newcomer review of the CLI: write errors on outputs that are
# not regular files, flag checks, card numbers in error messages and the
# exit codes of configuration errors.  Exit 0 when every check holds.
set -u
F=$1
S=${FRAUD_SOURCE_DIR:?}
. "$(dirname "$0")/lib.sh" # T, fail, expect
SP=$S/tests/fixtures/data/paysim_slice.csv
DATA=$S/data/samples/sparkov/sparkov_windows.csv.gz
SS=$S/tests/fixtures/data/sparkov_slice.csv

# ---- outputs: a write error is a failure naming the output ----
# $T/full is a symbolic link to /dev/full (every write fails with ENOSPC).
# Through a link, a writer that renames a temporary file over its output
# replaces the link, not the device, so the test is safe even on the code
# it guards against.
ln -s /dev/full "$T/full"
"$F" train --schema sparkov --out "$T/m" --n-estimators 5 --early-stopping 0 --nthread 1 \
  --quiet "$DATA" || { echo "FAIL: train"; exit 1; }
expect 1 "$T/full: write failed: No space left" -- "$F" predict --model "$T/m" "$SS" -o "$T/full"
expect 1 "$T/full: write failed: No space left" -- "$F" features --model "$T/m" "$SS" -o "$T/full"
expect 1 "$T/full: write failed: No space left" -- "$F" explain --model "$T/m" "$SS" -o "$T/full"
expect 1 "$T/full: write failed: No space left" -- "$F" generate --rows 50 -o "$T/full"
expect 1 "$T/full: write failed: No space left" -- "$F" export onnx --model "$T/m" -o "$T/full"
expect 1 "standard output" -- sh -c "\"$F\" validate --schema paysim --json \"$SP\" > \"$T/full\""
expect 1 "standard output" -- sh -c "\"$F\" validate --schema paysim \"$SP\" > \"$T/full\""
expect 1 "standard output" -- sh -c "\"$F\" predict --model \"$T/m\" \"$SS\" -o - > \"$T/full\""
expect 1 "standard output" -- sh -c "\"$F\" models list --repository \"$T\" > \"$T/full\""
[ -L "$T/full" ] || { echo "FAIL: a writer replaced the output link $T/full"; fail=1; }
# A device is written in place, not replaced: /dev/null takes it all.
ln -s /dev/null "$T/null"
expect 0 "" -- "$F" predict --model "$T/m" "$SS" -o "$T/null"
[ -L "$T/null" ] || { echo "FAIL: predict replaced the output link $T/null"; fail=1; }
# A FIFO: the reader gets the rows, and nothing is renamed over it.
mkfifo "$T/fifo"
cat "$T/fifo" > "$T/fifo.out" &
expect 0 "" -- "$F" predict --model "$T/m" "$SS" -o "$T/fifo"
wait
[ -p "$T/fifo" ] || { echo "FAIL: predict replaced the FIFO"; fail=1; }
"$F" predict --model "$T/m" "$SS" -o "$T/p.csv" 2>/dev/null
cmp -s "$T/fifo.out" "$T/p.csv" || { echo "FAIL: the FIFO's reader got other rows"; fail=1; }

# ---- flags: refused up front, naming the flag ----
for w in -5 0 inf nan; do
  expect 2 "--scale-pos-weight must be a finite number > 0, not '$w'" -- \
    "$F" train --schema sparkov --out "$T/w" --scale-pos-weight "$w" "$DATA"
done
[ -e "$T/w" ] && { echo "FAIL: a refused train left $T/w"; fail=1; }
expect 2 "--review-cost must be a finite number >= 0" -- \
  "$F" evaluate --model "$T/m" --review-cost -1 "$SS"
expect 2 "--decline-cost must be a finite number >= 0" -- \
  "$F" evaluate --model "$T/m" --decline-cost inf "$SS"

# ---- no command prints a full card number from a data cell ----
# A test card number (4111 1111 1111 1111, Luhn-valid) in the amount column
# (a parse error) and in the category column (the allowed check's "first").
/usr/bin/python3 - "$SS" "$T" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
h = rows[0]
def write(name, col, value):
    r = list(rows[1]); r[h.index(col)] = value
    with open(sys.argv[2] + "/" + name, "w", newline="") as f:
        csv.writer(f).writerows([h, r] + rows[2:6])
write("pan_amt.csv", "amt", "4111 1111 1111 1111")
write("pan_cat.csv", "category", "4111111111111111")
PY
nopan() { # nopan CODE PATTERN -- command...: as expect, and no full PAN in the output
  local code=$1 pat=$2; shift 3
  local out
  out=$("$@" 2>&1)
  if grep -qE "4111 ?1111 ?1111 ?1111" <<<"$out"; then
    echo "FAIL: '$*' printed a full card number: $out"; fail=1
  fi
  expect "$code" "$pat" -- "$@"
}
nopan 1 "column 'amt': cannot parse '\*\*\*\* \*\*\*\* \*\*\*\* 1111'" -- \
  "$F" features --schema sparkov "$T/pan_amt.csv" -o "$T/f.csv"
nopan 1 "column 'amt': cannot parse" -- "$F" predict --model "$T/m" "$T/pan_amt.csv" -o "$T/p2.csv"
nopan 1 "bad row: .*cannot parse '\*\*\*\*" -- "$F" validate --schema sparkov "$T/pan_amt.csv"
nopan 1 "first: '\*{12}1111'" -- "$F" validate --schema sparkov "$T/pan_cat.csv"
nopan 1 "first: '\*{12}1111'" -- "$F" validate --schema sparkov --json "$T/pan_cat.csv"

# ---- serve configuration errors: exit 2, naming the key ----
mkdir -p "$T/repo"
expect 2 "server.listen: '999.1.1.1' is not a numeric" -- \
  "$F" serve --listen 999.1.1.1 --port 0 --no-admin --model-repository "$T/repo"
printf 'server:\n  port: 1\n  port: 2\n' > "$T/dup.yaml"
expect 2 "dup.yaml:3:3: duplicate key 'port'" -- \
  "$F" serve --config "$T/dup.yaml" --model-repository "$T/repo" --print-config
printf 'server:\n  prot: 1\n' > "$T/unk.yaml"
expect 2 "unk.yaml:2:1: unknown key 'prot'" -- \
  "$F" serve --config "$T/unk.yaml" --model-repository "$T/repo" --print-config

# ---- evaluate --test-slice on a file with no row in the recorded slice ----
# $T/m was trained on sparkov_windows (later event times); the slice
# fixture's rows are all in 2012, before the recorded test_start_time.
expect 1 "no rows in the test slice: it starts at the bundle's recorded test_start_time [0-9T:-]+Z, and none of the file's 300 rows \(the newest at 2012-01-01T05:19:28Z\) falls in it" -- \
  "$F" evaluate --model "$T/m" --test-slice "$SS"
expect 1 "no rows in the validation slice: it starts at the bundle's recorded valid_start_time" -- \
  "$F" evaluate --model "$T/m" --valid-slice "$SS"

exit $fail
