#!/usr/bin/python3
"""The drift reference of a bundle, end to end through the real server.

`fraud train` writes the manifest's `reference` from the validation slice
(docs/bundle.md); `fraud serve` reads it for fraud_score_psi and
fraud_feature_psi (docs/server.md, "Metrics").  With the server's entity state
warmed on the training slice (--warm-state, --warm-until = the validation
slice's start), replaying the validation slice itself through /v1/score must
reproduce the offline scores and give PSI ~0 for the score and every feature;
replaying it with amounts multiplied by 20 (the same cards and merchants,
spending differently) must give a finite score PSI above 0.25, the alert
threshold of deploy/monitoring ("score drift PSI above 0.25"), and so must
the amount feature's.

  drift_reference_test.py        (environment as set by ctest)
"""
import math
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serve"))
from serve_helpers import (FRAUD, SPARKOV, Server, check, finish, make_repo, metrics, offline,
                           read_csv_rows, request, run)

import json

work = tempfile.mkdtemp(prefix="fraud-drift-ref-")
bundle = os.path.join(work, "sparkov", "1")
run([FRAUD, "train", "--schema", "sparkov", "--out", bundle, "--name", "sparkov",
     "--n-estimators", "60", "--early-stopping", "0", "--seed", "42", "--nthread", "1",
     "--quiet", SPARKOV])
with open(os.path.join(bundle, "manifest.json")) as f:
    manifest = json.load(f)
ref = manifest.get("reference")
check(isinstance(ref, dict) and ref.get("slice") == "validation" and
      ref.get("rows") == manifest["split"]["valid_rows"],
      f"the manifest's reference: {str(ref)[:200]}")
check(sorted(ref["features"]) == sorted(manifest["features"]),
      "a reference for every feature, by name")
for name, d in [("score", ref["score"])] + list(ref["features"].items()):
    e, s = d["edges"], d["shares"]
    check(len(e) <= 9 and len(s) == len(e) + 2 and all(a < b for a, b in zip(e, e[1:])) and
          abs(sum(s) - 1) < 1e-12, f"{name}: {len(e)} edges, {len(s)} shares summing to {sum(s)}")

valid_start = manifest["split"]["valid_start_time"]
test_start = manifest["split"]["test_start_time"]
off = [r for r in offline(bundle) if valid_start <= r["event_time"] < test_start]
check(len(off) == ref["rows"], f"{len(off)} validation rows offline, {ref['rows']} in the reference")
header, rows = read_csv_rows()
repo = make_repo({"sparkov": [("1", bundle)]})

PSI = re.compile(r'^(fraud_score_psi|fraud_feature_psi)\{([^}]*)\} (\S+)$')


def psis(port):
    """{'score': x, feature: x, ...} of the sparkov model from /metrics."""
    out = {}
    for line in metrics(port).splitlines():
        m = PSI.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if labels.get("model") != "sparkov":
            continue
        key = "score" if m.group(1) == "fraud_score_psi" else labels["feature"]
        out[key] = float(m.group(3))
    return out


def replay(amount_factor):
    """Replays the validation slice into a server warmed on the training
    slice; returns (PSIs, rows whose score differs from the offline one)."""
    srv = Server(repo, "--warm-state", SPARKOV, "--warm-until", repr(valid_start))
    conn = srv.conn()
    before = psis(srv.port)
    check(math.isnan(before.get("score", 0.0)),
          f"score PSI before any traffic is NaN, got {before.get('score')}")
    differ = 0
    for r in off:
        txn = {h: v for h, v in zip(header, rows[r["source_row"]]) if h != "is_fraud"}
        if amount_factor != 1:
            txn["amt"] = repr(float(txn["amt"]) * amount_factor)
        st, ans, _ = request(srv.port, "POST", "/v1/score", txn, conn=conn)
        if st != 200:
            check(False, f"/v1/score: {st} {ans}")
            break
        differ += ans["fraud_probability"] != float(r["probability"])
    got = psis(srv.port)
    conn.close()
    check(srv.stop() == 0, "server exit")
    return got, differ


same, differ = replay(1)
check(differ == 0, f"validation replay: {differ} of {len(off)} scores differ from offline")
check(len(same) == len(manifest["features"]) + 1, f"PSI series: {sorted(same)}")
worst = max(same.items(), key=lambda kv: kv[1] if not math.isnan(kv[1]) else math.inf)
check(all(math.isfinite(v) and abs(v) < 1e-9 for v in same.values()),
      f"validation replay: every PSI ~0, the largest {worst}")
print(f"validation replay: score PSI {same['score']:.3g}, largest {worst[0]} {worst[1]:.3g}")

shifted, _ = replay(20)
check(math.isfinite(shifted["score"]) and shifted["score"] > 0.25,
      f"amounts x20: score PSI {shifted['score']} must exceed 0.25")
check(math.isfinite(shifted["amt"]) and shifted["amt"] > 0.25,
      f"amounts x20: amt PSI {shifted['amt']} must exceed 0.25")
print(f"amounts x20: score PSI {shifted['score']:.3f}, amt PSI {shifted['amt']:.3f}")

shutil.rmtree(work, ignore_errors=True)
shutil.rmtree(repo, ignore_errors=True)
finish("drift_reference")
