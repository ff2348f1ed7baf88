#!/usr/bin/env bash
# `fraud version` names every library it uses with the version that library
# has here, checked against independent sources: pkg-config's .pc files,
# Debian's package versions (dpkg-query) for the libraries without one
# (libcsv, http-parser), XGBoost's Python package (python3-xgboost loads the
# same libxgboost), and the source tree's git commit.
set -u
F=$1
S=${FRAUD_SOURCE_DIR:?}
fail=0
text=$("$F" version) || { echo "FAIL: fraud version exited $?"; exit 1; }
json=$("$F" version --json) || { echo "FAIL: fraud version --json exited $?"; exit 1; }
check() { # check NAME VERSION: a text line "  NAME  VERSION" and libraries.NAME in --json
  local name=$1 want=$2
  if [ -z "$want" ]; then
    echo "FAIL: no reference version for $name"; fail=1; return
  fi
  if ! grep -qE "^  $name +$want( |\$)" <<<"$text"; then
    echo "FAIL: '$name $want' not in: $text"; fail=1; return
  fi
  if [ "$(/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['libraries']['$name'])" <<<"$json")" != "$want" ]; then
    echo "FAIL: --json libraries.$name is not $want"; fail=1; return
  fi
  echo "ok: $name $want"
}
pc() { pkg-config --modversion "$1"; }
deb() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null | sed 's/[+~-].*//'; }
check libmicrohttpd "$(pc libmicrohttpd)"
check jansson "$(pc jansson)"
check yajl "$(pc yajl)"
check zlib "$(pc zlib)"
check libyaml "$(pc yaml-0.1)"
check hiredis "$(pc hiredis)"
check protobuf-c "$(pc libprotobuf-c)"
check libsodium "$(pc libsodium)"
check libcsv "$(deb libcsv-dev)"
check http-parser "$(deb libhttp-parser-dev)"
check xgboost "$(/usr/bin/python3 -c 'import xgboost; print(xgboost.__version__)')"
grep -q "^fraud [0-9]" <<<"$text" || { echo "FAIL: no 'fraud VERSION' line"; fail=1; }
commit=$(git -C "$S" rev-parse --short=12 HEAD 2>/dev/null)
if [ -n "$commit" ]; then
  # Recorded at configure time: the build may be older than HEAD, so only
  # require a 12-digit commit of this repository.
  got=$(sed -n 's/^commit  *//p' <<<"$text")
  if git -C "$S" cat-file -e "$got^{commit}" 2>/dev/null && [ ${#got} -eq 12 ]; then
    echo "ok: commit $got"
  else
    echo "FAIL: commit '$got' is not a commit of $S"; fail=1
  fi
fi
grep -qE "^compiler +[A-Za-z]+ [0-9]" <<<"$text" || { echo "FAIL: no compiler line"; fail=1; }
grep -qE "^build type +[A-Za-z]" <<<"$text" || { echo "FAIL: no build type line"; fail=1; }
"$F" version --no-xgboost | grep -qE "^  xgboost +not loaded$" ||
  { echo "FAIL: --no-xgboost still loads XGBoost"; fail=1; }
exit $fail
