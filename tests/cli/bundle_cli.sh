#!/usr/bin/env bash
# A bundle trained straight into a model repository, end to end through the
# commands a newcomer uses: the manifest names the version and model of its
# --out path (and `fraud serve` loads it), `fraud models list` shows the
# manifest's test PR-AUC and marks a version whose manifest disagrees with
# its directory as invalid, `-o -` writes CSV to standard output (the same
# bytes as -o FILE) for predict, features and explain, `explain -k` is
# lowered to the number of features, the output of `fraud features` scores
# with `predict --features` and `explain --features` as the raw data does
# (explain's bias plus contributions adding up to the margin), and `fraud
# serve` exits 1 at startup
# on an unreadable warm-start history, its "listening" lines at level info.
# The expected values come from the trained bundle's manifest (read with
# Debian's python3 json) and from the files the same commands write.
set -u
F=$(realpath "$1")
S=${FRAUD_SOURCE_DIR:?}
PY=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
DATA=$S/data/samples/sparkov/sparkov_windows.csv.gz
R=$T/models
train() { "$F" train --schema sparkov --n-estimators 20 --early-stopping 0 --nthread 1 --quiet "$@" "$DATA"; }
field() { $PY -c "import json,sys; m=json.load(open(sys.argv[1])); print($2)" "$3"; }

# 1. Name and version from the repository layout of --out.
train --out "$R/sparkov/2" || bad "train --out $R/sparkov/2 failed"
[ "$(field x "m['name'] + '/' + m['version']" "$R/sparkov/2/manifest.json")" = sparkov/2 ] &&
  ok "manifest of models/sparkov/2 names sparkov/2" ||
  bad "manifest of models/sparkov/2: $(field x "m['name'] + '/' + m['version']" "$R/sparkov/2/manifest.json")"
train --out "$R/fraudx/7/" || bad "train --out $R/fraudx/7/ failed"
[ "$(field x "m['name'] + '/' + m['version']" "$R/fraudx/7/manifest.json")" = fraudx/7 ] &&
  ok "manifest of models/fraudx/7/ names fraudx/7" || bad "models/fraudx/7 is not named fraudx/7"
train --out "$T/plain" || bad "train --out $T/plain failed"
[ "$(field x "m['name'] + '/' + m['version']" "$T/plain/manifest.json")" = sparkov/1 ] &&
  ok "outside a repository layout: schema name, version 1" || bad "plain --out is not sparkov/1"
out=$(train --out "$R/sparkov/3" --version 4 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--version" <<<"$out" && [ ! -e "$R/sparkov/3" ] &&
  ok "--version 4 with --out .../3 -> 2" || bad "--version 4 with --out .../3: rc $rc: $out"
out=$(train --out "$R/sparkov/3" --name other 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--name" <<<"$out" && [ ! -e "$R/sparkov/3" ] &&
  ok "--name other with --out .../sparkov/3 -> 2" || bad "--name other: rc $rc: $out"
train --out "$R/sparkov/3" --name sparkov --version 3 || bad "agreeing --name/--version refused"

# The server loads what train wrote, under the name and version of the path.
port_of() { $PY -c "import json,sys
for l in open(sys.argv[1]):
    try: e = json.loads(l)
    except ValueError: continue
    if e.get('event') == 'listening' and e.get('listener') == 'inference': print(e['port']); break" "$1"; }
FRAUD_LOG_LEVEL=info "$F" serve --model-repository "$R" --port 0 --no-admin 2>"$T/serve.log" &
pid=$!
up=0
for _ in $(seq 100); do
  p=$(port_of "$T/serve.log")
  if [ -n "$p" ] && curl -sf "http://127.0.0.1:$p/v2/models/sparkov/versions/3/ready" >/dev/null; then
    up=1; break
  fi
  sleep 0.1
done
[ $up = 1 ] && ok "fraud serve loads sparkov/3 trained into the repository" ||
  bad "sparkov/3 not ready: $(tail -5 "$T/serve.log")"
grep '"event":"listening"' "$T/serve.log" | grep -q '"level":"info"' &&
  ! grep '"event":"listening"' "$T/serve.log" | grep -qv '"level":"info"' &&
  ok "listening lines at level info" || bad "listening lines: $(grep listening "$T/serve.log")"
kill -TERM $pid; wait $pid

# 2. models list: the test slice's PR-AUC from the manifest.
want=$(field x "'%.4f' % m['metrics']['test']['pr_auc']" "$R/sparkov/2/manifest.json")
got=$("$F" models list --repository "$R" | awk '$1 == "sparkov" && $2 == "2" {print $5}')
[ -n "$want" ] && [ "$got" = "$want" ] && ok "models list PR-AUC $got" ||
  bad "models list PR-AUC '$got', manifest $want"
"$F" models list --repository "$R" --json >"$T/list.json"
$PY - "$T/list.json" "$R/sparkov/2/manifest.json" <<'EOF' && ok "models list --json test_pr_auc" || bad "models list --json test_pr_auc"
import json, sys
rows = json.load(open(sys.argv[1]))
m = json.load(open(sys.argv[2]))
row = [r for r in rows if r["model"] == "sparkov" and r["version"] == "2"][0]
sys.exit(0 if row["test_pr_auc"] == m["metrics"]["test"]["pr_auc"] else 1)
EOF

# A copied bundle (manifest sparkov/3 in directory 5): the server refuses
# it, so it is invalid and the newest valid version (3) is production.
cp -r "$R/sparkov/3" "$R/sparkov/5"
"$F" models list --repository "$R" >"$T/list.txt"
grep -E '^sparkov +5 +invalid .*manifest names sparkov/3' "$T/list.txt" >/dev/null &&
  grep -E '^sparkov +3 +production ' "$T/list.txt" >/dev/null &&
  ok "copied bundle listed invalid, newest valid is production" ||
  bad "models list with a copied bundle: $(cat "$T/list.txt")"
"$F" models list --repository "$R" --json | $PY -c "
import json, sys
r = {(x['model'], x['version']): x for x in json.load(sys.stdin)}
sys.exit(0 if r[('sparkov', '5')]['stage'] == 'invalid' and 'sparkov/3' in r[('sparkov', '5')]['problem']
         and r[('sparkov', '3')]['problem'] is None else 1)" &&
  ok "models list --json: stage invalid with the problem" || bad "models list --json invalid"
# models show agrees with models list on every version's stage (implicit
# production, invalid with its problem), and its "stages" is stages.json as
# written (read here with Python's json; all unset while there is none):
# without a stages.json, then with a canary.
show_agrees() { # show_agrees WHEN
  "$F" models list --repository "$R" --json >"$T/l.json"
  for v in 2 3 5 default; do
    if [ $v = default ]; then "$F" models show --repository "$R" sparkov >"$T/s-$v.json"
    else "$F" models show --repository "$R" sparkov $v >"$T/s-$v.json"; fi || bad "models show sparkov $v ($1) failed"
  done
  $PY - "$T/l.json" "$R/sparkov/stages.json" "$T"/s-{2,3,5,default}.json <<'EOF' && ok "models show = models list, stages as written ($1)" || bad "models show vs list ($1)"
import json, os, sys
rows = {r["version"]: r for r in json.load(open(sys.argv[1])) if r["model"] == "sparkov"}
f = sys.argv[2]
want = {"production": "", "staging": "", "canary": None, "shadow": "", "history": []}
if os.path.exists(f):
    want.update(json.load(open(f)))
bad = []
for path in sys.argv[3:]:
    try:
        s = json.load(open(path))
        r = rows[s["version"]]
        if s["stage"] != r["stage"] or s.get("problem") != r.get("problem"):
            bad.append(f"{path}: show {s['version']} stage {s['stage']!r}/{s.get('problem')!r}, "
                       f"list {r['stage']!r}/{r.get('problem')!r}")
        if s.get("stages") != want:
            bad.append(f"{path}: stages {s.get('stages')} != stages.json {want}")
    except (ValueError, KeyError) as e:
        bad.append(f"{path}: {e!r}")
d = json.load(open(sys.argv[-1]))
if rows[d["version"]]["stage"] != "production":
    bad.append(f"show without VERSION gave {d['version']}, list's production is another")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
}
show_agrees "no stages.json"
"$F" models canary --repository "$R" sparkov 2 --weight 0.25 || bad "models canary sparkov 2 failed"
show_agrees "canary 2"
rm -rf "$R/sparkov/5" "$R/sparkov/stages.json"

# 4. -o - is standard output, the same bytes as a file.
B=$R/sparkov/2
for cmd in predict features explain; do
  "$F" $cmd --model "$B" "$DATA" -o "$T/$cmd.csv" 2>/dev/null || bad "$cmd -o FILE failed"
  (cd "$T" && "$F" $cmd --model "$B" "$DATA" -o - >"$T/$cmd.stdout" 2>/dev/null) || bad "$cmd -o - failed"
  [ ! -e "$T/-" ] && [ -s "$T/$cmd.csv" ] && cmp -s "$T/$cmd.csv" "$T/$cmd.stdout" &&
    ok "$cmd -o - writes standard output" || bad "$cmd -o -: file '-' or different output"
  rm -f "$T/-"
done
# explain -k 1000: at most one triple per feature (transaction_id,
# probability, margin, bias + 3 per reason).
nf=$(field x "len(m['features'])" "$B/manifest.json")
"$F" explain --model "$B" "$DATA" -k 1000 -o "$T/k.csv" 2>/dev/null || bad "explain -k 1000 failed"
cols=$(head -1 "$T/k.csv" | tr ',' '\n' | wc -l)
[ "$cols" -eq $((4 + 3 * nf)) ] && ok "explain -k 1000 on $nf features: $cols columns" ||
  bad "explain -k 1000: $cols columns, expected $((4 + 3 * nf))"

# 5. The output of `fraud features` (transaction_id, the features, label)
# feeds `fraud predict --features` and `fraud explain --features` as it is:
# the same probabilities as `fraud predict DATA` (joined on transaction_id:
# features are written in event-time order), the same explanation lines as
# `fraud explain DATA`, and on every row bias + contributions = margin.
"$F" predict --model "$B" --features "$T/features.csv" -o "$T/pf.csv" 2>"$T/pf.err" &&
  ok "predict --features on the output of fraud features" ||
  bad "predict --features features.csv: $(cat "$T/pf.err")"
$PY - "$T/features.csv" "$T/pf.csv" "$T/predict.csv" <<'EOF' && ok "predict --features = predict DATA on every row" || bad "predict --features differs from predict DATA"
import csv, sys
ids = [r["transaction_id"] for r in csv.DictReader(open(sys.argv[1]))]
pf = [r["probability"] for r in csv.DictReader(open(sys.argv[2]))]
raw = {r["transaction_id"]: r["probability"] for r in csv.DictReader(open(sys.argv[3]))}
if not (len(ids) == len(pf) == len(raw) > 0):
    sys.exit("rows: %d ids, %d scores, %d raw" % (len(ids), len(pf), len(raw)))
diff = [(i, a, raw[i]) for i, a in zip(ids, pf) if a != raw[i]]
if diff:
    sys.exit("%d of %d rows differ, first %s" % (len(diff), len(ids), diff[0]))
EOF
"$F" explain --model "$B" --features "$T/features.csv" -k "$nf" --by-magnitude -o "$T/ef.csv" &&
  "$F" explain --model "$B" "$DATA" -k "$nf" --by-magnitude -o "$T/ed.csv" || bad "explain -k $nf failed"
$PY - "$T/ef.csv" "$T/ed.csv" <<'EOF' && ok "explain --features = explain DATA; bias + contributions = margin" || bad "explain --features / bias"
import csv, sys
ef = list(csv.reader(open(sys.argv[1])))
ed = list(csv.reader(open(sys.argv[2])))
if ef[0] != ed[0] or ef[0][:4] != ["transaction_id", "probability", "margin", "bias"]:
    sys.exit("headers %s / %s" % (ef[0][:5], ed[0][:5]))
if len(ef) < 2 or sorted(map(tuple, ef[1:])) != sorted(map(tuple, ed[1:])):
    sys.exit("explain --features rows differ from explain DATA rows")
for row in ef[1:]:
    margin, bias = float(row[2]), float(row[3])
    contribs = [float(c) for c in row[6::3] if c != ""]
    total = bias + sum(contribs)
    if abs(total - margin) > 1e-5 * (1 + abs(bias) + sum(map(abs, contribs))):
        sys.exit("%s: bias %r + contributions = %r, margin %r" % (row[0], bias, total, margin))
EOF

# 6. A warm-start history that does not parse ends `fraud serve` with 1.
printf 'trans_date_trans_time,"unterminated\n1,2\n' >"$T/bad.csv"
out=$(timeout 30 "$F" serve --model-repository "$R" --port 0 --no-admin --warm-state "$T/bad.csv" 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q "bad.csv" <<<"$out" && ok "serve --warm-state BAD.csv -> 1" ||
  bad "serve --warm-state BAD.csv: rc $rc (124 = still running): $(tail -3 <<<"$out")"
exit $fail
