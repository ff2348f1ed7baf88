#!/usr/bin/python3
"""check_results.py - the results of docs/results.md, re-derived independently.

For each bundled real sample (ULB, PaySim, Sparkov windows) this script

1. runs `fraud train --schema S` with the defaults and reads the test-slice
   metrics the C pipeline recorded in the bundle's manifest;
2. re-implements, in Python with pandas and numpy and without calling the
   `fraud` binary, everything before training: reading the CSV, the event
   time of each schema, the event-time split (docs/training.md) and the
   default feature spec of each sample (schemas/<S>.features.yaml, semantics
   of docs/features.md: per-entity windows [t - w, t) over strictly earlier
   events, encoders fitted on the training slice);
3. trains python3-xgboost with the same parameters (fr_train_params_default:
   binary:logistic, hist, depth 6, eta 0.1, ..., early stopping after 50
   rounds on the validation slice's aucpr) and measures the test slice with
   scikit-learn;
4. compares: the split must be identical and the test PR-AUC must agree to
   3 decimals (|difference| < 0.0005).

Exit status 1 when a sample disagrees (with --assert).  --markdown prints
the table of docs/results.md.  --diagnose also compares each feature column
with `fraud features --model` (a debugging aid only; the claim above never
uses the binary's features).

Only Debian's packages are used (python3-pandas, python3-numpy,
python3-xgboost 1.7, python3-sklearn 1.2).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

# XGBoost's OpenMP threads must not spin on a shared machine (see
# src/train/xgb.c); libgomp reads this when xgboost is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve  # noqa: E402

EARTH_KM = 6371.0088  # mean Earth radius R1 (IUGG), as docs/features.md says
HOUR, DAY = 3600.0, 86400.0


# ---------------------------------------------------------------------------
# Reading and event time
# ---------------------------------------------------------------------------

def epoch(iso):
    return pd.Timestamp(iso).timestamp()


def read(sample, path):
    """The raw rows (file order), the event time in epoch seconds and the
    label, per schemas/<sample>.yaml."""
    if sample == "ulb":
        df = pd.read_csv(path)
        t = epoch("2013-09-01T00:00:00Z") + df["Time"].to_numpy(np.float64)
        y = df["Class"].to_numpy()
    elif sample == "paysim":
        df = pd.read_csv(path, dtype={"nameOrig": str, "nameDest": str, "type": str})
        t = epoch("2017-01-01T00:00:00Z") + df["step"].to_numpy(np.float64) * HOUR
        y = df["isFraud"].to_numpy()
    elif sample == "sparkov":
        df = pd.read_csv(path, dtype={"cc_num": str, "merchant": str, "category": str,
                                      "gender": str, "trans_num": str})
        t = df["unix_time"].to_numpy(np.float64)
        y = df["is_fraud"].to_numpy()
    else:
        raise ValueError(sample)
    # (event time, file order): a stable sort.
    order = np.argsort(t, kind="stable")
    df = df.iloc[order].reset_index(drop=True)
    return df, t[order], y[order].astype(np.float64)


def llround(x):
    """C's llround for x >= 0: halves away from zero."""
    return int(math.floor(x + 0.5))


def split(t, valid_fraction=0.15, test_fraction=0.15):
    """docs/training.md: sizes rounded to the nearest row, each cut moved
    forward past rows with the same event time."""
    n = len(t)

    def forward(cut):
        while 0 < cut < n and t[cut] == t[cut - 1]:
            cut += 1
        return cut

    n_test = llround(test_fraction * n)
    n_vt = min(n, llround((valid_fraction + test_fraction) * n))
    valid_end = forward(n - n_test)
    train_end = min(forward(n - n_vt), valid_end)
    return train_end, valid_end


# ---------------------------------------------------------------------------
# Features (docs/features.md)
# ---------------------------------------------------------------------------

def hour_of_day(t):
    return np.floor(np.mod(t, DAY) / HOUR)


def day_of_week(t):
    # 1970-01-01 was a Thursday (3 with Monday = 0).
    return np.mod(np.floor(t / DAY) + 3, 7)


def haversine(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))


def category_code(values, train_end):
    """Codes by descending training count, ties by the text's bytes; NaN for
    a category unseen in the training slice."""
    counts = pd.Series(values[:train_end]).value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode()))
    code = {k: float(i) for i, (k, _) in enumerate(ranked)}
    return np.array([code.get(v, np.nan) for v in values])


def target_encoding(values, y, train_end, smoothing):
    """(frauds_c + m * prior) / (count_c + m) on the training slice; the prior
    (training fraud rate) for unseen categories (Micci-Barreca 2001)."""
    tr = pd.DataFrame({"c": values[:train_end], "y": y[:train_end]})
    prior = tr["y"].mean()
    g = tr.groupby("c")["y"].agg(["sum", "count"])
    enc = ((g["sum"] + smoothing * prior) / (g["count"] + smoothing)).to_dict()
    return np.array([enc.get(v, prior) for v in values])


class Entity:
    """Rows of one entity key in event-time order, with the bounds of each
    row's strictly earlier events: [lo, hi) of the group."""

    def __init__(self, keys, t):
        self.t = t
        self.groups = [np.asarray(ix) for ix in
                       pd.Series(keys).groupby(keys, sort=False).indices.values()]

    def windows(self, w):
        """For each group: (row indexes, lo, hi) with events [lo, hi) of the
        group in [t - w, t) (w = None: all strictly earlier events)."""
        for ix in self.groups:
            tt = self.t[ix]
            hi = np.searchsorted(tt, tt, side="left")  # strictly earlier
            lo = np.zeros_like(hi) if w is None else np.searchsorted(tt, tt - w, side="left")
            yield ix, lo, hi


def count(ent, w):
    out = np.zeros(len(ent.t))
    for ix, lo, hi in ent.windows(w):
        out[ix] = hi - lo
    return out


def window_apply(ent, w, col, fn):
    """fn(values in window, current value) per row; col is a numpy array."""
    out = np.full(len(ent.t), np.nan)
    for ix, lo, hi in ent.windows(w):
        v = col[ix]
        for k in range(len(ix)):
            out[ix[k]] = fn(v[lo[k]:hi[k]], v[k])
    return out


def w_sum(vals, cur):
    vals = vals[~pd.isna(vals)]
    return float(np.sum(vals)) if len(vals) else 0.0


def w_max(vals, cur):
    vals = vals[~pd.isna(vals)]
    return float(np.max(vals)) if len(vals) else np.nan


def w_mean(vals, cur):
    vals = vals[~pd.isna(vals)]
    return float(np.mean(vals)) if len(vals) else np.nan


def w_ratio_to_mean(vals, cur):
    m = w_mean(vals, cur)
    return cur / m if len(vals) and m != 0 and not np.isnan(m) else np.nan


def w_zscore(vals, cur):
    vals = vals[~pd.isna(vals)]
    if len(vals) < 2:
        return np.nan
    sd = float(np.std(vals, ddof=1))
    return (cur - float(np.mean(vals))) / sd if sd != 0 else np.nan


def w_distinct(vals, cur):
    return float(len(set(v for v in vals if not pd.isna(v))))


def time_since_prev(ent):
    out = np.full(len(ent.t), np.nan)
    for ix, lo, hi in ent.windows(None):
        tt = ent.t[ix]
        has = hi > 0
        out[ix[has]] = tt[has] - tt[hi[has] - 1]
    return out


def first_seen(ent):
    out = np.zeros(len(ent.t))
    for ix, lo, hi in ent.windows(None):
        out[ix] = (hi == 0).astype(float)
    return out


def geo_velocity(ent, lat, lon):
    """km/h from the entity's latest strictly earlier located event."""
    out = np.full(len(ent.t), np.nan)
    for ix, lo, hi in ent.windows(None):
        for k in range(len(ix)):
            if hi[k] == 0:
                continue
            j = ix[hi[k] - 1]
            i = ix[k]
            dt = ent.t[i] - ent.t[j]
            out[i] = haversine(lat[j], lon[j], lat[i], lon[i]) / (dt / HOUR)
    return out


def features(sample, df, t, y, train_end):
    """The default feature spec of each sample, column by column, in the
    spec's order (schemas/<sample>.features.yaml)."""
    cols = {}
    if sample == "ulb":
        for i in range(1, 29):
            cols[f"V{i}"] = df[f"V{i}"].to_numpy(np.float64)
        a = df["Amount"].to_numpy(np.float64)
        cols["amount"] = a
        cols["amount_log"] = np.log1p(a)
        cols["hour"] = hour_of_day(t)
    elif sample == "paysim":
        a = df["amount"].to_numpy(np.float64)
        ob = df["oldbalanceOrg"].to_numpy(np.float64)
        cols["amount"] = a
        cols["amount_log"] = np.log1p(a)
        cols["type"] = category_code(df["type"].to_numpy(), train_end)
        cols["old_balance_orig"] = ob
        cols["new_balance_orig"] = df["newbalanceOrig"].to_numpy(np.float64)
        cols["old_balance_dest"] = df["oldbalanceDest"].to_numpy(np.float64)
        cols["new_balance_dest"] = df["newbalanceDest"].to_numpy(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            cols["amount_to_balance"] = np.where(ob == 0, np.nan, a / ob)
        cols["hour"] = hour_of_day(t)
        cust = Entity(df["nameOrig"].to_numpy(), t)
        rcpt = Entity(df["nameDest"].to_numpy(), t)
        cols["customer_count_1h"] = count(cust, HOUR)
        cols["customer_sum_1h"] = window_apply(cust, HOUR, a, w_sum)
        cols["customer_count_24h"] = count(cust, DAY)
        cols["customer_sum_24h"] = window_apply(cust, DAY, a, w_sum)
        cols["customer_secs_since_prev"] = time_since_prev(cust)
        cols["recipient_count_24h"] = count(rcpt, DAY)
        cols["recipient_sum_24h"] = window_apply(rcpt, DAY, a, w_sum)
        cols["recipient_secs_since_prev"] = time_since_prev(rcpt)
    elif sample == "sparkov":
        a = df["amt"].to_numpy(np.float64)
        cat = df["category"].to_numpy()
        lat, lon = df["lat"].to_numpy(np.float64), df["long"].to_numpy(np.float64)
        mlat, mlon = df["merch_lat"].to_numpy(np.float64), df["merch_long"].to_numpy(np.float64)
        sod = np.mod(t, DAY)
        cols["amt"] = a
        cols["amt_log"] = np.log1p(a)
        cols["category"] = category_code(cat, train_end)
        cols["category_fraud_rate"] = target_encoding(cat, y, train_end, 50.0)
        cols["gender"] = category_code(df["gender"].to_numpy(), train_end)
        cols["city_pop_log"] = np.log1p(df["city_pop"].to_numpy(np.float64))
        cols["hour"] = hour_of_day(t)
        cols["dow"] = day_of_week(t)
        cols["hour_sin"] = np.sin(2 * np.pi * sod / DAY)
        cols["hour_cos"] = np.cos(2 * np.pi * sod / DAY)
        cols["home_merchant_km"] = haversine(lat, lon, mlat, mlon)
        card = Entity(df["cc_num"].to_numpy(), t)
        merch = df["merchant"].to_numpy()
        cols["card_count_1h"] = count(card, HOUR)
        cols["card_sum_1h"] = window_apply(card, HOUR, a, w_sum)
        cols["card_count_24h"] = count(card, DAY)
        cols["card_sum_24h"] = window_apply(card, DAY, a, w_sum)
        cols["card_max_24h"] = window_apply(card, DAY, a, w_max)
        cols["card_mean_7d"] = window_apply(card, 7 * DAY, a, w_mean)
        cols["card_amt_ratio_7d"] = window_apply(card, 7 * DAY, a, w_ratio_to_mean)
        cols["card_amt_zscore_7d"] = window_apply(card, 7 * DAY, a, w_zscore)
        cols["card_merchants_24h"] = window_apply(card, DAY, merch.astype(object), w_distinct)
        cols["card_categories_24h"] = window_apply(card, DAY, cat.astype(object), w_distinct)
        cols["card_secs_since_prev"] = time_since_prev(card)
        pair = np.array([c + "\x1f" + m for c, m in zip(df["cc_num"], merch)])
        cols["card_new_merchant"] = first_seen(Entity(pair, t))
        cols["card_speed_kmh"] = geo_velocity(card, mlat, mlon)
        cols["merchant_count_24h"] = count(Entity(merch, t), DAY)
    names = list(cols)
    x = np.column_stack([np.asarray(cols[n], dtype=np.float64) for n in names])
    return names, x.astype(np.float32)


# ---------------------------------------------------------------------------
# Training and metrics
# ---------------------------------------------------------------------------

def train_python(x, y, train_end, valid_end, nthread):
    """fr_train_params_default, as src/train/trainer.c passes it to XGBoost."""
    ytr = y[:train_end]
    spw = float((ytr == 0).sum()) / float((ytr == 1).sum())
    params = {"validate_parameters": 1, "objective": "binary:logistic",
              "eval_metric": "aucpr", "tree_method": "hist", "max_depth": 6,
              "eta": 0.1, "min_child_weight": 1, "subsample": 0.8,
              "colsample_bytree": 0.8, "lambda": 1, "alpha": 0, "gamma": 0,
              "scale_pos_weight": spw, "max_bin": 256, "nthread": nthread, "seed": 42}
    dtr = xgb.DMatrix(x[:train_end], label=ytr, missing=np.nan)
    dva = xgb.DMatrix(x[train_end:valid_end], label=y[train_end:valid_end], missing=np.nan)
    t0 = time.time()
    bst = xgb.train(params, dtr, num_boost_round=500, evals=[(dva, "valid")],
                    early_stopping_rounds=50, verbose_eval=False)
    secs = time.time() - t0
    dte = xgb.DMatrix(x[valid_end:], missing=np.nan)
    p = bst.predict(dte, iteration_range=(0, bst.best_iteration + 1))
    return p, bst.best_iteration, secs


def recall_at_fpr(y, p, fpr_max):
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    return float(tpr[fpr <= fpr_max].max())


def metrics(y, p):
    return {"pr_auc": float(average_precision_score(y, p)),
            "roc_auc": float(roc_auc_score(y, p)),
            "recall_1pct": recall_at_fpr(y, p, 0.01),
            "rows": int(len(y)), "frauds": int(y.sum())}


SAMPLES = {
    "ulb": "data/samples/ulb/creditcard.csv.gz",
    "paysim": "data/samples/paysim/paysim.csv.gz",
    "sparkov": "data/samples/sparkov/sparkov_windows.csv.gz",
}


def run_c(fraud, sample, data, work, nthread):
    out = os.path.join(work, sample)
    t0 = time.time()
    subprocess.run([fraud, "train", "--schema", sample, "--out", out, "--quiet",
                    "--nthread", str(nthread), data], check=True)
    secs = time.time() - t0
    with open(os.path.join(out, "manifest.json")) as f:
        man = json.load(f)
    m = man["metrics"]["test"]
    return man, {"pr_auc": m["pr_auc"], "roc_auc": m["roc_auc"],
                 "recall_1pct": m["recall_at_fpr"]["0.01"], "rows": m["rows"],
                 "frauds": m["positives"]}, secs


def diagnose(fraud, sample, data, work, names, x):
    """Column-by-column comparison with the binary's features (debug aid)."""
    out = os.path.join(work, f"{sample}.features.csv")
    subprocess.run([fraud, "features", "--model", os.path.join(work, sample), data,
                    "-o", out], check=True, stdout=subprocess.DEVNULL)
    ours = pd.read_csv(out)
    for j, n in enumerate(names):
        a, b = x[:, j].astype(np.float64), ours[n].to_numpy(np.float64)
        both = np.isnan(a) & np.isnan(b)
        diff = np.where(both, 0, np.abs(a - b))
        bad = np.isnan(diff) | (diff > 1e-6 * np.maximum(1, np.abs(b)))
        if bad.any():
            i = int(np.argmax(bad))
            print(f"  {sample} {n}: {int(bad.sum())} rows differ, e.g. row {i}: "
                  f"python {a[i]!r} fraud {b[i]!r}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fraud")
    ap.add_argument("source")
    ap.add_argument("--samples", default="ulb,paysim,sparkov")
    ap.add_argument("--nthread", type=int, default=0,
                    help="XGBoost threads for both (default 0: all cores, as fraud train)")
    ap.add_argument("--assert", dest="check", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--diagnose", action="store_true")
    a = ap.parse_args()
    ok = True
    rows = []
    with tempfile.TemporaryDirectory(prefix="fraud-results-") as work:
        for s in a.samples.split(","):
            data = os.path.join(a.source, SAMPLES[s])
            man, c, c_secs = run_c(a.fraud, s, data, work, a.nthread)
            df, t, y = read(s, data)
            train_end, valid_end = split(t)
            names, x = features(s, df, t, y, train_end)
            if names != man["features"]:
                print(f"{s}: feature names differ: {names} vs {man['features']}", file=sys.stderr)
                ok = False
            if a.diagnose:
                diagnose(a.fraud, s, data, work, names, x)
            p, best_it, py_secs = train_python(x, y, train_end, valid_end, a.nthread)
            py = metrics(y[valid_end:], p)
            sp = man["split"]
            same_split = (sp["train_rows"] == train_end and
                          sp["valid_rows"] == valid_end - train_end and
                          sp["test_rows"] == len(y) - valid_end)
            trees_c = man["parameters"]["best_iteration"] + 1
            diff = abs(c["pr_auc"] - py["pr_auc"])
            good = same_split and diff < 5e-4
            ok = ok and good
            rows.append((s, c, py, trees_c, best_it + 1, diff, good, c_secs, py_secs))
            print(f"{s}: split {'same' if same_split else 'DIFFERENT'} "
                  f"({train_end}/{valid_end - train_end}/{len(y) - valid_end}); "
                  f"test PR-AUC fraud {c['pr_auc']:.4f} python {py['pr_auc']:.4f} "
                  f"(|diff| {diff:.2e}); ROC-AUC {c['roc_auc']:.4f} / {py['roc_auc']:.4f}; "
                  f"recall@1%FPR {c['recall_1pct']:.4f} / {py['recall_1pct']:.4f}; "
                  f"trees {trees_c} / {best_it + 1}; {'OK' if good else 'MISMATCH'}",
                  file=sys.stderr)
    if a.markdown:
        print("| sample | test rows | frauds | PR-AUC fraud | PR-AUC python | ROC-AUC fraud | "
              "ROC-AUC python | recall @ 1 % FPR fraud | recall @ 1 % FPR python | "
              "trees fraud / python |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s, c, py, tc, tp, diff, good, cs, ps in rows:
            print(f"| {s} | {c['rows']} | {c['frauds']} | {c['pr_auc']:.4f} | {py['pr_auc']:.4f} | "
                  f"{c['roc_auc']:.4f} | {py['roc_auc']:.4f} | {c['recall_1pct']:.4f} | "
                  f"{py['recall_1pct']:.4f} | {tc} / {tp} |")
    if a.check and not ok:
        print("check_results: the C pipeline and the independent Python pipeline disagree",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
