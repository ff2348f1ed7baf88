#!/usr/bin/python3
"""train_bench.py - where the time of `fraud train` goes on 1 M generated rows.

`fraud generate` writes 1,000,000 synthetic transactions, then `fraud train`
(schema "synthetic", default parameters) trains on them, --reps times.  Each
run prints its own split of the wall time (`time:` line of the summary):
reading and parsing the CSV ("ingest"), the time split, encoder fitting and
the feature replay ("features"), XGBoost's boosting loop ("xgboost": the
XGBoost C API calls, evaluation of the validation aucpr included), and the
rest (scoring the held-out slices with the forest engine, thresholds,
metrics, checksum, writing the bundle).  The figure of interest is the share
of the wall time that is ours before XGBoost starts: ingest + features.

usage: bench/train/train_bench.py [--fraud build/fraud] [--reps N] prints a
markdown section.  `make bench` (bench/http/suite.py, section "training")
measures the same phases for the bundled samples and, once the synthetic
schema ships a default spec, for 1 M generated rows; this script always runs
the 1 M case (with the train tests' spec until then) and states the share.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROWS = 1000000


def spec_path():
    """The schema's shipped default spec when there is one, else the train
    tests' spec for the synthetic schema (stateless and per-entity
    features)."""
    shipped = os.path.join(ROOT, "schemas", "synthetic.features.yaml")
    if os.path.exists(shipped):
        return shipped
    return os.path.join(ROOT, "tests", "fixtures", "train", "synthetic.features.yaml")


TIME_RE = re.compile(r"time: read ([0-9.]+)s, features ([0-9.]+)s, xgboost ([0-9.]+)s, "
                     r"total ([0-9.]+)s")
TREES_RE = re.compile(r"trees: (\d+) \(best iteration of (\d+) rounds\)")


def one_run(fraud, data, out, spec, nthread):
    shutil.rmtree(out, ignore_errors=True)
    args = [fraud, "train", "--schema", "synthetic", "--spec", spec, "--out", out,
            "--no-progress", data]
    if nthread is not None:
        args[2:2] = ["--nthread", str(nthread)]
    t0 = time.perf_counter()
    r = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"fraud train failed: {r.stderr[-500:]}")
    m = TIME_RE.search(r.stdout)
    t = TREES_RE.search(r.stdout)
    if not m or not t:
        raise RuntimeError(f"unexpected fraud train summary: {r.stdout}")
    read, feat, xgb, total = (float(v) for v in m.groups())
    return {"read": read, "features": feat, "xgboost": xgb, "total": total, "wall": wall,
            "trees": int(t.group(1)), "rounds": int(t.group(2))}, " ".join(
                ["fraud"] + [os.path.basename(a) if a in (data, out, spec) else a
                             for a in args[1:]])


def measure(fraud, tmp, reps):
    """Returns (intro, table rows, notes, commands)."""
    data = os.path.join(tmp, "train-1m.csv")
    t0 = time.perf_counter()
    r = subprocess.run([fraud, "generate", "--rows", str(ROWS), "--seed", "1", "-o", data],
                       capture_output=True, text=True)
    gen = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"fraud generate failed: {r.stderr[-500:]}")
    spec = spec_path()
    runs, cmd = [], ""
    for _ in range(reps):
        run, cmd = one_run(fraud, data, os.path.join(tmp, "train-1m-bundle"), spec, None)
        runs.append(run)
    os.unlink(data)
    shutil.rmtree(os.path.join(tmp, "train-1m-bundle"), ignore_errors=True)

    def med(k):
        return statistics.median(r[k] for r in runs)

    read, feat, xgb, wall = med("read"), med("features"), med("xgboost"), med("wall")
    other = max(0.0, wall - read - feat - xgb)
    share = (read + feat) / wall
    rows = [[f"{ROWS:,}", f"{read:.2f}", f"{feat:.2f}", f"{xgb:.2f}", f"{other:.2f}",
             f"{wall:.2f}", f"{100 * share:.1f} %", f"{100 * xgb / wall:.1f} %",
             f"{runs[0]['trees']} / {runs[0]['rounds']}"]]
    intro = (f"`fraud train` on {ROWS:,} rows written by `fraud generate --seed 1` "
             f"({gen:.1f} s to generate, {ROWS / gen:,.0f} rows/s), default parameters "
             f"(hist, depth 6, early stopping), all cores; feature spec "
             f"`{os.path.relpath(spec, ROOT)}`; median of {reps} runs.  Read = CSV parsing "
             "into columns; features = time split, encoder fitting and the per-entity "
             "replay; XGBoost = the boosting loop through the C API (validation aucpr "
             "included); other = scoring the held-out slices, thresholds, metrics, "
             "checksum and writing the bundle.")
    notes = [f"Ingest + features take {100 * share:.1f} % of the wall time (target: <= 10 %)."]
    return intro, rows, notes, [cmd]


HEADERS = ["rows", "read s", "features s", "XGBoost s", "other s", "wall s",
           "ingest + features", "XGBoost", "trees / rounds"]


def md_table(rows):
    return "\n".join(["| " + " | ".join(HEADERS) + " |",
                      "|:---|" + "|".join("---:" for _ in HEADERS[1:]) + "|"] +
                     ["| " + " | ".join(r) + " |" for r in rows])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fraud", default=os.path.join(ROOT, "build", "fraud"))
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fraud-train-bench-")
    try:
        intro, rows, notes, cmds = measure(os.path.abspath(a.fraud), tmp, a.reps)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("## Training time split\n")
    print(intro + "\n")
    print(md_table(rows) + "\n")
    for n in notes:
        print(n + "\n")
    print("```\n" + "\n".join(cmds) + "\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
