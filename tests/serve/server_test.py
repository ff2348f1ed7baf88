#!/usr/bin/python3
"""Integration test of the server's foundation (issue 2 item 10), through
HTTP against the real `fraud serve`:

- health, server and model metadata;
- V2 inference, JSON flat and nested and the binary extension, whose
  probability and margin must equal XGBoost's own predictions (python3-xgboost
  loading the bundle's model.json) on the same feature rows;
- /v1/score: the whole sample replayed in event-time order, fields sent as
  CSV text and (every other row) as JSON numbers, each fraud_probability equal
  to the offline scoring of the same row (fresh state, same featurizer);
- every bad-input case: 4xx with {"error"} naming the field, counted in
  /metrics by reason, and the next valid request succeeds;
- /metrics accepted by promtool, histogram +Inf == _count;
- SIGTERM: exit 0.
"""
import json
import math
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import (Server, bundle, check, finish, make_repo, metric_value, metrics,
                           offline, read_csv_rows, request)

import numpy as np
import xgboost as xgb

b1 = bundle("sparkov", "1", trees=40)
manifest = json.load(open(os.path.join(b1, "manifest.json")))
F = len(manifest["features"])
th = manifest["thresholds"]
repo = make_repo({"sparkov": [("1", b1)]})
srv = Server(repo, "--set", "server.max_body_bytes=262144")
port = srv.port
conn = srv.conn()

# ---- health and metadata ----
st, body, _ = request(port, "GET", "/v2/health/live")
check(st == 200 and body == {"live": True}, f"live: {st} {body}")
st, body, _ = request(port, "GET", "/v2/health/ready")
check(st == 200 and body == {"ready": True}, f"ready: {st} {body}")
st, body, _ = request(port, "GET", "/v2")
check(st == 200 and body["name"] == "fraud" and "binary_tensor_data" in body["extensions"],
      f"server metadata: {body}")
st, meta, _ = request(port, "GET", "/v2/models/sparkov")
check(st == 200, f"model metadata status {st}")
check(meta["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, F]}],
      f"model inputs: {meta.get('inputs')}")
check([o["name"] for o in meta["outputs"]] == ["probability", "label", "margin", "contributions"],
      f"model outputs: {meta.get('outputs')}")
check(meta["parameters"]["feature_names"] == manifest["features"], "feature names")
st, _, _ = request(port, "GET", "/v2/models/sparkov/versions/1")
check(st == 200, "versioned metadata")
st, body, _ = request(port, "GET", "/v2/models/sparkov/ready")
check(st == 200 and body["ready"] is True, f"model ready: {body}")

# ---- V2 inference against XGBoost ----
off = offline(b1)
X = np.array([r["features"] for r in off[:64]], dtype=np.float32)
booster = xgb.Booster(model_file=os.path.join(b1, "model.json"))
dm = xgb.DMatrix(X, missing=np.nan)
ref_p = booster.predict(dm, validate_features=False).astype(np.float32)
ref_m = booster.predict(dm, output_margin=True, validate_features=False).astype(np.float32)
# The forest engine's probability is the logistic function of the margin
# evaluated in double and rounded once to float32 (docs/forest.md), so it may
# differ from XGBoost's float32 1/(1+expf(-x)) by one ulp: the reference is
# that formula applied to XGBoost's own margins.
m64 = ref_m.astype(np.float64)
ref_sig = np.where(m64 >= 0, 1.0 / (1.0 + np.exp(-m64)),
                   np.exp(m64) / (1.0 + np.exp(m64))).astype(np.float32)


def jnum(v):
    return None if math.isnan(v) else float(v)


flat = [jnum(v) for v in X.flatten()]
nested = [[jnum(v) for v in row] for row in X]
for label, data in (("flat", flat), ("nested", nested)):
    req = {"id": "req-" + label, "parameters": {"note": "accepted"},
           "inputs": [{"name": "features", "shape": [64, F], "datatype": "FP32", "data": data}],
           "outputs": [{"name": "probability"}, {"name": "margin"}, {"name": "label"}]}
    st, body, _ = request(port, "POST", "/v2/models/sparkov/infer", req, conn=conn)
    if not check(st == 200, f"infer {label}: {st} {body}"):
        continue
    check(body["id"] == "req-" + label and body["model_name"] == "sparkov"
          and body["model_version"] == "1", f"infer {label} envelope")
    outs = {o["name"]: o for o in body["outputs"]}
    p = np.array(outs["probability"]["data"], dtype=np.float32)
    m = np.array(outs["margin"]["data"], dtype=np.float32)
    check(outs["probability"]["shape"] == [64] and outs["probability"]["datatype"] == "FP32",
          "probability shape/datatype")
    check(np.array_equal(p, ref_sig), f"infer {label}: probabilities differ from the sigmoid of "
          f"XGBoost's margins (max diff {np.max(np.abs(p - ref_sig))})")
    check(np.all(np.abs(p - ref_p) <= np.spacing(ref_p)), f"infer {label}: probabilities more "
          "than one float32 ulp away from XGBoost's")
    check(np.array_equal(m, ref_m), f"infer {label}: margins differ from XGBoost "
          f"(max diff {np.max(np.abs(m - ref_m))})")
    want_label = (ref_p >= np.float32(th["decline"])).astype(int).tolist()
    check(outs["label"]["data"] == want_label and outs["label"]["datatype"] == "INT32", "labels")

# TreeSHAP contributions against XGBoost's pred_contribs (features then bias).
ref_c = booster.predict(dm, pred_contribs=True, validate_features=False)
st, body, _ = request(port, "POST", "/v2/models/sparkov/infer",
                      {"inputs": [{"name": "features", "shape": [64, F], "datatype": "FP32", "data": flat}],
                       "outputs": [{"name": "contributions"}]}, conn=conn)
if check(st == 200, f"contributions: {st} {body}"):
    out = body["outputs"][0]
    cmat = np.array(out["data"], dtype=np.float64).reshape(64, F + 1)
    check(out["shape"] == [64, F + 1], f"contributions shape {out['shape']}")
    check(np.max(np.abs(cmat - ref_c)) <= 1e-4, f"contributions differ from XGBoost pred_contribs "
          f"by {np.max(np.abs(cmat - ref_c))}")

# Binary extension: tensor after the JSON header, probability back in binary.
hdr = json.dumps({"inputs": [{"name": "features", "shape": [64, F], "datatype": "FP32",
                              "parameters": {"binary_data_size": X.nbytes}}],
                  "outputs": [{"name": "probability", "parameters": {"binary_data": True}},
                              {"name": "label"}]}).encode()
st, raw, hdrs = request(port, "POST", "/v2/models/sparkov/infer",
                        hdr + X.astype("<f4").tobytes(),
                        {"Inference-Header-Content-Length": str(len(hdr))}, conn=conn, raw=True)
if check(st == 200, f"binary infer: {st} {raw[:200]}"):
    jl = int(hdrs.get("inference-header-content-length", "0"))
    head = json.loads(raw[:jl])
    outs = {o["name"]: o for o in head["outputs"]}
    check(outs["probability"]["parameters"]["binary_data_size"] == 64 * 4, "binary size")
    p = np.frombuffer(raw[jl:jl + 256], dtype="<f4")
    check(np.array_equal(p, ref_sig), "binary probabilities equal the sigmoid of XGBoost's margins")
    check("data" in outs["label"], "non-binary output stays JSON")

# ---- /v1/score: replay the sample in event-time order ----
header, rows = read_csv_rows()
label_col = "is_fraud"
numeric = {"amt", "lat", "long", "city_pop", "unix_time", "merch_lat", "merch_long"}
mismatch = errors = 0
first_bad = None
for k, r in enumerate(off):
    rec = rows[r["source_row"]]
    txn = {h: v for h, v in zip(header, rec) if h != label_col}
    if k % 2:
        # The same text as JSON numbers: must score exactly the same.
        for h in numeric:
            v = txn[h]
            txn[h] = int(v) if v.lstrip("-").isdigit() else float(v)
    st, ans, _ = request(port, "POST", "/v1/score", txn, {"Content-Type": "application/json"},
                         conn=conn)
    if st != 200:
        errors += 1
        first_bad = first_bad or f"row {r['source_row']}: {st} {ans}"
        continue
    if ans["fraud_probability"] != float(r["probability"]):
        mismatch += 1
        first_bad = first_bad or (f"row {r['source_row']}: online {ans['fraud_probability']!r} "
                                  f"!= offline {r['probability']}")
    # The float32 the text denotes, compared in double as the server does.
    p = float(np.float32(ans["fraud_probability"]))
    want = "decline" if p >= th["decline"] else "review" if p >= th["review"] else "approve"
    if ans["decision"] != want or ans["transaction_id"] != txn["trans_num"] or \
            ans["model"] != "sparkov" or ans["version"] != "1" or ans["latency_us"] <= 0:
        mismatch += 1
        first_bad = first_bad or f"row {r['source_row']}: answer {ans} for {txn}, want {want}"
check(errors == 0 and mismatch == 0,
      f"/v1/score replay of {len(off)} rows: {errors} errors, {mismatch} mismatches; first: {first_bad}")
n_scored = len(off)

# Reasons: flagged answers carry the top three TreeSHAP contributions toward
# fraud (XGBoost's pred_contribs of the row's features, the largest positive
# ones), approvals none; ?reasons=5 asks for five on every answer.
fresh = Server(repo)
conn2 = fresh.conn()
checked_flagged = checked_ok = 0
for r in off[:3000]:
    rec = rows[r["source_row"]]
    txn = {h: v for h, v in zip(header, rec) if h != label_col}
    st, ans, _ = request(fresh.port, "POST", "/v1/score", txn, conn=conn2)
    if st != 200:
        check(False, f"reasons replay: {st} {ans}")
        break
    if ans["decision"] == "approve":
        check("reasons" not in ans, f"an approval carries reasons: {ans}")
        checked_ok += 1
        continue
    xr = np.array([r["features"]], dtype=np.float32)
    contrib = booster.predict(xgb.DMatrix(xr, missing=np.nan), pred_contribs=True,
                              validate_features=False)[0][:F]
    order = [i for i in np.argsort(-contrib, kind="stable") if contrib[i] > 0][:3]
    want = [manifest["features"][i] for i in order]
    got = [x["feature"] for x in ans.get("reasons", [])]
    check(got == want or np.allclose(sorted(contrib[order]), sorted(
        [x["contribution"] for x in ans.get("reasons", [])]), atol=1e-5),
        f"reasons {got} != XGBoost's top contributions {want}")
    for x in ans.get("reasons", []):
        i = manifest["features"].index(x["feature"])
        check(abs(x["contribution"] - contrib[i]) <= 1e-5, f"contribution of {x['feature']}")
    checked_flagged += 1
check(checked_flagged > 0 and checked_ok > 0, f"reasons: {checked_flagged} flagged, {checked_ok} approved")
st, ans, _ = request(fresh.port, "POST", "/v1/score?reasons=5", batch_probe := {h: v for h, v in zip(
    header, rows[off[5]["source_row"]]) if h != label_col}, conn=conn2)
check(st == 200 and len(ans.get("reasons", [])) <= 5 and "reasons" in ans, f"?reasons=5: {ans}")
st, ans, _ = request(fresh.port, "POST", "/v1/score?reasons=99", batch_probe, conn=conn2)
check(st == 400 and "reasons" in ans.get("error", ""), f"?reasons=99: {st} {ans}")
conn2.close()
check(fresh.stop() == 0, "exit of the reasons server")

# An array of transactions answers an array, in order.
batch = [{h: v for h, v in zip(header, rows[i]) if h != label_col} for i in (0, 1, 2)]
st, ans, _ = request(port, "POST", "/v1/score", batch, conn=conn)
check(st == 200 and isinstance(ans, list) and [a["transaction_id"] for a in ans] ==
      [b["trans_num"] for b in batch], f"array scoring: {st} {ans}")
n_scored += 1

# ---- every bad input ----
valid = {h: v for h, v in zip(header, rows[0]) if h != label_col}

good_v2 = {"inputs": [{"name": "features", "shape": [1, F], "datatype": "FP32",
                       "data": [jnum(v) for v in X[0]]}]}


def without(d, key):
    return {k: v for k, v in d.items() if k != key}


def with_(d, key, value):
    e = dict(d)
    e[key] = value
    return e


def v2(**kw):
    t = dict(good_v2["inputs"][0])
    t.update(kw)
    return {"inputs": [t]}


# The label is not used for scoring: ignored online, whatever it holds.
st, ans, _ = request(port, "POST", "/v1/score", with_(valid, "is_fraud", 7), conn=conn)
check(st == 200, f"is_fraud 7 (a label column) is ignored: {st} {ans}")
n_scored += 1

# A rejected transaction leaves no trace in the state or the amount
# counter: a card's first request carries an event time past the schema's
# range (before the fix it was stored, and every later real transaction of
# the card was "late": true and never stored), then a real one.  Card
# and merchant are new: no real event of theirs is later.
def amount_total():
    return metric_value(metrics(port), "fraud_scored_amount_total") or 0.0


amount_before = amount_total()
fresh_card = dict(valid, cc_num="4000000000000002", merchant="fixdata_probe_merchant",
                  trans_num="fixdata-probe-1")
for bad_t in (4102444801, 1e19, 5e9):
    st, ans, _ = request(port, "POST", "/v1/score", with_(fresh_card, "unix_time", bad_t), conn=conn)
    check(st == 400 and "unix_time" in ans.get("error", ""), f"unix_time {bad_t}: {st} {ans}")
st, ans, _ = request(port, "POST", "/v1/score", with_(fresh_card, "amt", -5), conn=conn)
check(st == 400, f"amt -5: {st} {ans}")
check(amount_total() == amount_before,
      f"fraud_scored_amount_total moved on rejected requests: {amount_before} -> {amount_total()}")
st, ans, _ = request(port, "POST", "/v1/score", dict(fresh_card, trans_num="fixdata-probe-2"),
                     conn=conn)
check(st == 200 and "late" not in ans and "duplicate" not in ans,
      f"a real transaction after rejected ones is scored and stored normally: {st} {ans}")
n_scored += 1


bad = [
    ("POST", "/v1/score", "{\"amt\": ", 400, "invalid JSON", "bad_json"),
    ("POST", "/v1/score", "[]", 400, "0 transactions", "bad_shape"),
    ("POST", "/v1/score", "42", 400, "invalid JSON", "bad_json"),
    ("POST", "/v1/score", without(valid, "amt"), 400, "field 'amt' is missing", "missing_field"),
    ("POST", "/v1/score", without(valid, "unix_time"), 400, "field 'unix_time'", "missing_field"),
    ("POST", "/v1/score", with_(valid, "amt", "12,5"), 400, "field 'amt'", "bad_type"),
    ("POST", "/v1/score", with_(valid, "amt", True), 400, "field 'amt'", "bad_type"),
    ("POST", "/v1/score", with_(valid, "unix_time", "yesterday"), 400, "field 'unix_time'", "bad_type"),
    ("POST", "/v1/score", [valid, without(valid, "cc_num")], 400, "transactions[1]: field 'cc_num'",
     "missing_field"),
    # Values the schema (schemas/sparkov.yaml) rules out: amt min 0 and
    # max_null_rate 0, lat -90..90; the offending value is not echoed.
    ("POST", "/v1/score", with_(valid, "amt", -5), 400, "field 'amt': below the schema's min 0",
     "out_of_range"),
    ("POST", "/v1/score", with_(valid, "amt", "-5"), 400, "field 'amt': below the schema's min 0",
     "out_of_range"),
    ("POST", "/v1/score", with_(valid, "amt", "NaN"), 400, "field 'amt': NaN is not a value",
     "out_of_range"),
    ("POST", "/v1/score", with_(valid, "amt", None), 400, "field 'amt' is null", "missing_field"),
    ("POST", "/v1/score", with_(valid, "amt", "1e400"), 400, "field 'amt': not a finite number",
     "bad_type"),
    ("POST", "/v1/score", with_(valid, "merch_lat", 90.5), 400,
     "field 'merch_lat': above the schema's max 90", "out_of_range"),
    # Event times: the hard range (int64 nanoseconds, 1677..2262), then the
    # schema's (no bounds declared: 1970-01-01..2100-01-01, as validate).
    ("POST", "/v1/score", with_(valid, "unix_time", 1e300), 400,
     "field 'unix_time': event time outside the supported range", "out_of_range"),
    ("POST", "/v1/score", with_(valid, "unix_time", 10 ** 19), 400, "invalid JSON", "bad_json"),
    ("POST", "/v1/score", with_(valid, "unix_time", "99999999999999999999"), 400,
     "field 'unix_time': event time outside the supported range", "out_of_range"),
    ("POST", "/v1/score", with_(valid, "unix_time", "4111111111111111"), 400,
     "field 'unix_time': event time outside the supported range", "out_of_range"),
    ("POST", "/v1/score", with_(valid, "unix_time", "4111111111111111x"), 400,
     "field 'unix_time': not an event time in the schema's format", "bad_type"),
    ("POST", "/v1/score", with_(valid, "unix_time", -99999999999), 400,
     "field 'unix_time': event time outside the supported range", "out_of_range"),
    ("POST", "/v1/score", with_(valid, "unix_time", 4102444801), 400,
     "field 'unix_time': event time 2100-01-01T00:00:01Z outside the schema's range "
     "1970-01-01T00:00:00Z .. 2100-01-01T00:00:00Z", "out_of_range"),
    ("POST", "/v1/score", with_(valid, "unix_time", -1), 400, "outside the schema's range",
     "out_of_range"),
    ("POST", "/v1/score?model=nope", valid, 404, "unknown model 'nope'", "unknown_model"),
    ("POST", "/v1/score?version=7", valid, 404, "no loaded version '7'", "unknown_model"),
    ("POST", "/v2/models/sparkov/infer", "{", 400, "invalid JSON", "bad_json"),
    ("POST", "/v2/models/sparkov/infer", v2(shape=[1, F + 1]), 400, "inputs[0].data", "bad_shape"),
    ("POST", "/v2/models/sparkov/infer", v2(shape=[1, F + 1], data=[0.0] * (F + 1)), 400,
     f"does not match the model's [N, {F}]", "bad_shape"),
    ("POST", "/v2/models/sparkov/infer", v2(shape=[-1, F]), 400, "inputs[0].shape[0]", "bad_shape"),
    ("POST", "/v2/models/sparkov/infer", v2(shape=[0, F], data=[]), 400, "must be positive", "bad_shape"),
    ("POST", "/v2/models/sparkov/infer", v2(shape=[10 ** 12, F]), 400, "more than", "bad_shape"),
    ("POST", "/v2/models/sparkov/infer", v2(data=[1.0] * (F - 1)), 400, "values but shape", "bad_shape"),
    ("POST", "/v2/models/sparkov/infer", v2(data=[[1.0] * F, [2.0]]), 400, "nesting does not match",
     "bad_shape"),
    ("POST", "/v2/models/sparkov/infer", v2(datatype="BYTES"), 400, "unsupported datatype", "bad_type"),
    ("POST", "/v2/models/sparkov/infer", v2(data=["x"] * F), 400, "inputs[0].data[0]", "bad_type"),
    # 1e39 overflows float32 (FLT_MAX ~ 3.4028e38): refused, not read as a missing value.
    ("POST", "/v2/models/sparkov/infer", v2(data=[0.0, 1e39] + [0.0] * (F - 2)), 400,
     "inputs[0].data[1]: FP32 tensor element outside the float32 range", "out_of_range"),
    ("POST", "/v2/models/sparkov/infer", v2(datatype="FP64", data=[-1e300] + [0.0] * (F - 1)), 400,
     "inputs[0].data[0]: FP64 tensor element outside the float32 range", "out_of_range"),
    ("POST", "/v2/models/sparkov/infer", v2(name="input__0"), 400, "unknown input 'input__0'",
     "missing_field"),
    ("POST", "/v2/models/sparkov/infer", {"inputs": good_v2["inputs"], "outputs": [{"name": "proba"}]},
     400, "unknown output 'proba'", "missing_field"),
    ("POST", "/v2/models/nope/infer", good_v2, 404, "unknown model 'nope'", "unknown_model"),
    ("POST", "/v2/models/sparkov/versions/9/infer", good_v2, 404, "no loaded version '9'",
     "unknown_model"),
    ("GET", "/v2/models/sparkov/infer", None, 405, "not allowed", "method_not_allowed"),
    ("GET", "/v3/nothing", None, 404, "no endpoint", "not_found"),
    ("POST", "/v1/score", "x" * 300000, 413, "exceeds the limit", "too_large"),
]
for method, path, body, want_status, want_msg, reason in bad:
    st, ans, hdrs = request(port, method, path, body)
    ok = check(st == want_status, f"{method} {path} {str(body)[:80]}: status {st}, want {want_status}: {ans}")
    if ok:
        msg = ans.get("error", "") if isinstance(ans, dict) else ""
        check(want_msg in msg, f"{method} {path}: error '{msg}' lacks '{want_msg}'")
        # Errors name the field, never repeat a value that may be a card number.
        check("4111111111111111" not in msg, f"{method} {path}: error repeats the value: '{msg}'")
        check(hdrs.get("content-type", "").startswith("application/json"), "error content type")
    # The next valid request succeeds.
    st2, ans2, _ = request(port, "POST", "/v2/models/sparkov/infer", good_v2)
    check(st2 == 200, f"valid request after {path} failed: {st2} {ans2}")
    n_infer_ok = None

# A client's request id that looks like a card number is masked (it is
# echoed and logged): PCI DSS 3.4, the last four digits at most.
st, _, hdrs = request(port, "GET", "/v2/health/live", headers={"X-Request-Id": "4111111111111111"})
check(st == 200 and hdrs.get("x-request-id") == "************1111",
      f"request id echoed as {hdrs.get('x-request-id')}")
st, _, hdrs = request(port, "GET", "/v2/health/live", headers={"X-Request-Id": "order-1234"})
check(hdrs.get("x-request-id") == "order-1234", f"a plain request id is kept: {hdrs.get('x-request-id')}")

# ---- metrics ----
text = metrics(port)
lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
check(lint.returncode == 0, "promtool check metrics: " + lint.stdout + lint.stderr)
check(metric_value(text, "fraud_http_requests_total", endpoint="/v1/score", status="200",
                   model="sparkov", version="1") == n_scored,
      f"/v1/score 200 count {metric_value(text, 'fraud_http_requests_total', endpoint='/v1/score', status='200')} != {n_scored}")
for _, path, _, _, _, reason in bad:
    pass
for reason in sorted({b[5] for b in bad}):
    v = metric_value(text, "fraud_request_errors_total", reason=reason)
    check(v is not None and v > 0, f"fraud_request_errors_total{{reason={reason}}} missing")
check(metric_value(text, "fraud_decisions_total", model="sparkov") == n_scored - 1 + 3,
      "decisions count = transactions scored")
check(metric_value(text, "fraud_ready") == 1, "fraud_ready gauge")
check(metric_value(text, "fraud_model_ready", model="sparkov", version="1") == 1, "model ready gauge")
# Every histogram: +Inf bucket == _count.
infs, counts = {}, {}
for line in text.splitlines():
    if line.startswith("#"):
        continue
    head, _, val = line.rpartition(" ")
    if '_bucket{' in head and 'le="+Inf"' in head:
        key = head.replace(',le="+Inf"', "").replace('le="+Inf"', "").replace("_bucket", "")
        infs[key.replace("{}", "")] = val
    elif "_count" in head:
        counts[head.replace("_count", "")] = val
check(infs and all(counts.get(k) == v for k, v in infs.items()), "histogram +Inf == _count")

conn.close()
status = srv.stop()
check(status == 0, f"exit status after SIGTERM: {status}")
finish("serve_server_py")
