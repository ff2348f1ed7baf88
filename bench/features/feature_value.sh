#!/usr/bin/env bash
# The value of the entity features: the same model (same rows, split, seed
# and training budget: a fixed number of boosting rounds, no early stopping)
# trained with the stateless features only and with the default spec
# (stateless + entity features), on the bundled Sparkov sample and on
# generated data; prints the test-slice PR-AUC (average precision) and
# ROC-AUC that `fraud train` computes, as a Markdown table.
#
# usage: bench/features/feature_value.sh BUILD_DIR [ROWS]   (ROWS of
# generated data, default 300000)
set -euo pipefail
BUILD=${1:?usage: feature_value.sh BUILD_DIR [ROWS]}
ROWS=${2:-300000}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
FRAUD="$BUILD/fraud"
WORK=$(mktemp -d /tmp/fraud-feature-value-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
TREES=300

"$FRAUD" generate --rows "$ROWS" --seed 11 -o "$WORK/synthetic.csv" 2>/dev/null

metric() { # bundle key
  /usr/bin/python3 -c 'import json,sys
m = json.load(open(sys.argv[1] + "/manifest.json"))["metrics"]["test"]
print(m[sys.argv[2]])' "$1" "$2"
}

echo "| data | test rows | test frauds | features | PR-AUC | ROC-AUC |"
echo "|---|---|---|---|---|---|"
run() { # label schema data valid test spec-label spec
  local out="$WORK/m-$RANDOM"
  "$FRAUD" train --schema "$2" --spec "$7" --out "$out" --n-estimators $TREES \
    --early-stopping 0 --seed 1 --nthread 2 --valid-fraction "$4" \
    --test-fraction "$5" --quiet "$3"
  printf '| %s | %s | %s | %s | %.4f | %.4f |\n' "$1" "$(metric "$out" rows)" \
    "$(metric "$out" positives)" "$6" "$(metric "$out" pr_auc)" "$(metric "$out" roc_auc)"
}
# Sparkov: the windows file (complete per-card histories); the latest 35 %
# of rows as the test slice so that it holds more than a handful of frauds.
SP="$SRC/data/samples/sparkov/sparkov_windows.csv.gz"
run "Sparkov windows" sparkov "$SP" 0.2 0.35 "stateless only" "$HERE/sparkov.stateless.yaml"
run "Sparkov windows" sparkov "$SP" 0.2 0.35 "stateless + entity" "$SRC/schemas/sparkov.features.yaml"
SY="$WORK/synthetic.csv"
run "generated ($ROWS rows, seed 11)" synthetic "$SY" 0.15 0.15 "stateless only" "$HERE/synthetic.stateless.yaml"
run "generated ($ROWS rows, seed 11)" synthetic "$SY" 0.15 0.15 "stateless + entity" "$SRC/schemas/synthetic.features.yaml"
echo
echo "(fraud train: $TREES boosting rounds, max depth 6, eta 0.1, seed 1, split by event time)"
