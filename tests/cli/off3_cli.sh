#!/usr/bin/env bash
# Four findings of a re-check review of the offline commands, each checked
# against values worked out by hand from the input files: a label cell that
# does not parse is a missing label for the commands that do not use it
# (predict, explain, features --model) and still a bad row for evaluate; the
# "wrote N rows" lines say how many rows --on-bad-row skip dropped and why
# the first was; generate's --start before the event-time range names the
# range; `models list` / `models show` call a bundle the server's load
# refuses (sha256, objective) invalid, with the loader's reason.
set -u
F=$(realpath "$1")
S=${FRAUD_SOURCE_DIR:?}
PY=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
PAYSIM=$S/data/samples/paysim/paysim.csv.gz
train_paysim "$F" "$T/models/paysim/1" || { echo "FAIL: train paysim"; exit 1; }
P=$T/models/paysim/1
zcat "$PAYSIM" | head -7 >p.csv

# 1. PaySim's label isFraud is field 10.  Data rows 2 and 3 get the labels
# 'abc' and 7 (a label is 0 or 1): predict and explain give the bytes they
# give for the clean file, features --model the same features (its last
# column, the label, left aside); with --on-bad-row skip no row is dropped.
# evaluate, which uses the label, still refuses line 3 (the row of 'abc').
awk -F, 'BEGIN{OFS=","} NR==3{$10="abc"} NR==4{$10="7"}1' p.csv >plabel.csv
[ "$(cut -d, -f10 plabel.csv | tr '\n' ' ')" = "isFraud 0 abc 7 0 0 0 " ] ||
  bad "plabel.csv labels: $(cut -d, -f10 plabel.csv | tr '\n' ' ')"
for cmd in predict explain features; do
  "$F" $cmd --model "$P" p.csv -o clean.csv 2>/dev/null || bad "$cmd p.csv"
  out=$("$F" $cmd --model "$P" plabel.csv -o lab.csv 2>&1) || bad "$cmd plabel.csv: $out"
  if [ $cmd = features ]; then
    [ "$(sed 's/,[^,]*$//' lab.csv)" = "$(sed 's/,[^,]*$//' clean.csv)" ] &&
      ok "features: unparseable labels read as missing" || bad "features: $(diff clean.csv lab.csv)"
  else
    cmp -s clean.csv lab.csv && ok "$cmd: unparseable labels read as missing" ||
      bad "$cmd: $(diff clean.csv lab.csv)"
  fi
  n=$("$F" $cmd --model "$P" --on-bad-row skip plabel.csv -o - 2>/dev/null | tail -n +2 | wc -l)
  [ "$n" = 6 ] && ok "$cmd --on-bad-row skip keeps the 6 rows" || bad "$cmd --on-bad-row skip: $n rows"
done
expect 1 "plabel.csv:3:10: column 'isFraud': cannot parse 'abc'" -- "$F" evaluate --model "$P" plabel.csv
expect 1 "plabel.csv:3:10: column 'isFraud': cannot parse 'abc'" -- "$F" validate --schema paysim plabel.csv
expect 1 "plabel.csv:3:10: column 'isFraud': cannot parse 'abc'" -- "$F" train --schema paysim \
  --quiet --out "$T/tl" plabel.csv

# 2. Data row 3 (line 4) has the amount 'abc' (field 3): skipped, the
# summary says "(1 skipped, the first: pbad.csv:4:3: ...)"; a clean file
# says "(0 skipped)"; without --on-bad-row skip nothing is added.
awk -F, 'BEGIN{OFS=","} NR==4{$3="abc"}1' p.csv >pbad.csv
note="\(1 skipped, the first: [^ ]*pbad.csv:4:3: column 'amount': cannot parse 'abc'"
expect 0 "fraud predict: wrote 5 rows to s.csv $note" -- "$F" predict --model "$P" --on-bad-row skip pbad.csv -o s.csv
expect 0 "fraud explain: wrote 5 rows to s.csv $note" -- "$F" explain --model "$P" --on-bad-row skip pbad.csv -o s.csv
expect 0 "fraud features: wrote 5 rows x [0-9]+ features to s.csv $note" -- \
  "$F" features --model "$P" --on-bad-row skip pbad.csv -o s.csv
expect 0 "fraud features: wrote 5 rows x [0-9]+ features to s.csv $note" -- \
  "$F" features --schema paysim --on-bad-row skip pbad.csv -o s.csv
# explain to standard output still says it on standard error.
msg=$("$F" explain --model "$P" --on-bad-row skip pbad.csv -o - 2>&1 >/dev/null)
grep -qE "wrote 5 rows to standard output $note" <<<"$msg" && ok "explain -o -: skip note on stderr" ||
  bad "explain -o - stderr: $msg"
expect 0 "wrote 6 rows to s.csv \(0 skipped\)$" -- "$F" predict --model "$P" --on-bad-row skip p.csv -o s.csv
expect 0 "wrote 6 rows to s.csv$" -- "$F" predict --model "$P" p.csv -o s.csv

# 3. generate --start before 1677-09-21T00:12:44Z is ISO 8601 but out of
# range: the message gives the range; a text that is no time still says so.
expect 2 "--start '1677-09-21T00:00:00Z' is outside the supported range of event times, 1677-09-21T00:12:44Z \.\. 2262-04-11T23:47:16Z" -- \
  "$F" generate --start 1677-09-21T00:00:00Z --days 1 --rows 10 -o g.csv
expect 2 "--start '9999-01-01T00:00:00Z' is outside the supported range" -- \
  "$F" generate --start 9999-01-01T00:00:00Z --days 1 --rows 10 -o g.csv
[ -e g.csv ] && bad "g.csv written"
expect 2 "expected an ISO 8601 time such as 2024-01-01T00:00:00Z, got 'yesterday'" -- \
  "$F" generate --start yesterday --days 1 --rows 10 -o g.csv
expect 0 "" -- "$F" generate --start 1677-09-22T00:00:00Z --days 1 --rows 10 -o g.csv

# 4. Version 2: model.json with one more byte (its sha256 no longer the
# manifest's); version 3: objective reg:squarederror with the manifest's
# checksum updated.  The server refuses both (fr_bundle_open); list and show
# call them invalid with the loader's reason; version 1 stays production.
R=$T/models
for v in 2 3; do
  cp -r "$P" "$R/paysim/$v"
  $PY - "$R/paysim/$v" "$v" <<'PYEOF'
import hashlib, json, os, sys
d, v = sys.argv[1], sys.argv[2]
man = json.load(open(os.path.join(d, "manifest.json")))
man["version"] = v
if v == "2":
    open(os.path.join(d, "model.json"), "ab").write(b" ")
else:
    m = json.load(open(os.path.join(d, "model.json")))
    m["learner"]["objective"]["name"] = "reg:squarederror"
    raw = json.dumps(m).encode()
    open(os.path.join(d, "model.json"), "wb").write(raw)
    man["files"]["model.json"] = {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
json.dump(man, open(os.path.join(d, "manifest.json"), "w"))
PYEOF
done
list=$("$F" models list --repository "$R" 2>&1)
grep -qE "^paysim +1 +production " <<<"$list" && ok "list: 1 is production" || bad "list: $list"
grep -qE "^paysim +2 +invalid .*model.json: sha256 [0-9a-f]+ does not match the manifest's" <<<"$list" &&
  ok "list: 2 invalid (sha256)" || bad "list (2): $list"
grep -qE "^paysim +3 +invalid .*objective is reg:squarederror, not binary:logistic" <<<"$list" &&
  ok "list: 3 invalid (objective)" || bad "list (3): $list"
"$F" models list --repository "$R" --json >list.json || bad "list --json"
$PY - list.json <<'PYEOF' && ok "list --json: stages and problems" || bad "list --json: $(cat list.json)"
import json, sys
rows = {r["version"]: r for r in json.load(open(sys.argv[1]))}
assert rows["1"]["stage"] == "production" and rows["1"].get("problem") is None, rows["1"]
assert rows["2"]["stage"] == "invalid" and "does not match the manifest" in rows["2"]["problem"], rows["2"]
assert rows["3"]["stage"] == "invalid" and "not binary:logistic" in rows["3"]["problem"], rows["3"]
PYEOF
for v in 2 3; do
  "$F" models show --repository "$R" paysim $v >show.json || bad "show $v"
  $PY - show.json $v <<'PYEOF' && ok "show $v: invalid with the problem" || bad "show $v: $(cat show.json)"
import json, sys
s = json.load(open(sys.argv[1]))
want = "does not match the manifest" if sys.argv[2] == "2" else "not binary:logistic"
assert s["stage"] == "invalid" and want in s["problem"], s
PYEOF
done
"$F" models show --repository "$R" paysim >show.json && $PY -c "
import json, sys; s = json.load(open(sys.argv[1]))
assert s['version'] == '1' and s['stage'] == 'production' and s['problem'] is None, s" show.json &&
  ok "show: production is 1" || bad "show: $(cat show.json)"

# 5. -o through symbolic links: a link to standard output's /proc name
# writes to fd 1 (here a file) and stays a link; a link to a regular file
# replaces that file and stays a link; -o /dev/fd/1 (one of standard
# output's names, like /dev/stdout, which a broken writer would replace for
# the whole system, so not used here) appended twice gives the 4 lines
# (header + 3 rows) twice, for predict, explain and features.
head -4 p.csv >p3.csv
for cmd in predict explain features; do
  rm -f lnk real cap.txt app.txt
  ln -s /proc/self/fd/1 lnk
  "$F" $cmd --model "$P" p3.csv -o lnk >cap.txt 2>/dev/null
  [ -L lnk ] && [ "$(wc -l <cap.txt)" -eq 4 ] && ok "$cmd -o link to fd 1: written to stdout" ||
    bad "$cmd -o link to fd 1: link $( [ -L lnk ] && echo kept || echo replaced), $(wc -l <cap.txt) lines captured"
  echo old >real
  ln -sf real lnk
  "$F" $cmd --model "$P" p3.csv -o lnk 2>/dev/null
  [ -L lnk ] && [ "$(wc -l <real)" -eq 4 ] && ok "$cmd -o link to a file: the file replaced" ||
    bad "$cmd -o link to a file: link $( [ -L lnk ] && echo kept || echo replaced), real has $(wc -l <real) lines"
  "$F" $cmd --model "$P" p3.csv -o /dev/fd/1 >>app.txt 2>/dev/null
  "$F" $cmd --model "$P" p3.csv -o /dev/fd/1 >>app.txt 2>/dev/null
  [ "$(wc -l <app.txt)" -eq 8 ] && ok "$cmd -o /dev/fd/1 appended twice" ||
    bad "$cmd -o /dev/fd/1 >> twice: $(wc -l <app.txt) lines, want 8"
done

exit $fail
