#!/usr/bin/python3
"""Integration test of the model repository (issue 5 item 4) against the real
`fraud serve`:

- several models at once: a bundle model with three versions under a
  {latest: 2} policy, and bare XGBoost model files served with Triton FIL's
  tensor names, whose probabilities and treeshap_output equal XGBoost's own
  (predict, pred_contribs) on the fixture made by
  tests/fixtures/serve/make_fixture.py, one of them with a FIL config.pbtxt
  asking for class probabilities;
- /v1/score without ?model= when several models are loaded: 400; with it,
  the newest version; a bare model cannot score raw transactions;
- version policies changed by reload: {specific: [1]} loads 1 and unloads
  the others;
- explicit mode: only startup_models load; the repository API loads the
  others; new versions wait for an explicit load;
- `fraud models show` and `diff`; versions are immutable (`fraud train`
  refuses an existing version directory).
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import xgboost as xgb

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import (FRAUD, SPARKOV, SRC, Server, bundle, check, finish, make_repo,
                           read_csv_rows, request, wait_for)

b1 = bundle("sparkov", "1", trees=30, seed=42)
b2 = bundle("sparkov", "2", trees=30, seed=7)
b3 = bundle("sparkov", "3", trees=30, seed=11)
repo = make_repo({"sparkov": [("1", b1), ("2", b2), ("3", b3)]})
fixture = os.path.join(SRC, "tests", "fixtures", "serve")
os.makedirs(os.path.join(repo, "fil", "1"))
shutil.copy(os.path.join(fixture, "xgb_small.json"), os.path.join(repo, "fil", "1", "xgboost.json"))
# A bare model with a Triton FIL config (model level, as Triton keeps it):
# output__0 as class probabilities [P(0), P(1)].
os.makedirs(os.path.join(repo, "filproba", "1"))
shutil.copy(os.path.join(fixture, "xgb_small.json"), os.path.join(repo, "filproba", "1", "xgboost.json"))
with open(os.path.join(repo, "filproba", "config.pbtxt"), "w") as f:
    f.write('backend: "fil"\nmax_batch_size: 8192\n'
            'parameters [\n'
            '  { key: "model_type" value: { string_value: "xgboost_json" } },\n'
            '  { key: "output_class" value: { string_value: "true" } },\n'
            '  { key: "predict_proba" value: { string_value: "true" } }\n]\n')
cfgdir = tempfile.mkdtemp(prefix="fraud-repo-cfg-")
cfg = os.path.join(cfgdir, "config.yaml")
with open(cfg, "w") as f:
    f.write("models:\n  sparkov:\n    version_policy: {latest: 2}\n")
srv = Server(repo, "--config", cfg)
auth = {"Authorization": "Bearer test-token"}


def index():
    st, idx, _ = request(srv.admin_port, "POST", "/v2/repository/index", {}, headers=auth)
    return {(e["name"], e["version"]): e["state"] for e in idx} if st == 200 else {}



idx = index()
check(idx == {("fil", "1"): "READY", ("filproba", "1"): "READY", ("sparkov", "1"): "UNAVAILABLE",
              ("sparkov", "2"): "READY", ("sparkov", "3"): "READY"}, f"index under {{latest: 2}}: {idx}")
st, meta, _ = request(srv.port, "GET", "/v2/models/sparkov")
check(st == 200 and meta["versions"] == ["2", "3"] and meta["parameters"]["version"] == "3",
      f"sparkov metadata: {meta}")

# The bare model: FIL names, XGBoost's probabilities.
rows, want = [], []
with open(os.path.join(fixture, "xgb_small_rows.csv")) as f:
    for rec in csv.DictReader(f):
        rows.append([None if rec[f"f{i}"] == "" else float(rec[f"f{i}"]) for i in range(6)])
        want.append(float(rec["probability"]))
st, meta, _ = request(srv.port, "GET", "/v2/models/fil")
check(st == 200 and meta["inputs"][0]["name"] == "input__0" and meta["inputs"][0]["shape"] == [-1, 6]
      and meta["outputs"][0]["name"] == "output__0", f"bare model metadata: {meta}")
st, ans, _ = request(srv.port, "POST", "/v2/models/fil/infer",
                     {"inputs": [{"name": "input__0", "shape": [len(rows), 6], "datatype": "FP32",
                                  "data": rows}]})
w = np.array(want, dtype=np.float32)
if check(st == 200, f"bare model infer: {st} {ans}"):
    g = np.array(ans["outputs"][0]["data"], dtype=np.float32)
    check(np.all(np.abs(g - w) <= np.spacing(w)), f"bare model probabilities vs XGBoost: max diff "
          f"{np.max(np.abs(g - w))}")

# treeshap_output: XGBoost's pred_contribs; FIL config: class probabilities.
bst = xgb.Booster(model_file=os.path.join(fixture, "xgb_small.json"))
R = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float32)
ref_c = bst.predict(xgb.DMatrix(R, missing=np.nan), pred_contribs=True)
st, ans, _ = request(srv.port, "POST", "/v2/models/fil/infer",
                     {"inputs": [{"name": "input__0", "shape": [len(rows), 6], "datatype": "FP32",
                                  "data": rows}], "outputs": [{"name": "treeshap_output"}]})
if check(st == 200, f"treeshap_output: {st} {ans}"):
    c = np.array(ans["outputs"][0]["data"]).reshape(len(rows), 7)
    check(ans["outputs"][0]["shape"] == [len(rows), 7] and np.max(np.abs(c - ref_c)) <= 1e-5,
          f"treeshap_output vs XGBoost pred_contribs: {np.max(np.abs(c - ref_c))}")
st, ans, _ = request(srv.port, "POST", "/v2/models/filproba/infer",
                     {"inputs": [{"name": "input__0", "shape": [len(rows), 6], "datatype": "FP32",
                                  "data": rows}]})
if check(st == 200, f"FIL predict_proba: {st} {ans}"):
    out = ans["outputs"][0]
    pr = np.array(out["data"], dtype=np.float32).reshape(len(rows), 2)
    check(out["name"] == "output__0" and out["shape"] == [len(rows), 2] and
          np.all(np.abs(pr[:, 1] - w) <= np.spacing(w)) and np.all(np.abs(pr[:, 0] + pr[:, 1] - 1) <= 1e-6),
          f"FIL output__0 [P(0), P(1)]: {out['shape']}")

header, data = read_csv_rows()
txn = {h: v for h, v in zip(header, data[0]) if h != "is_fraud"}
st, ans, _ = request(srv.port, "POST", "/v1/score", txn)
check(st == 400 and "several models" in ans.get("error", ""), f"/v1/score without a model: {st} {ans}")
st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov", txn)
check(st == 200 and ans["version"] == "3", f"/v1/score?model=sparkov: {st} {ans}")
st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov&version=2", txn)
check(st == 200 and ans["version"] == "2", f"/v1/score pinned to version 2: {st} {ans}")
st, ans, _ = request(srv.port, "POST", "/v1/score?model=fil", txn)
check(st == 400 and "bare model" in ans.get("error", ""), f"/v1/score on a bare model: {st} {ans}")

# Policy change through a reload: only version 1.
with open(cfg, "w") as f:
    f.write("models:\n  sparkov:\n    version_policy: {specific: [1]}\n")
srv.proc.send_signal(signal.SIGHUP)
check(wait_for(lambda: index().get(("sparkov", "1")) == "READY" and
               index().get(("sparkov", "3")) == "UNAVAILABLE"), f"{{specific: [1]}} after reload: {index()}")
st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov", txn)
check(st == 200 and ans["version"] == "1", f"version 1 serves: {ans}")
check(srv.stop() == 0, "exit")

# Explicit mode.
srv = Server(repo, "--repository-mode", "explicit", "--set", "repository.startup_models=fil")
check(request(srv.port, "GET", "/v2/models/fil/ready")[0] == 200, "startup model loaded")
check(request(srv.port, "GET", "/v2/models/filproba/ready")[0] == 404, "non-startup bare model not loaded")
check(request(srv.port, "GET", "/v2/models/sparkov/ready")[0] == 404, "other models not loaded")
st, _, _ = request(srv.admin_port, "POST", "/v2/repository/models/sparkov/load", headers=auth)
check(st == 200, f"explicit load: {st}")
st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov", txn)
check(st == 200 and ans["version"] == "3", f"explicitly loaded newest version: {ans}")
shutil.copytree(b1, os.path.join(repo, "sparkov", "4"))
time.sleep(0.6)  # several poll intervals: explicit mode does not poll
st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov", txn)
check(ans.get("version") == "3", f"no polling in explicit mode: {ans}")
st, body, _ = request(srv.admin_port, "POST", "/v2/repository/models/sparkov/load", headers=auth)
# Version 4 is a copy of version 1: its manifest says version 1, so it is refused
# (a mismatched bundle), and version 3 keeps serving.
check(st == 200, f"reload with a mismatched version 4: {st} {body}")
st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov", txn)
check(ans.get("version") == "3", f"mismatched bundle refused, version 3 serves: {ans}")
ev = [e for e in srv.events("model_load_failed") if e.get("version") == "4"]
check(ev and "manifest names model 'sparkov' version '1'" in ev[0]["msg"], f"mismatch reason: {ev[:1]}")
check(srv.stop() == 0, "exit")
shutil.rmtree(os.path.join(repo, "sparkov", "4"))

# fraud models show / diff; immutable versions.
out = subprocess.run([FRAUD, "models", "show", "--repository", repo, "sparkov", "2"], capture_output=True,
                     text=True)
check(out.returncode == 0 and json.loads(out.stdout)["manifest"]["version"] == "2", "models show")
out = subprocess.run([FRAUD, "models", "diff", "--repository", repo, "sparkov", "1", "2"], capture_output=True,
                     text=True)
check(out.returncode == 0 and "parameters.seed" in out.stdout, f"models diff: {out.stdout}")
out = subprocess.run([FRAUD, "train", "--schema", "sparkov", "--out", os.path.join(repo, "sparkov", "2"),
                      "--n-estimators", "2", "--quiet", SPARKOV], capture_output=True, text=True)
check(out.returncode != 0, "a second write to an existing version fails")
check(json.load(open(os.path.join(repo, "sparkov", "2", "manifest.json")))["version"] == "2",
      "version 2 untouched")

# Release commands refuse what the server would refuse: a version whose
# manifest names another version, a canary or shadow equal to production;
# a rollback leaves no canary/shadow naming the restored production.
def models(*args):
    return subprocess.run([FRAUD, "models", *args[:1], "--repository", repo, *args[1:]],
                          capture_output=True, text=True)


def stages():
    return json.load(open(os.path.join(repo, "sparkov", "stages.json")))


shutil.copytree(os.path.join(repo, "sparkov", "2"), os.path.join(repo, "sparkov", "5"))
for cmd in (["promote", "sparkov", "5"], ["canary", "sparkov", "5", "--weight", "0.2"],
            ["shadow", "sparkov", "5"]):
    out = models(*cmd)
    check(out.returncode == 1 and "cannot be served: its manifest names sparkov/2" in out.stderr,
          f"models {cmd[0]} of a mismatched version: rc {out.returncode}: {out.stderr}")
shutil.rmtree(os.path.join(repo, "sparkov", "5"))
# A bundle whose files no longer match their sha256 (its manifest names it
# right): the server's load would refuse it, so does promote.
shutil.copytree(os.path.join(repo, "sparkov", "2"), os.path.join(repo, "sparkov", "6"))
mp = os.path.join(repo, "sparkov", "6", "manifest.json")
m = json.load(open(mp))
m["version"] = "6"
json.dump(m, open(mp, "w"))
with open(os.path.join(repo, "sparkov", "6", "model.json"), "a") as fh:
    fh.write(" ")
out = models("promote", "sparkov", "6")
check(out.returncode == 1 and "version '6' of model 'sparkov' cannot be served" in out.stderr
      and "model.json" in out.stderr, f"promote of a tampered bundle: rc {out.returncode}: {out.stderr}")
shutil.rmtree(os.path.join(repo, "sparkov", "6"))
out = models("promote", "sparkov", "1")
check(out.returncode == 0, f"promote 1: {out.stderr}")
out = models("canary", "sparkov", "1", "--weight", "0.3")
check(out.returncode == 1 and "is production" in out.stderr, f"canary = production: {out.stderr}")
out = models("shadow", "sparkov", "1")
check(out.returncode == 1 and "is production" in out.stderr, f"shadow = production: {out.stderr}")
check(models("promote", "sparkov", "2").returncode == 0, "promote 2")
check(models("canary", "sparkov", "1", "--weight", "0.5").returncode == 0, "canary 1")
check(models("shadow", "sparkov", "1").returncode == 0, "shadow 1")
out = models("rollback", "sparkov")
st = stages()
check(out.returncode == 0 and st["production"] == "1" and not st.get("canary")
      and not st.get("shadow"), f"rollback to 1 clears canary/shadow 1: {out.stderr} {st}")

# The promoted production version disappears while serving: the server falls
# back to what it has, and says so at warn level.
check(models("promote", "sparkov", "2").returncode == 0, "promote 2 again")
srv = Server(repo)
st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov", txn)
check(st == 200 and ans.get("version") == "2", f"production 2 serves: {st} {ans}")
shutil.move(os.path.join(repo, "sparkov", "2"), os.path.join(cfgdir, "moved-2"))
deadline = time.time() + 10
warned = []
while time.time() < deadline and not warned:
    warned = [e for e in srv.events("model_routing") if e.get("level") == "warn"]
    time.sleep(0.1)
check(warned and "production version 2 (stages.json) is not available; serving version"
      in warned[0]["msg"], f"fallback warning: {warned[:1]}")
check(srv.stop() == 0, "exit")

shutil.rmtree(repo, ignore_errors=True)
shutil.rmtree(cfgdir, ignore_errors=True)
finish("serve_repository_py")
