#!/usr/bin/python3
"""End-to-end test of `fraud explain`, `fraud predict --features` and
`fraud export onnx` (src/cli/cmd_explain.c, cmd_export.c, cmd_predict.c),
with python3-xgboost and python3-onnx as the independent references.

  check_cli.py FRAUD_BIN DATA WORKDIR

1. trains a small bundle on DATA (the PaySim sample) with `fraud train`;
2. `fraud features --model` gives the exact feature matrix the bundle sees;
   XGBoost (Booster.load_model of the bundle's model.json) predicts it and
   computes pred_contribs;
3. `fraud explain --model BUNDLE DATA`: every row's probability equals
   `fraud predict`'s, its bias is XGBoost's last pred_contribs column and
   its reasons are XGBoost's largest positive SHAP contributions (within
   1e-5) with the row's values;
4. `fraud predict --model model.json --features MATRIX` (and --model BUNDLE
   on the output of `fraud features` as it is): probabilities within 1e-6
   of XGBoost's, margins equal to output_margin;
5. `fraud export onnx`: passes onnx.checker; scoring the exported file
   gives the same probabilities; a version directory with a Triton FIL
   config.pbtxt naming the file works as --model;
6. usage errors exit 2, runtime errors exit 1 with a message.
"""
import csv
import json
import math
import os
import subprocess
import sys

import numpy as np
import xgboost as xgb


def run(args, expect=0, stdout_to=None):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != expect:
        sys.exit("%s: exit %d (expected %d)\nstdout: %s\nstderr: %s" % (
            " ".join(args), p.returncode, expect, p.stdout[-2000:], p.stderr[-2000:]))
    return p


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def num(s):
    return float("nan") if s == "" else float(s)


def main():
    fraud, data, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    bundle = os.path.join(work, "bundle")
    if os.path.exists(bundle):
        subprocess.run(["rm", "-rf", bundle], check=True)
    run([fraud, "train", "--schema", "paysim", "--out", bundle, "--n-estimators", "40",
         "--max-depth", "4", "--nthread", "1", "--quiet", data])

    # The feature matrix the bundle sees, and XGBoost's view of it.
    feat = os.path.join(work, "feat.csv")
    run([fraud, "features", "--model", bundle, data, "-o", feat])
    head, rows = read_csv(feat)
    names = [h for h in head if h not in ("transaction_id", "label")]
    idx = [head.index(n) for n in names]
    ids = [r[head.index("transaction_id")] for r in rows]
    X = np.array([[num(r[i]) for i in idx] for r in rows], dtype=np.float32)
    bst = xgb.Booster(model_file=os.path.join(bundle, "model.json"))
    assert bst.feature_names == names, (bst.feature_names, names)
    d = xgb.DMatrix(X, missing=np.nan, feature_names=names)
    p_xgb = bst.predict(d)
    m_xgb = bst.predict(d, output_margin=True)
    contribs = bst.predict(d, pred_contribs=True)
    by_id = {tid: i for i, tid in enumerate(ids)}

    # explain with the bundle vs predict vs XGBoost
    exp = os.path.join(work, "explain.csv")
    pred = os.path.join(work, "pred.csv")
    run([fraud, "explain", "--model", bundle, data, "-k", "3", "-o", exp])
    run([fraud, "predict", "--model", bundle, data, "-o", pred])
    eh, erows = read_csv(exp)
    ph, prows = read_csv(pred)
    assert eh == ["transaction_id", "probability", "margin", "bias"] + [
        "%s_%d" % (c, i) for i in (1, 2, 3) for c in ("reason", "value", "contribution")], eh
    assert len(erows) == len(prows) == len(rows), (len(erows), len(prows), len(rows))
    checked = 0
    for er, pr in zip(erows, prows):
        assert er[0] == pr[0] and float(er[1]) == float(pr[1]), (er[:3], pr)
        i = by_id[er[0]]
        assert abs(float(er[1]) - p_xgb[i]) <= 1e-6, (er[0], er[1], p_xgb[i])
        c = contribs[i]
        # the bias is XGBoost's last pred_contribs column
        assert abs(float(er[3]) - c[-1]) <= 1e-5, (er[0], er[3], c[-1])
        listed = []
        for k in range(3):
            name, value, contrib = er[4 + 3 * k: 7 + 3 * k]
            if not name:
                assert value == "" and contrib == ""
                continue
            j = names.index(name)
            listed.append(j)
            assert abs(float(contrib) - c[j]) <= 1e-5, (er[0], name, contrib, c[j])
            assert float(contrib) > 0
            v = X[i, j]
            assert (value == "" and math.isnan(v)) or np.float32(float(value)) == v, (er[0], name, value, v)
        smallest = min([float(er[6 + 3 * k]) for k in range(len(listed))], default=0.0)
        for j in range(len(names)):
            if j not in listed and (len(listed) == 3 or c[j] > 1e-5):
                assert c[j] <= smallest + 1e-5, (er[0], names[j], c[j], smallest)
        checked += 1
    print("explain: %d rows match XGBoost's pred_contribs" % checked)

    # predict --features with the bare model file
    matrix = os.path.join(work, "matrix.csv")
    with open(matrix, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names[::-1] + ["label"])  # any column order: matched by name
        for r in rows:
            w.writerow([r[i] for i in idx[::-1]] + [r[head.index("label")]])
    pm = os.path.join(work, "pm.csv")
    run([fraud, "predict", "--model", os.path.join(bundle, "model.json"), "--features", matrix,
         "-o", pm])
    h, out = read_csv(pm)
    assert h == ["probability", "margin"], h
    assert len(out) == len(rows)
    for i, o in enumerate(out):
        assert abs(float(o[0]) - p_xgb[i]) <= 1e-6, (i, o, p_xgb[i])
        assert np.float32(float(o[1])) == m_xgb[i], (i, o[1], m_xgb[i])
    print("predict --features: %d rows match XGBoost" % len(out))

    # predict --features on the output of `fraud features` as it is (its
    # transaction_id and label columns ignored): XGBoost's predictions
    pf = os.path.join(work, "pf.csv")
    run([fraud, "predict", "--model", bundle, "--features", feat, "-o", pf])
    _, outf = read_csv(pf)
    assert len(outf) == len(rows)
    for i, o in enumerate(outf):
        assert abs(float(o[0]) - p_xgb[i]) <= 1e-6, (ids[i], o, p_xgb[i])
        assert np.float32(float(o[1])) == m_xgb[i], (ids[i], o[1], m_xgb[i])
    print("predict --features on fraud features output: %d rows match XGBoost" % len(outf))

    # explain --features to standard output
    p = run([fraud, "explain", "--model", os.path.join(bundle, "model.json"), "--features", matrix,
             "-k", "2", "--by-magnitude"])
    lines = p.stdout.strip().split("\n")
    assert len(lines) == len(rows) + 1 and lines[0].startswith("transaction_id,probability"), lines[:2]

    # export onnx: onnx.checker, same probabilities, FIL-style version dir
    onx = os.path.join(work, "model.onnx")
    run([fraud, "export", "onnx", "--model", bundle, "-o", onx])
    import onnx
    onnx.checker.check_model(onnx.load(onx), full_check=True)
    vdir = os.path.join(work, "repo", "fraud", "1")
    os.makedirs(vdir, exist_ok=True)
    os.replace(onx, os.path.join(vdir, "exported.onnx"))
    with open(os.path.join(work, "repo", "fraud", "config.pbtxt"), "w") as f:
        f.write('backend: "onnxruntime"\ndefault_model_filename: "exported.onnx"\n'
                'max_batch_size: 8192\n')
    po = os.path.join(work, "po.csv")
    run([fraud, "predict", "--model", vdir, "--features", matrix, "-o", po])
    _, out2 = read_csv(po)
    for a, b in zip(out, out2):
        assert abs(float(a[0]) - float(b[0])) <= 1e-6, (a, b)
    print("export onnx: passes onnx.checker; the exported model scores the same")

    # usage (2) and runtime (1) errors
    run([fraud, "export"], expect=2)
    run([fraud, "export", "pmml", "--model", bundle, "-o", onx], expect=2)
    run([fraud, "export", "onnx", "--model", bundle], expect=2)
    run([fraud, "explain", "--model", bundle], expect=2)
    run([fraud, "explain", "--model", bundle, data, "--features", matrix], expect=2)
    run([fraud, "explain", "--model", bundle, "-k", "0", data], expect=2)
    p = run([fraud, "explain", "--model", os.path.join(bundle, "model.json"), data], expect=1)
    assert "needs a model bundle" in p.stderr, p.stderr
    bad = os.path.join(work, "bad.csv")
    with open(bad, "w") as f:
        f.write(",".join(names) + "\n" + ",".join(["1"] * (len(names) - 1)) + "\n")
    p = run([fraud, "predict", "--model", os.path.join(bundle, "model.json"), "--features", bad,
             "-o", pm], expect=1)
    assert "bad.csv:2" in p.stderr, p.stderr
    p = run([fraud, "export", "onnx", "--model", os.path.join(work, "nonexistent.json"), "-o", onx],
            expect=1)
    assert "nonexistent.json" in p.stderr, p.stderr
    for cmd in ("export", "explain", "predict"):
        p = run([fraud, cmd, "--help"])
        assert p.stdout.startswith("usage: fraud " + cmd), p.stdout[:80]
    print("usage and runtime errors: ok")


if __name__ == "__main__":
    main()
