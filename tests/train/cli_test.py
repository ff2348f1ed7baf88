#!/usr/bin/python3
"""cli_test.py - `fraud train`, `fraud evaluate` and `fraud tune` end to end
on a small generated data set (`fraud generate`, schema "synthetic", the
train fixtures' feature spec).

train:    flags and --params (YAML) with flags overriding the file; unknown
          options and parameters refused (exit 2 / exit 1, naming file:line);
          progress drawn on a terminal (a pseudo-terminal here) and nothing
          on stderr otherwise; empty file, header only, every label 0: exit 1
          with a clear message and nothing left in the model repository.
evaluate: every figure of --json recomputed with scikit-learn 1.2.1 from
          `fraud predict`'s probabilities and the file's amounts (ROC-AUC,
          average precision, log loss, Brier, recall at FPR, precision /
          recall / F1 / confusion, amount-weighted recall, calibration_curve,
          the cost of the bundle's thresholds and the least cost over every
          pair of thresholds by brute force); --report writes a parseable
          page with five plots; --save-thresholds writes a new version with
          the same model bytes and refuses an existing one.
tune:     a seeded search interrupted by SIGINT (as Ctrl-C: the whole process
          group) stops with a "resume" message and leaves no bundle; the same
          command resumes and writes the bundle with trials.jsonl; its trials
          equal an uninterrupted run's; --max-trials time-boxes.

usage: cli_test.py FRAUD_BIN SOURCE_DIR
"""
import json
import math
import os
import pty
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (average_precision_score, brier_score_loss, confusion_matrix,
                             f1_score, log_loss, precision_score, recall_score,
                             roc_auc_score, roc_curve)

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)


def close(a, b, tol=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol * max(1.0, abs(b))


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def listing(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_train(F, spec, data, work):
    repo = os.path.join(work, "repo")
    os.makedirs(repo)
    base = [F, "train", "--schema", "synthetic", "--spec", spec, "--nthread", "1"]

    r = run(base + ["--out", f"{repo}/s/1", "--learning-rate", "0.1", data])
    check(r.returncode == 2 and "unknown" in r.stderr, f"unknown flag: {r.returncode} {r.stderr}")
    r = run(base + ["--out", f"{repo}/s/1", "--eta", "0", data])
    check(r.returncode == 2 and "eta" in r.stderr, f"--eta 0: {r.returncode} {r.stderr}")
    bad = os.path.join(work, "bad.yaml")
    with open(bad, "w") as f:
        f.write("max_depth: 3\nlearning_rate: 0.1\n")
    r = run(base + ["--out", f"{repo}/s/1", "--params", bad, data])
    check(r.returncode == 1 and "bad.yaml:2" in r.stderr and "learning_rate" in r.stderr,
          f"unknown parameter in file: {r.returncode} {r.stderr}")
    check(listing(repo) == [], f"refusals left {listing(repo)}")

    # Not a terminal: no progress at all; flags override the file.
    good = os.path.join(work, "good.yaml")
    with open(good, "w") as f:
        f.write("max_depth: 5\neta: 0.2\nn_estimators: 80\nearly_stopping_rounds: 10\n")
    out = f"{repo}/s/1"
    r = run(base + ["--out", out, "--params", good, "--max-depth", "3", data])
    check(r.returncode == 0, f"train: {r.stderr}")
    check(r.stderr == "", f"progress or noise on a non-terminal stderr: {r.stderr!r}")
    check("test slice" in r.stdout and "frauds" in r.stdout, f"summary: {r.stdout}")
    man = json.load(open(os.path.join(out, "manifest.json")))
    p = man["parameters"]
    check(p["max_depth"] == 3 and p["eta"] == 0.2 and p["n_estimators"] == 80 and
          p["early_stopping_rounds"] == 10, f"parameters {p}")
    check(listing(f"{repo}/s") == ["1"], f"repository holds {listing(f'{repo}/s')}")

    # A terminal: stages and a round line with PR-AUCs and an ETA.
    master, slave = pty.openpty()
    proc = subprocess.Popen(base + ["--out", f"{repo}/s/2", "--params", good, data],
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    proc.wait()
    os.close(master)
    tty = b"".join(chunks).decode(errors="replace")
    check(proc.returncode == 0, "train on a terminal failed")
    for needle in ("reading the data", "training", "round ", "train PR-AUC", "valid PR-AUC",
                   "ETA", "writing the bundle"):
        check(needle in tty, f"terminal progress lacks {needle!r}: {tty[-300:]!r}")

    # Bad inputs: exit 1, a clear message, nothing in the repository.
    header = open(data).readline()
    lines = open(data).read().splitlines()[1:2001]
    zeros = [",".join(l.split(",")[:14] + ["0"] + l.split(",")[15:]) for l in lines]
    cases = {"empty.csv": ("", "empty"),
             "header.csv": (header, "no data rows"),
             "zeros.csv": (header + "\n".join(zeros) + "\n", "every label is 0")}
    for name, (text, needle) in cases.items():
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(text)
        r = run(base + ["--out", f"{repo}/bad/1", path])
        check(r.returncode == 1 and needle in r.stderr, f"{name}: {r.returncode} {r.stderr}")
        if name == "zeros.csv":
            check("PR-AUC is undefined" in r.stderr, f"{name}: {r.stderr}")
    check(not os.path.exists(f"{repo}/bad"), "a refused training left files")
    r = run(base + ["--out", out, data])
    check(r.returncode == 1 and "immutable" in r.stderr, f"existing version: {r.stderr}")
    return out


def brute_force_cost(y, p, amount, R, D):
    """Least total cost over every (review, decline) pair of cuts between
    distinct scores, O(K^2) with numpy: decline p >= d, review r <= p < d."""
    s = np.unique(p)[::-1]                         # distinct, decreasing
    cuts = np.concatenate([[np.inf], s])           # cut k flags scores >= cuts[k]
    # Per cut k: rows, negatives and fraud amount with p >= cut.
    rows = np.array([(p >= c).sum() for c in cuts], dtype=float)
    neg = np.array([((p >= c) & (y == 0)).sum() for c in cuts], dtype=float)
    famt = np.array([amount[(p >= c) & (y == 1)].sum() for c in cuts])
    total_fraud = amount[y == 1].sum()
    best = math.inf
    for kd in range(len(cuts)):
        kr = np.arange(kd, len(cuts))
        cost = D * neg[kd] + R * (rows[kr] - rows[kd]) + (total_fraud - famt[kr])
        best = min(best, float(cost.min()))
    return best


def cost_at(y, p, amount, R, D, review, decline):
    dec = p >= decline
    rev = (p >= review) & ~dec
    app = ~dec & ~rev
    return float(D * (dec & (y == 0)).sum() + R * rev.sum() + amount[app & (y == 1)].sum())


def test_evaluate(F, data, bundle, work):
    man = json.load(open(os.path.join(bundle, "manifest.json")))
    report = os.path.join(work, "report.html")
    r = run([F, "evaluate", "--model", bundle, "--test-slice", "--json", "--review-cost", "4",
             "--decline-cost", "30", "--report", report, data])
    check(r.returncode == 0, f"evaluate: {r.stderr}")
    ev = json.loads(r.stdout)
    pred = os.path.join(work, "pred.csv")
    r = run([F, "predict", "--model", bundle, "--event-time", data, "-o", pred])
    check(r.returncode == 0, f"predict: {r.stderr}")
    pr = pd.read_csv(pred, dtype={"transaction_id": str})
    raw = pd.read_csv(data, dtype={"transaction_id": str})
    df = pr.merge(raw[["transaction_id", "amount", "is_fraud"]], on="transaction_id")
    df = df[df["event_time"] >= man["split"]["test_start_time"]]
    y = df["is_fraud"].to_numpy()
    p = df["probability"].to_numpy(np.float32).astype(np.float64)
    amt = df["amount"].to_numpy(np.float64)
    th = ev["bundle_thresholds"]
    flag = (p >= th["decline"]).astype(int)
    eps = np.finfo(np.float64).eps
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    tn, fp, fn, tp = confusion_matrix(y, flag, labels=[0, 1]).ravel()
    want = {
        "rows": len(y), "positives": int(y.sum()),
        "roc_auc": roc_auc_score(y, p), "pr_auc": average_precision_score(y, p),
        "log_loss": log_loss(y, np.clip(p, eps, 1 - eps)), "brier": brier_score_loss(y, p),
        "precision": precision_score(y, flag, zero_division=0),
        "recall": recall_score(y, flag, zero_division=0),
        "f1": f1_score(y, flag, zero_division=0),
        "amount_recall": recall_score(y, flag, sample_weight=amt),
        "amount_recall_review": recall_score(y, (p >= th["review"]).astype(int),
                                             sample_weight=amt),
        "fraud_amount": float(amt[y == 1].sum()),
    }
    for k, v in want.items():
        check(close(ev[k], float(v)), f"evaluate {k}: fraud {ev[k]} scikit-learn {v}")
    for f in ("0.001", "0.01", "0.05"):
        v = float(tpr[fpr <= float(f)].max())
        check(close(ev["recall_at_fpr"][f], v), f"recall@{f}: {ev['recall_at_fpr'][f]} vs {v}")
    c = ev["confusion"]
    check((c["tp"], c["fp"], c["tn"], c["fn"]) == (tp, fp, tn, fn), f"confusion {c}")
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    bins = ev["calibration"]["bins"]
    check(len(bins) == len(prob_true), f"calibration bins {len(bins)} vs {len(prob_true)}")
    for b, t_, p_ in zip(bins, prob_true, prob_pred):
        check(close(b["frac_pos"], t_) and close(b["mean_pred"], p_),
              f"calibration bin {b} vs ({t_}, {p_})")
    cost = ev["cost"]
    check(cost["review_cost"] == 4 and cost["decline_cost"] == 30, f"costs {cost}")
    check(close(cost["bundle"], cost_at(y, p, amt, 4, 30, th["review"], th["decline"]), 1e-9),
          f"cost of the bundle's thresholds {cost['bundle']}")
    best = brute_force_cost(y, p, amt, 4.0, 30.0)
    opt = cost["optimal"]
    check(close(opt["cost"], best, 1e-9), f"least cost {opt['cost']} vs brute force {best}")
    check(close(cost_at(y, p, amt, 4, 30, opt["review"], opt["decline"]), best, 1e-9),
          "the chosen thresholds do not cost the least")
    check(close(opt["approve_all"], float(amt[y == 1].sum())), "approve-all cost")

    # The report: XML with five plots.
    root = ET.parse(report).getroot()
    svgs = list(root.iter("{http://www.w3.org/2000/svg}svg"))
    check(len(svgs) == 5, f"report plots: {len(svgs)}")

    # Cost-based thresholds as a new version.
    v2 = os.path.join(os.path.dirname(bundle), "3")  # 2 is the terminal run's
    r = run([F, "evaluate", "--model", bundle, "--valid-slice", "--review-cost", "4",
             "--decline-cost", "30", "--save-thresholds", v2, "--json", data])
    check(r.returncode == 0, f"save thresholds: {r.stderr}")
    chosen = json.loads(r.stdout)["cost"]["optimal"]
    m2 = json.load(open(os.path.join(v2, "manifest.json")))
    check(m2["version"] == "3" and m2["derived_from"]["version"] == "1", "derived version")
    check(m2["derived_from"]["reason"] == "cost-based thresholds", "derived reason")
    check(m2["derived_from"]["evaluated_on"]["slice"] == "validation", "derived slice")
    check(close(m2["thresholds"]["decline"], min(1.0, chosen["decline"])) and
          close(m2["thresholds"]["review"], min(chosen["review"], 1.0)),
          f"derived thresholds {m2['thresholds']} vs {chosen}")
    check(open(os.path.join(v2, "model.json"), "rb").read() ==
          open(os.path.join(bundle, "model.json"), "rb").read(), "model bytes changed")
    r = run([F, "evaluate", "--model", v2, "--test-slice", data])
    check(r.returncode == 0 and "PR-AUC" in r.stdout, f"derived bundle evaluates: {r.stderr}")
    r = run([F, "evaluate", "--model", bundle, "--save-thresholds", v2, data])
    check(r.returncode == 1 and "immutable" in r.stderr, f"existing version: {r.stderr}")


def trials(path):
    """The trials of a log without their timing."""
    out = []
    with open(path) as f:
        for line in f.read().splitlines()[1:]:
            t = json.loads(line)
            t.pop("seconds")
            out.append(json.dumps(t, sort_keys=True))
    return sorted(out)


def test_tune(F, spec, data, work):
    space = os.path.join(work, "space.yaml")
    with open(space, "w") as f:
        f.write("max_depth: {low: 2, high: 6}\neta: {low: 0.05, high: 0.3, log: true}\n"
                "subsample: {low: 0.6, high: 1.0}\nearly_stopping_rounds: 10\n"
                "n_estimators: {low: 5, high: 45}\n")
    repo = os.path.join(work, "tune")
    os.makedirs(repo)
    cmd = lambda out, *extra: [F, "tune", "--schema", "synthetic", "--spec", spec,  # noqa
                               "--space", space, "--out", out, "--seed", "9",
                               "--parallel", "2", "--trial-threads", "1", *extra, data]
    # Uninterrupted reference run, its log kept with --log.
    ref_log = os.path.join(work, "ref.jsonl")
    r = run(cmd(f"{repo}/ref/1", "--log", ref_log))
    check(r.returncode == 0, f"tune: {r.stderr}")
    check(os.path.exists(f"{repo}/ref/1/trials.jsonl"), "bundle lacks trials.jsonl")
    man = json.load(open(f"{repo}/ref/1/manifest.json"))
    check("trials.jsonl" in man["files"], "trials.jsonl not in the manifest's files")
    check(man["tuning"]["trials"] == 22, f"trials {man['tuning']}")
    check(os.path.exists(ref_log), "a log given with --log was removed")
    ref = trials(ref_log)

    # Interrupted like Ctrl-C (SIGINT to the process group) after a few trials.
    out = f"{repo}/m/1"
    log = f"{repo}/m/1.trials.jsonl"
    proc = subprocess.Popen(cmd(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < 60:
        if os.path.exists(log) and open(log).read().count("\n") >= 3:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    check(proc.returncode == 1, f"interrupted tune exit {proc.returncode}: {err}")
    check("interrupted" in err and "resume" in err, f"interrupted tune message: {err}")
    check(not os.path.exists(out), "an interrupted tune wrote a bundle")
    check(listing(f"{repo}/m") == ["1.trials.jsonl"], f"left behind: {listing(f'{repo}/m')}")
    done = open(log).read().count("\n") - 1
    check(0 < done < 22, f"{done} trials logged before the interruption")
    # The same command resumes and finishes; the default log moves into the bundle.
    r = run(cmd(out))
    check(r.returncode == 0, f"resumed tune: {r.stderr}")
    check(f"{done} resumed" in r.stdout, f"resume summary: {r.stdout}")
    check(listing(f"{repo}/m") == ["1"], f"after resuming: {listing(f'{repo}/m')}")
    check(trials(f"{out}/trials.jsonl") == ref, "resumed trials differ from an uninterrupted run")
    b1 = json.load(open(f"{out}/manifest.json"))
    check(b1["tuning"]["best_trial"] == man["tuning"]["best_trial"], "best trial differs")
    check(open(f"{out}/model.json", "rb").read() == open(f"{repo}/ref/1/model.json", "rb").read(),
          "the resumed search's model differs from the uninterrupted one's")

    # A time box: exit 0, no bundle, a message; then the rest.
    r = run(cmd(f"{repo}/box/1", "--max-trials", "5"))
    check(r.returncode == 0 and "run the same command again" in r.stderr, f"time box: {r.stderr}")
    check(not os.path.exists(f"{repo}/box/1"), "a time-boxed tune wrote a bundle")
    r = run(cmd(f"{repo}/box/1"))
    check(r.returncode == 0 and os.path.exists(f"{repo}/box/1/trials.jsonl"),
          f"time box resumed: {r.stderr}")
    # Refusals.
    r = run(cmd(f"{repo}/ref/1"))
    check(r.returncode == 1 and "immutable" in r.stderr, f"existing version: {r.stderr}")
    r = run([F, "tune", "--schema", "synthetic", "--out", f"{repo}/x/1", data])
    check(r.returncode == 2 and "--space" in r.stderr, f"missing --space: {r.stderr}")


def main():
    F, src = sys.argv[1], sys.argv[2]
    spec = os.path.join(src, "tests", "fixtures", "train", "synthetic.features.yaml")
    with tempfile.TemporaryDirectory(prefix="fraud-train-cli-") as work:
        data = os.path.join(work, "g.csv")
        r = run([F, "generate", "--rows", "12000", "--cards", "600", "--merchants", "150",
                 "--days", "20", "--fraud-rate", "0.03", "--seed", "5", "-o", data])
        if r.returncode != 0:
            sys.exit(f"generate failed: {r.stderr}")
        bundle = test_train(F, spec, data, work)
        test_evaluate(F, data, bundle, work)
        test_tune(F, spec, data, work)
    if FAILS:
        print(f"{len(FAILS)} check(s) failed", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
