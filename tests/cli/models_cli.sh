#!/usr/bin/env bash
# `fraud models` on a repository of bare XGBoost models (the fixture
# tests/fixtures/serve/xgb_small.json, made by make_fixture.py): the review
# findings on the release commands, each checked against the exit code and
# message the docs promise (docs/server.md "Releases", docs/bundle.md) and
# against stages.json as Debian's python3 json reads it.
set -u
F=$(realpath "$1")
S=${FRAUD_SOURCE_DIR:?}
PY=/usr/bin/python3
. "$(dirname "$0")/lib.sh" # T, fail, expect
MODEL=$S/tests/fixtures/serve/xgb_small.json
R=$T/repo
version() { mkdir -p "$R/$1/$2" && cp "$MODEL" "$R/$1/$2/xgboost.json"; }
stage() { $PY -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))" "$R/$1/stages.json" "$2"; }

# models list on a stages.json that does not parse: exit 1 naming the file,
# line and column (jansson's), after listing what it can.
version fil 1
version good 1
printf '{\n  "production": "1",\n  oops\n}\n' >"$R/fil/stages.json"
expect 1 "$R/fil/stages.json:3:[0-9]+: " -- "$F" models list --repository "$R"
out=$("$F" models list --repository "$R" 2>/dev/null)
grep -qE '^good +1 ' <<<"$out" && ok=1 || ok=0
[ $ok = 1 ] && echo "ok: the other models are still listed" || { echo "FAIL: list output: $out"; fail=1; }
expect 1 "stages.json:3:" -- "$F" models list --repository "$R" --json
rm "$R/fil/stages.json"
expect 0 "" -- "$F" models list --repository "$R"

# models show / diff of a version or model that is not there: named as such,
# exit 1, like the release commands (not "REPO/good/99/manifest.json: no
# manifest"); a bare version that is there has no manifest, and says so.
expect 1 "^fraud models: model 'good' has no version '99' in $R\$" -- "$F" models show --repository "$R" good 99
expect 1 "^fraud models: model 'good' has no version '99' in $R\$" -- "$F" models diff --repository "$R" good 1 99
expect 1 "^fraud models: model 'good' has no version '98' in $R\$" -- "$F" models diff --repository "$R" good 98 1
expect 1 "^fraud models: model 'nosuch' not found in repository $R\$" -- "$F" models show --repository "$R" nosuch 1
expect 1 "invalid version name '\.\./good'" -- "$F" models show --repository "$R" fil ../good
expect 1 "no manifest \(a bare model file" -- "$F" models show --repository "$R" good 1
expect 1 "not found" -- "$F" models promote --repository "$R" good 99

# Number flags with blanks around the number (a quoting mistake) are usage
# errors naming the flag, not read as the number (fr_parse_double alone
# allows surrounding blanks, as CSV cells need).
expect 2 "--weight is a fraction of cards in \\(0, 1\\], not ' 0.5'" -- "$F" models canary --repository "$R" good 1 --weight ' 0.5'
expect 2 "--weight is a fraction of cards in \\(0, 1\\], not '0.5 '" -- "$F" models canary --repository "$R" good 1 --weight '0.5 '
expect 2 "--weight" -- "$F" models canary --repository "$R" good 1 --weight ''
expect 2 "--top takes an integer .* not ' 3'" -- "$F" explain --top ' 3' --model "$R/good/1" /dev/null

exit $fail
