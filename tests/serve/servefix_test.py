#!/usr/bin/python3
"""Server correctness holes left from the reviews (the "servefix" list),
each against the real `fraud serve` / `fraud models` and the behaviour
docs/server.md, docs/metrics.md and docs/cli.md state:

1. a promoted production whose directory is removed falls back only to a
   version that serves what it served (the checks of `fraud models
   promote`): a newer bundle of another schema never takes over; with none
   left the model is not served (503) and the reason is logged;
2. fraud_http_requests_total labels a request with the version that
   handled it, and with version="" when it failed before a version was
   chosen (a 400 on the body is not put on production's account);
3. after an explicit unload, a stages.json naming a bare model file does
   not make it serve in a bundle's place (the load is refused, 503 stays);
5. a repeated query parameter of /v1/score is a 400 naming it;
6. the state snapshot written at stop is logged (path, entities, bytes);
7. `fraud models promote|rollback|canary|shadow --server URL` print the
   same human-readable line as the file mode, and a 409 its reason (exit 1).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import (FRAUD, SRC, Server, bundle, check, finish, make_repo, metric_value,
                           metrics, read_csv_rows, request, wait_for, write_stages)

PAYSIM = os.path.join(SRC, "data", "samples", "paysim", "paysim.csv.gz")
b1 = bundle("sparkov", "1", trees=30, seed=42)
b2 = bundle("sparkov", "2", trees=30, seed=7)
# A bundle of the same model name trained on another schema (PaySim).
b3p = bundle("sparkov", "3", trees=10, seed=42, schema="paysim", data=PAYSIM)
fixture = os.path.join(SRC, "tests", "fixtures", "serve", "xgb_small.json")
auth = {"Authorization": "Bearer test-token"}
header, rows = read_csv_rows()
txn = {h: v for h, v in zip(header, rows[0]) if h != "is_fraud"}




def score(port, query="model=sparkov", body=None):
    st, ans, _ = request(port, "POST", "/v1/score?" + query, txn if body is None else body)
    return st, ans.get("version") if isinstance(ans, dict) and st == 200 else ans


def serving(admin):
    st, ans, _ = request(admin, "GET", "/admin/models/sparkov", headers=auth)
    return (ans.get("serving") or {}) if st == 200 and isinstance(ans, dict) else {}


# ---- 1. the fallback of a removed production serves what it served ----
repo = make_repo({"sparkov": [("1", b1), ("2", b2), ("3", b3p)]})
mdir = os.path.join(repo, "sparkov")
write_stages(mdir, {"production": "2"})
srv = Server(repo)
port, admin = srv.port, srv.admin_port
check(score(port) == (200, "2"), f"production 2 serves: {score(port)}")
shutil.rmtree(os.path.join(mdir, "2"))
check(wait_for(lambda: serving(admin).get("production") == "1"),
      f"2 removed: the sparkov-schema bundle 1 takes over, not the newer paysim 3: "
      f"{serving(admin)}")
check(score(port) == (200, "1"), f"1 answers /v1/score: {score(port)}")
ev = [e for e in srv.events("model_routing") if "serving version 1 instead" in e["msg"]]
check(ev and ev[0]["level"] == "warn", f"the fallback to 1 is logged at warn: {ev}")
ev = [e for e in srv.events("model_fallback_refused") if "version '3'" in e["msg"]]
check(ev and ev[0]["level"] == "warn" and "cannot serve what production version '2' serves" in ev[0]["msg"],
      f"3 refused as a fallback, logged with the reason: {ev}")
# The last sparkov-schema bundle goes: nothing serves what 2 served.
nloaded = len(srv.events("model_loaded"))
shutil.rmtree(os.path.join(mdir, "1"))
check(wait_for(lambda: request(port, "GET", "/v2/models/sparkov/ready")[0] == 503),
      "1 removed too: the model is no longer served")
time.sleep(1.0)  # several polls
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn)
check(st == 503 and "serves what" in json.dumps(ans) and repo not in json.dumps(ans),
      f"/v1/score 503 with the reason, not 400s from the paysim 3: {st} {ans}")
ev = [e for e in srv.events("model_routing") if "no longer served" in e["msg"]]
check(ev and ev[-1]["level"] == "warn" and "serves what" in ev[-1]["msg"],
      f"'no longer served' logged at warn with the reason: {ev[-1:]}")
late = [e["msg"] for e in srv.events("model_loaded")[nloaded:]]
check(len(late) <= 1, f"3 is not reloaded at every poll: {late}")
# An explicit promotion of 3 (which `fraud models promote` accepts: nothing
# of another kind serves) is the operator's decision, and routes.
out = subprocess.run([FRAUD, "models", "promote", "--repository", repo, "sparkov", "3"],
                     capture_output=True, text=True)
check(out.returncode == 0, f"promote 3: {out.returncode} {out.stderr}")
check(wait_for(lambda: serving(admin).get("production") == "3"), f"3 promoted serves: "
      f"{serving(admin)}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)

# ---- 3. after an unload, a bare production named by stages.json ----
repo = make_repo({"sparkov": [("2", b2)]})
mdir = os.path.join(repo, "sparkov")
os.makedirs(os.path.join(mdir, "4"))
shutil.copy(fixture, os.path.join(mdir, "4", "model.json"))
write_stages(mdir, {"production": "2"})
srv = Server(repo)
port, admin = srv.port, srv.admin_port
check(score(port) == (200, "2"), f"production 2 serves: {score(port)}")
st, _, _ = request(admin, "POST", "/v2/repository/models/sparkov/unload", headers=auth)
check(st == 200, f"unload: {st}")
write_stages(mdir, {"production": "4"})
st, ans, _ = request(admin, "POST", "/v2/repository/models/sparkov/load", headers=auth)
check(st == 400 and "bare model" in json.dumps(ans) and repo not in json.dumps(ans),
      f"load refused: a bare 4 never replaces the bundle that served: {st} {ans}")
st, ans, _ = request(port, "GET", "/v2/models/sparkov/ready")
check(st == 503, f"not served: {st} {ans}")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn)
check(st == 503 and "bare model" in json.dumps(ans), f"/v1/score 503 with the reason: {st} {ans}")
ev = srv.events("release_refused")
check(ev and ev[-1]["level"] == "error" and "production: version '4'" in ev[-1]["msg"],
      f"release_refused logged: {ev[-1:]}")
write_stages(mdir, {"production": "2"})
st, ans, _ = request(admin, "POST", "/v2/repository/models/sparkov/load", headers=auth)
check(st == 200 and score(port) == (200, "2"), f"production 2 again: {st} {ans} {score(port)}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)

# ---- 2. the version label of /v1/score requests; 5. repeated parameters ----
repo = make_repo({"sparkov": [("1", b1), ("2", b2)]})
mdir = os.path.join(repo, "sparkov")
# Every card to the canary 1 (weight 1): production 2 answers nothing.
write_stages(mdir, {"production": "2", "canary": {"version": "1", "weight": 1}})
srv = Server(repo)
port, admin = srv.port, srv.admin_port
check(score(port) == (200, "1"), f"the canary 1 answers: {score(port)}")


def count(status, version):
    return metric_value(metrics(port), "fraud_http_requests_total", endpoint="/v1/score",
                        status=str(status), model="sparkov", version=version) or 0


before = {v: count(400, v) for v in ("1", "2", "")}
bad = dict(txn, amt="not a number")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", bad)
check(st == 400 and "amt" in json.dumps(ans), f"a bad amount: 400: {st} {ans}")
after = {v: count(400, v) for v in ("1", "2", "")}
check(after["1"] == before["1"] + 1 and after["2"] == before["2"],
      f"the 400 of the canary's row is labelled version 1, not production 2: {before} -> {after}")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", b"{not json")
check(st == 400, f"bad JSON: {st} {ans}")
after2 = {v: count(400, v) for v in ("1", "2", "")}
check(after2[""] == after[""] + 1 and after2["1"] == after["1"] and after2["2"] == after["2"],
      f"a request failing before routing is labelled version=\"\": {after} -> {after2}")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov&version=2", bad)
after3 = {v: count(400, v) for v in ("1", "2", "")}
check(st == 400 and after3["2"] == after2["2"] + 1,
      f"a pinned version is the one that handled it: {st} {after2} -> {after3}")
check(count(200, "1") >= 1 and count(200, "2") == 0, "200s labelled by the answering version")
for q, name in (("model=sparkov&reasons=3&reasons=5", "reasons"),
                ("model=sparkov&explain=features&explain=features", "explain"),
                ("model=sparkov&version=1&version=2", "version"),
                ("model=sparkov&model=sparkov", "model")):
    st, ans, _ = request(port, "POST", "/v1/score?" + q, txn)
    check(st == 400 and f"query parameter '{name}' is given more than once" in
          json.dumps(ans), f"?{q}: 400 naming {name}: {st} {ans}")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov&reasons=3&explain=features", txn)
check(st == 200 and len(ans.get("reasons", [])) == 3, f"distinct parameters still fine: {st} {ans}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)

# ---- 6. the snapshot written at stop is logged ----
repo = make_repo({"sparkov": [("2", b2)]})
tmp = tempfile.mkdtemp(prefix="fraud-servefix-snap-")
snapdir = os.path.join(tmp, "snap")
os.makedirs(snapdir)
cfg = os.path.join(tmp, "config.yaml")
with open(cfg, "w") as f:
    f.write(f"state:\n  snapshot:\n    path: {snapdir}/state\n")
srv = Server(repo, "--config", cfg)
port = srv.port
for row in rows[:20]:
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov",
                         {h: v for h, v in zip(header, row) if h != "is_fraud"})
    check(st == 200, f"score: {st} {ans}")
check(srv.stop() == 0, "exit")
ev = srv.events("state_snapshot_written")
files = [os.path.join(snapdir, n) for n in os.listdir(snapdir)]
check(len(ev) == 1 and ev[0]["level"] == "info" and len(files) == 1
      and ev[0].get("path") == files[0] and ev[0].get("bytes") == os.path.getsize(files[0])
      and ev[0].get("entities", 0) > 0, f"one info line with path, entities, bytes: {ev} {files}")
check(not [c for r in rows[:20] for c in [r[header.index("cc_num")]] if c in srv.text()],
      "no card number in the log")
# The next start restores that many entities (counted by the reader).
srv = Server(repo, "--config", cfg)
restored = srv.events("state_restored")
check(restored and ev and restored[0].get("entities") == ev[0].get("entities"),
      f"restored the entities the line counted: {restored} {ev}")
# A snapshot that cannot be written at stop: an error line.
shutil.rmtree(snapdir)
check(srv.stop() == 0, "exit")
ev = srv.events("state_snapshot_failed")
check(ev and ev[0]["level"] == "error" and "snap" in ev[0]["msg"], f"error line: {ev}")
check(not srv.events("state_snapshot_written"), "no success line for a failed write")
shutil.rmtree(tmp, ignore_errors=True)
shutil.rmtree(repo, ignore_errors=True)

# ---- 7. fraud models ... --server prints the file mode's line ----
repo = make_repo({"sparkov": [("1", b1), ("2", b2)]})
twin = make_repo({"sparkov": [("1", b1), ("2", b2)]})  # the same, edited offline
for r in (repo, twin):
    os.makedirs(os.path.join(r, "sparkov", "3"))
    shutil.copy(fixture, os.path.join(r, "sparkov", "3", "model.json"))
srv = Server(repo)
url = f"http://127.0.0.1:{srv.admin_port}"
for args in (["promote", "sparkov", "1"], ["canary", "sparkov", "2", "--weight", "0.25"],
             ["shadow", "sparkov", "2"], ["canary", "sparkov", "--off"],
             ["shadow", "sparkov", "--off"], ["promote", "sparkov", "2"], ["rollback", "sparkov"]):
    off = subprocess.run([FRAUD, "models", *args, "--repository", twin], capture_output=True,
                         text=True)
    on = subprocess.run([FRAUD, "models", *args, "--server", url, "--token", "test-token"],
                        capture_output=True, text=True)
    check(off.returncode == 0 and on.returncode == 0 and on.stdout == off.stdout
          and on.stdout.startswith("sparkov: production "),
          f"models {' '.join(args)}: --server prints what the file mode prints: "
          f"{on.returncode} {on.stdout!r} {on.stderr!r} vs {off.returncode} {off.stdout!r}")
on = subprocess.run([FRAUD, "models", "promote", "sparkov", "3", "--server", url, "--token",
                     "test-token"], capture_output=True, text=True)
check(on.returncode == 1 and on.stdout == "" and "HTTP 409" in on.stderr
      and "bare model" in on.stderr, f"a 409: its reason, exit 1: {on.returncode} {on.stdout!r} "
      f"{on.stderr!r}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)
shutil.rmtree(twin, ignore_errors=True)

finish("serve_servefix_py")
