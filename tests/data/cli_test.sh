#!/bin/sh
# cli_test.sh - drives the data module's subcommands through the real `fraud`
# binary: exit codes (0 ok, 1 failure, 2 usage), --help, and the report forms.
# ctest passes FRAUD_BIN and FRAUD_FIXTURES (tests/CMakeLists.txt).
set -u
fail=0
check() { # expected-status description command...
  want=$1; what=$2; shift 2
  out=$("$@" 2>&1); got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, want $want"; echo "$out" | head -20; fail=1
  fi
  LAST=$out
}
contains() { # text description
  case "$LAST" in *"$1"*) ;; *) echo "FAIL: $2: output lacks '$1'"; echo "$LAST" | head -20; fail=1 ;; esac
}
F=$FRAUD_FIXTURES/data/csv
B=$FRAUD_BIN

check 0 "validate --help" "$B" validate --help
contains "usage: fraud validate" "help text"
check 2 "validate without schema" "$B" validate "$F/plain.csv"
check 2 "validate without data" "$B" validate --schema "$F/mini.yaml"
check 2 "validate bad policy" "$B" validate --schema "$F/mini.yaml" --on-bad-row=maybe "$F/plain.csv"
check 2 "validate unknown option" "$B" validate --bogus "$F/plain.csv"
check 0 "validate clean" "$B" validate --schema "$F/mini.yaml" "$F/plain.csv"
contains "result: PASS" "clean report"
check 1 "validate offences" "$B" validate --schema "$F/mini.yaml" "$F/checks.csv"
contains "FAIL  amt: min" "min failure"
contains "line 3" "example line"
contains "bad row: $F/checks.csv:5:5: column 'amt': cannot parse 'x' as a number" "bad row message"
check 1 "validate json" "$B" validate --schema "$F/mini.yaml" --json "$F/checks.csv"
contains '"passed": false' "json verdict"
check 1 "validate unknown schema" "$B" validate --schema nosuch "$F/plain.csv"
contains "unknown schema 'nosuch'" "unknown schema message"
check 1 "validate missing file" "$B" validate --schema "$F/mini.yaml" "$F/does-not-exist.csv"
check 1 "validate empty file" "$B" validate --schema "$F/mini.yaml" "$F/empty.csv"
contains "empty file" "empty file message"
check 1 "validate header only" "$B" validate --schema "$F/mini.yaml" "$F/header_only.csv"
contains "FAIL  rows" "header-only fails the rows check"
check 0 "validate ulb slice" "$B" validate --schema ulb "$FRAUD_FIXTURES/data/ulb_slice.csv"

T=$(mktemp -d)
check 0 "generate --help" "$B" generate --help
contains "usage: fraud generate" "generate help"
check 2 "generate bad rate" "$B" generate --fraud-rate 2 -o "$T/x.csv"
check 2 "generate bad rows" "$B" generate --rows abc -o "$T/x.csv"
check 2 "generate unknown option" "$B" generate --colour red
check 0 "generate to file" "$B" generate --rows 3000 --cards 200 --merchants 100 --seed 7 -o "$T/g.csv"
check 0 "generate to stdout" sh -c "'$B' generate --rows 3000 --cards 200 --merchants 100 --seed 7 > '$T/s.csv'"
cmp -s "$T/g.csv" "$T/s.csv" || { echo "FAIL: stdout and -o differ"; fail=1; }
[ "$(wc -l < "$T/g.csv")" -eq 3001 ] || { echo "FAIL: generate row count"; fail=1; }
check 0 "generate gz" "$B" generate --rows 3000 --cards 200 --merchants 100 --seed 7 -o "$T/g.csv.gz"
gzip -dc "$T/g.csv.gz" | cmp -s - "$T/g.csv" || { echo "FAIL: gz differs from plain"; fail=1; }
check 0 "validate generated" "$B" validate --schema synthetic "$T/g.csv.gz"
check 1 "generate unwritable" "$B" generate --rows 10 -o /nonexistent/dir/x.csv
contains "cannot create" "unwritable message"
check 0 "drift --help" "$B" drift --help
check 2 "drift one file" "$B" drift --schema synthetic "$T/g.csv"
check 2 "drift no schema" "$B" drift "$T/g.csv" "$T/g.csv"
check 0 "drift same file" "$B" drift --schema synthetic "$T/g.csv" "$T/g.csv.gz"
contains "no significant drift" "drift verdict"
check 0 "drift json" "$B" drift --schema synthetic --json "$T/g.csv" "$T/g.csv"
contains '"label_rate_shift"' "drift json"
check 1 "drift significant" "$B" drift --schema ulb "$F/../ulb_slice.csv" "$FRAUD_FIXTURES/../../data/samples/ulb/creditcard.csv.gz"
contains "significant" "significant drift"
check 1 "drift empty" "$B" drift --schema "$F/mini.yaml" "$F/plain.csv" "$F/empty.csv"
contains "empty file" "empty message"
check 1 "drift header only" "$B" drift --schema "$F/mini.yaml" "$F/plain.csv" "$F/header_only.csv"
contains "no data rows" "header-only message"
rm -rf "$T"
exit $fail
