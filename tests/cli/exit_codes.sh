#!/usr/bin/env bash
# Exit codes and messages of fraud features/train/evaluate/predict on bad
# input: 2 for usage errors, 1 for runtime failures with a message naming the
# file, and nothing written where nothing should be.
set -u
F=$1
S=${FRAUD_SOURCE_DIR:?}
. "$(dirname "$0")/lib.sh" # T, fail, expect
SP=$S/tests/fixtures/data/paysim_slice.csv
expect 0 "usage: fraud train" -- "$F" train --help
expect 2 "unknown command" -- "$F" trian
expect 2 "missing DATA" -- "$F" train --schema paysim --out "$T/m"
expect 2 "--schema is required" -- "$F" train --out "$T/m" "$SP"
expect 2 "--max-depth takes an integer" -- "$F" train --schema paysim --out "$T/m" --max-depth x "$SP"
expect 2 "unknown or incomplete option" -- "$F" train --schema paysim --out "$T/m" --bogus "$SP"
expect 1 "no-such.csv" -- "$F" train --schema paysim --out "$T/m" "$T/no-such.csv"
expect 1 "unknown schema|not found" -- "$F" train --schema nosuch --out "$T/m" "$SP"
[ -e "$T/m" ] && { echo "FAIL: a failed train left $T/m behind"; fail=1; }
printf 'step,type,amount,nameOrig,oldbalanceOrg,newbalanceOrig,nameDest,oldbalanceDest,newbalanceDest,isFraud,isFlaggedFraud\n1,PAYMENT,abc,C1,0,0,M1,0,0,0,0\n' > "$T/bad.csv"
expect 1 "bad.csv:2:3: column 'amount'" -- "$F" features --schema paysim "$T/bad.csv" -o "$T/f.csv"
[ -e "$T/f.csv" ] && { echo "FAIL: a failed features run wrote output"; fail=1; }
expect 2 "--model or|--schema or --model" -- "$F" features "$SP" -o "$T/f.csv"
expect 2 "-o OUT.csv is required" -- "$F" predict --model "$T/m" "$SP"
expect 1 "no such bundle|manifest" -- "$F" predict --model "$T/nothing" "$SP" -o "$T/p.csv"
expect 1 "no such bundle|manifest" -- "$F" evaluate --model "$T/nothing" "$SP"
# Contradictory or out-of-range numeric flags are usage errors naming the
# flags, found before any data is read.
expect 2 "--valid-fraction 0.6 and --test-fraction 0.6" -- "$F" train --schema paysim --out "$T/m" --valid-fraction 0.6 --test-fraction 0.6 "$SP"
expect 2 "--valid-fraction must be in" -- "$F" train --schema paysim --out "$T/m" --valid-fraction 0 "$SP"
expect 2 "--test-fraction must be in" -- "$F" train --schema paysim --out "$T/m" --test-fraction 1.5 "$SP"
expect 2 "--valid-fraction 0.5 and --test-fraction 0.5" -- "$F" tune --schema paysim --space "$T/s.yaml" --out "$T/m" --valid-fraction 0.5 --test-fraction 0.5 "$SP"
expect 2 "--version and --out disagree" -- "$F" train --schema paysim --out "$T/models/paysim/2" --version 3 "$SP"
expect 2 "--name and --out disagree" -- "$F" tune --schema paysim --space "$T/s.yaml" --out "$T/models/paysim/2" --name other "$SP"
[ -e "$T/m" ] || [ -e "$T/models" ] && { echo "FAIL: a refused train left output behind"; fail=1; }
expect 2 "--weight is a fraction of cards in \(0, 1\]" -- "$F" models canary --repository "$T" sparkov 2 --weight 2
expect 2 "--weight is a fraction" -- "$F" models canary --repository "$T" sparkov 2 --weight -0.1
expect 2 "--top takes an integer" -- "$F" explain --model "$T/nothing" -k 0 "$SP"
expect 2 "--calibration-bins takes an integer" -- "$F" evaluate --model "$T/nothing" --calibration-bins 0 "$SP"
expect 2 "costs must be finite" -- "$F" evaluate --model "$T/nothing" --review-cost -1 "$SP"
expect 2 "--min-rounds 100 is more than --max-rounds 10" -- "$F" tune --schema paysim --space "$T/s.yaml" --out "$T/m" --min-rounds 100 --max-rounds 10 "$SP"
expect 2 "--duration: .*at most 30d" -- "$F" loadgen --endpoint http://127.0.0.1:9/ --duration 40d
expect 2 "--warmup: .*at most 30d" -- "$F" loadgen --endpoint http://127.0.0.1:9/ --warmup 40d
exit $fail
