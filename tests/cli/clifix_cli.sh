#!/usr/bin/env bash
# Findings of a newcomer review of the offline commands, each checked
# against values worked out by hand from the input files: transaction ids
# after skipped rows, unlabelled batch scoring, the feature spec's refusal of
# the label, card-number masking of the program's own numbers, the
# repository-layout check of evaluate --save-thresholds, non-binary bundle
# objectives, outputs that would overwrite an input or a bundle, multi-document
# YAML, generate's event-time range, write-error reasons, and exit codes of
# usage errors.
set -u
F=$(realpath "$1")
S=${FRAUD_SOURCE_DIR:?}
PY=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
PAYSIM=$S/data/samples/paysim/paysim.csv.gz
train_paysim "$F" "$T/models/paysim/1" || { echo "FAIL: train paysim"; exit 1; }
P=$T/models/paysim/1

# 1. Without an id column the id is the data row number, skipped rows
# included: data row 3 of six has a bad amount, so the ids are 1 2 4 5 6.
zcat "$PAYSIM" | head -7 >p.csv
awk -F, 'BEGIN{OFS=","} NR==4{$3="abc"}1' p.csv >pbad.csv
for cmd in predict features explain; do
  ids=$("$F" $cmd --model "$P" --on-bad-row skip pbad.csv -o - 2>/dev/null | tail -n +2 | cut -d, -f1 | tr '\n' ' ')
  [ "$ids" = "1 2 4 5 6 " ] && ok "$cmd --on-bad-row skip: ids 1 2 4 5 6" ||
    bad "$cmd --on-bad-row skip: ids '$ids', expected '1 2 4 5 6 '"
done
# The kept rows score as in the clean file (same id, same probability).
"$F" predict --model "$P" p.csv -o clean.csv 2>/dev/null
"$F" predict --model "$P" --on-bad-row skip pbad.csv -o skip.csv 2>/dev/null
[ "$(grep -v '^3,' clean.csv)" = "$(cat skip.csv)" ] && ok "skipped file scores = clean file minus row 3" ||
  bad "skip.csv differs from clean.csv minus row 3: $(diff clean.csv skip.csv)"

# 2. Scoring needs no label: each shipped schema's sample, 200 lines, with
# and without its label column, gives the same bytes from predict and
# explain, and the same features (label column empty) from features --model; evaluate and train still require the label.
for sc in sparkov:sparkov/sparkov_windows:is_fraud ulb:ulb/creditcard:Class paysim:paysim/paysim:isFraud; do
  IFS=: read -r n f l <<<"$sc"
  [ -d "$T/models/$n/1" ] || "$F" train --schema "$n" --n-estimators 10 --early-stopping 0 \
    --nthread 1 --quiet --out "$T/models/$n/1" "$S/data/samples/$f.csv.gz" || bad "train $n"
  zcat "$S/data/samples/$f.csv.gz" | head -200 >"$n.csv"
  $PY -c "
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
i = rows[0].index(sys.argv[2])
w = csv.writer(open(sys.argv[3], 'w', newline=''), lineterminator='\n')
for r in rows:
    w.writerow(r[:i] + r[i + 1:])" "$n.csv" "$l" "${n}_nolabel.csv"
  head -1 "${n}_nolabel.csv" | grep -q "$l" && bad "$n: label column $l not removed"
  for cmd in predict explain features; do
    "$F" $cmd --model "$T/models/$n/1" "$n.csv" -o "with.csv" 2>/dev/null || bad "$cmd $n.csv"
    out=$("$F" $cmd --model "$T/models/$n/1" "${n}_nolabel.csv" -o "without.csv" 2>&1) ||
      bad "$cmd on $n without $l: $out"
    if [ $cmd = features ]; then
      # The last column, label, is empty (missing) without the label.
      [ "$(tail -n +2 without.csv | sed 's/,[^,]*$//')" = "$(tail -n +2 with.csv | sed 's/,[^,]*$//')" ] &&
        [ -z "$(tail -n +2 without.csv | sed 's/.*,//' | tr -d '\n')" ] && head -1 with.csv >with.h &&
        head -1 without.csv | cmp -s - with.h &&
        ok "features $n: same features without $l, label column empty" ||
        bad "features $n: features differ without $l (or its label column is not empty)"
      continue
    fi
    cmp -s with.csv without.csv && ok "$cmd $n: same output without the label column $l" ||
      bad "$cmd $n: output differs without $l"
  done
  expect 1 "missing column '$l' required by schema '$n'" -- \
    "$F" evaluate --model "$T/models/$n/1" "${n}_nolabel.csv"
done
expect 1 "missing column 'isFraud' required by schema 'paysim'" -- \
  "$F" train --schema paysim --quiet --out "$T/nolabel" paysim_nolabel.csv
expect 1 "missing column 'isFraud' required by schema 'paysim'" -- \
  "$F" features --schema paysim paysim_nolabel.csv -o x.csv

# 4. Masking leaves the program's numbers alone: validate's rate of the
# Sparkov windows sample (53 of 13109 = 0.004043023877 to 10 digits, and
# 1 - 13109 / 13109 missing = 0), generate's range 1 .. 2^63 - 1; the
# user's card-like value is still masked.
W=$S/data/samples/sparkov/sparkov_windows.csv.gz
expect 0 "53 positive of 13109 labelled rows: rate 0\.004043023877 \(allowed" -- \
  "$F" validate --schema sparkov "$W"
out=$("$F" validate --json --schema sparkov "$W" 2>&1)
grep -q '"detail": "53 positive of 13109 labelled rows: rate 0.004043023877 (allowed 0.0001 .. 0.95)"' <<<"$out" &&
  ok "validate --json: rate not masked" || bad "validate --json detail: $(grep -o '"detail": "[^"]*rate [^"]*"' <<<"$out" | head -2)"
expect 2 "from 1 to 9223372036854775807, not '\*{19}1111'" -- \
  "$F" generate --rows 41111111111111111111111 -o g.csv
expect 2 "not '\*{12}1111'" -- "$F" predict --model "$P" p.csv -o - --on-bad-row 4111111111111111

# 5. evaluate --save-thresholds checks a repository path against the
# bundle's name (paysim) and the version, as train --out does.
expect 2 "name 'paysim' disagrees with .*models/other/5" -- \
  "$F" evaluate --model "$P" --save-thresholds "$T/models/other/5" paysim.csv
[ -e "$T/models/other/5" ] && bad "models/other/5 written"
expect 2 "version '8' disagrees with .*models/paysim/7" -- \
  "$F" evaluate --model "$P" --save-thresholds "$T/models/paysim/7" --version 8 paysim.csv
[ -e "$T/models/paysim/7" ] && bad "models/paysim/7 written"
expect 0 "" -- "$F" evaluate --model "$P" --save-thresholds "$T/models/paysim/2" paysim.csv
[ "$($PY -c "import json,sys; m=json.load(open(sys.argv[1])); print(m['name'] + '/' + m['version'])" \
  "$T/models/paysim/2/manifest.json")" = paysim/2 ] && ok "models/paysim/2 is paysim/2" ||
  bad "models/paysim/2's manifest does not name paysim/2"

# 6. A bundle whose objective is not binary:logistic (model.json edited to
# reg:squarederror, its manifest checksum updated) is refused at load by
# every scoring path.
cp -r "$P" "$T/sqerr"
$PY - "$T/sqerr" <<'PYEOF'
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "model.json")))
m["learner"]["objective"]["name"] = "reg:squarederror"
raw = json.dumps(m).encode()
open(os.path.join(d, "model.json"), "wb").write(raw)
man = json.load(open(os.path.join(d, "manifest.json")))
man["files"]["model.json"] = {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
json.dump(man, open(os.path.join(d, "manifest.json"), "w"))
PYEOF
for cmd in predict explain features; do
  expect 1 "objective is reg:squarederror, not binary:logistic" -- "$F" $cmd --model "$T/sqerr" p.csv -o x.csv
done
expect 1 "objective is reg:squarederror, not binary:logistic" -- "$F" evaluate --model "$T/sqerr" p.csv

# 7. An output that is an input, inside the --model version directory, or
# empty is a usage error, and nothing is written.
cp -r "$P" "$T/v1"
sum_before=$(cat "$T"/v1/* | sha256sum)
expect 2 "lies inside the model directory" -- "$F" export onnx --model "$T/v1" -o "$T/v1/model.json"
expect 2 "lies inside the model directory" -- "$F" export onnx --model "$T/v1/model.json" -o "$T/v1/new.onnx"
expect 2 "is the model file" -- "$F" export onnx --model "$T/v1/model.json" -o "$T/v1/../v1/model.json"
expect 2 "lies inside the model directory" -- "$F" predict --model "$T/v1" p.csv -o "$T/v1/out.csv"
[ "$(cat "$T"/v1/* | sha256sum)" = "$sum_before" ] && [ ! -e "$T/v1/out.csv" ] && [ ! -e "$T/v1/new.onnx" ] &&
  ok "the version directory is unchanged" || bad "the version directory changed"
cp p.csv in.csv
ln -s in.csv link.csv
for cmd in predict explain features; do
  expect 2 "is the input" -- "$F" $cmd --model "$P" in.csv -o in.csv
  expect 2 "is the input" -- "$F" $cmd --model "$P" in.csv -o link.csv
  expect 2 "output path is empty" -- "$F" $cmd --model "$P" in.csv -o ''
done
cmp -s in.csv p.csv && ok "the input is unchanged" || bad "the input was overwritten"
"$F" features --model "$P" p.csv -o m.csv 2>/dev/null
expect 2 "is the input" -- "$F" predict --model "$P/model.json" --features m.csv -o m.csv
expect 2 "output path is empty" -- "$F" generate --rows 10 -o ''
expect 2 "output path is empty" -- "$F" export onnx --model "$P" -o ''

# 8. A second YAML document is refused at its line, in every YAML file.
printf 'eta: 0.1\n---\neta: 0.9\n' >params2.yaml
expect 1 "params2.yaml:2:1: a second YAML document" -- \
  "$F" train --schema paysim --params params2.yaml --quiet --out "$T/p2" p.csv
printf 'server:\n  port: 8080\n---\nserver:\n  port: abc\n' >cfg2.yaml
out=$("$F" serve --config cfg2.yaml --print-config 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "cfg2.yaml:3:1: a second YAML document" <<<"$out" &&
  ok "serve --config: second document refused (exit $rc)" || bad "serve --config cfg2.yaml: exit $rc: $out"

# 9. generate refuses a start + days past 2262-04-11T23:47:16Z (the last
# event time the reader accepts); 2262-04-10 + 1 day is inside and parses.
expect 2 "ends after 2262-04-11T23:47:16Z" -- \
  "$F" generate --start 2262-03-01T00:00:00Z --days 365 -o gen.csv
[ -e gen.csv ] && bad "gen.csv written"
expect 0 "" -- "$F" generate --start 2262-04-10T00:00:00Z --days 1 --rows 200 -o gen.csv
# (the reader parses every row; the schema's own 1970 .. 2100 check fails)
expect 1 "200 rows read, 0 bad" -- "$F" validate --schema synthetic gen.csv

# 10. Write errors name the errno of the write that failed: /dev/full
# (through a link here) fails every write with ENOSPC, "No space left on
# device" (strerror).
ln -s /dev/full full
ENOSPC_MSG="No space left on device"
expect 1 "standard output: write failed: $ENOSPC_MSG" -- sh -c "'$F' train --schema paysim \
  --n-estimators 5 --early-stopping 0 --nthread 1 --out '$T/tfull' '$PAYSIM' >full"
expect 1 "standard output: .*$ENOSPC_MSG" -- sh -c "'$F' validate --json --schema sparkov '$W' >full"
expect 1 "standard output: write failed: $ENOSPC_MSG" -- sh -c "'$F' predict --model '$P' paysim.csv -o - >full"
expect 1 "standard output: write failed: $ENOSPC_MSG" -- sh -c "'$F' explain --model '$P' paysim.csv -o - >full"
mkdir wt && ln -s /dev/full wt/full.csv
expect 1 "wt/full.csv: write: $ENOSPC_MSG" -- "$F" tune --schema paysim \
  --space "$S/tune-space.example.yaml" --out "$T/tufull" --log wt/full.csv --max-trials 1 "$PAYSIM"

# 11. Usage errors exit 2: --min-rounds above the space's maximum (30 in
# this space), an unknown stage, a Triton version 0 or a name that is not a
# directory name.
printf 'eta: {low: 0.05, high: 0.3}\nn_estimators: {low: 10, high: 30}\n' >space30.yaml
expect 2 "min-rounds 50 is more than the maximum rounds 30" -- "$F" tune --schema paysim \
  --space space30.yaml --out "$T/tu30" --min-rounds 50 "$PAYSIM"
[ -e "$T/tu30" ] && bad "tune wrote $T/tu30"
expect 2 "--stage takes production or staging, not 'prod'" -- \
  "$F" models promote --repository "$T/models" paysim 1 --stage prod
expect 2 "field 'version': '0' is not a positive integer" -- \
  "$F" export triton --model "$P" --out "$T/triton" --version 0
expect 2 "field 'name': '../escape' is not a model directory name" -- \
  "$F" export triton --model "$P" --out "$T/triton" --name ../escape
[ -e "$T/triton" ] && bad "export triton wrote $T/triton"

# 12. Every repository path the docs name exists (a shipped sample is
# .csv.gz, not .csv).  Paths are those under the source tree's top folders;
# SCHEMA and other capitals are placeholders; deploy/fraud-* are kubectl's
# resource names (deploy/fraud-server), not paths.
missing=$(cd "$S" && grep -ohE "(^|[^A-Za-z0-9_./-])(data/samples|schemas|tests/fixtures|deploy|bench|scripts)/[A-Za-z0-9_./-]*[A-Za-z0-9]" \
  docs/*.md README.md | sed -E 's/^[^a-z]//' | grep -v '[A-Z]' | grep -v '^deploy/fraud-' | sort -u | while read -r p; do
    [ -e "$p" ] || echo "$p"; done)
[ -z "$missing" ] && ok "every path the docs name exists" || bad "docs name missing paths: $missing"

exit $fail
