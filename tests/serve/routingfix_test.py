#!/usr/bin/python3
"""Model-routing holes from a newcomer review, against the real
`fraud serve` and the rules of docs/server.md (model repository):

1. the implicit production (no stages.json) is held to the release checks:
   a newer bundle of another schema does not take over from the serving
   one (logged once at warn with the reason, counted as a failed load), and
   promote/rollback through the admin API compare with what the server
   serves, not with the refused newcomer on disk;
   a release back to what the model served before another interface got
   in (a stages.json naming it while nothing served) is accepted;
   a serving version whose directory is gone never keeps serving, even
   while stages.json names a production the checks refused against it
   (the file is then checked as with nothing serving), and an implicit
   production that is gone falls back only to a version serving what it
   served;
2. a version directory whose files are rewritten in place (the directory's
   own mtime unchanged) is retried at the next poll;
3. an unload + load starts the online state afresh (memory backend, no
   snapshot path), as docs/server.md says.
"""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import (SRC, Server, bundle, check, finish, make_repo, metric_value, metrics,
                           read_csv_rows, request, wait_for, write_stages)

PAYSIM = os.path.join(SRC, "data", "samples", "paysim", "paysim.csv.gz")
b1 = bundle("sparkov", "1", trees=30, seed=42)
b2 = bundle("sparkov", "2", trees=30, seed=7)
b7 = bundle("sparkov", "7", trees=30, seed=11)
# The same model name trained on another schema (PaySim): another interface.
b8p = bundle("sparkov", "8", trees=10, seed=42, schema="paysim", data=PAYSIM)
auth = {"Authorization": "Bearer test-token"}
header, rows = read_csv_rows()
txn = {h: v for h, v in zip(header, rows[0]) if h != "is_fraud"}




def add_version(model_dir, version, src):
    """A version directory appearing at once (copied aside, then renamed)."""
    tmp = os.path.join(os.path.dirname(model_dir), f".tmp-{version}")
    shutil.copytree(src, tmp)
    os.rename(tmp, os.path.join(model_dir, version))


def score(port, query="model=sparkov"):
    st, ans, _ = request(port, "POST", "/v1/score?" + query, txn)
    return st, ans.get("version") if isinstance(ans, dict) and st == 200 else ans


def serving(admin):
    st, ans, _ = request(admin, "GET", "/admin/models/sparkov", headers=auth)
    return (ans.get("serving") or {}) if st == 200 and isinstance(ans, dict) else {}


def failures(port):
    return metric_value(metrics(port), "fraud_model_loads_total", model="sparkov",
                        result="failure") or 0


# ---- 1a. an implicit switch to another interface is refused ----
repo = make_repo({"sparkov": [("1", b1), ("2", b2), ("7", b7)]})
mdir = os.path.join(repo, "sparkov")
write_stages(mdir, {"production": "2"})
srv = Server(repo)
port, admin = srv.port, srv.admin_port
check(score(port) == (200, "2"), f"production 2 serves: {score(port)}")
os.unlink(os.path.join(mdir, "stages.json"))  # nobody promoted: the implicit production
check(wait_for(lambda: serving(admin).get("production") == "7"),
      f"no stages.json: the newest, 7, serves: {serving(admin)}")
fail0 = failures(port)
add_version(mdir, "8", b8p)
check(wait_for(lambda: srv.events("model_switch_refused")),
      f"the paysim 8 is vetted: {srv.events('model_routing')[-2:]}")
time.sleep(1.0)  # several polls
ev = srv.events("model_switch_refused")
check(len(ev) == 1 and ev[0]["level"] == "warn" and "version '8'" in ev[0]["msg"]
      and "cannot serve what production version '7' serves" in ev[0]["msg"],
      f"refused once, at warn, with the reason: {ev}")
check(serving(admin).get("production") == "7" and score(port) == (200, "7"),
      f"7 keeps serving /v1/score: {serving(admin)} {score(port)}")
check(not [e for e in srv.events("model_routing") if "now serves version 8" in e["msg"]],
      "8 never serves")
check(failures(port) == fail0 + 1, f"counted once as a failed load: {fail0} -> {failures(port)}")
# Releases through the admin API compare with what serves (7), not with 8.
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/promote", {"version": "2"},
                     headers=auth)
check(st == 200 and serving(admin).get("production") == "2"
      and ans.get("stages", {}).get("history") == ["7"],
      f"promote 2 (rollback target 7, what served): {st} {ans}")
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/rollback", None, headers=auth)
check(st == 200 and serving(admin).get("production") == "7", f"rollback to 7: {st} {ans}")
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/promote", {"version": "8"},
                     headers=auth)
check(st == 409 and "cannot serve what production version '7' serves" in json.dumps(ans),
      f"promoting 8 itself is still refused: {st} {ans}")
check(score(port) == (200, "7"), f"7 serves: {score(port)}")

# ---- 1b. a release back after another interface got in ----
# An unload, then a stages.json naming 8: nothing serves, so 8 gets in.
st, _, _ = request(admin, "POST", "/v2/repository/models/sparkov/unload", headers=auth)
check(st == 200, f"unload: {st}")
write_stages(mdir, {"production": "8"})
st, ans, _ = request(admin, "POST", "/v2/repository/models/sparkov/load", headers=auth)
check(st == 200 and serving(admin).get("production") == "8", f"8 serves: {st} {ans}")
# Back to 2 by hand (it serves what 7 served before 8): accepted.
write_stages(mdir, {"production": "2"})
check(wait_for(lambda: serving(admin).get("production") == "2"),
      f"stages.json naming 2 is a release back, not refused against 8: {serving(admin)} "
      f"{[e['msg'] for e in srv.events('release_refused')][-1:]}")
check(score(port) == (200, "2"), f"2 answers /v1/score: {score(port)}")
# And through the admin API, after 8 got in again.
st, _, _ = request(admin, "POST", "/v2/repository/models/sparkov/unload", headers=auth)
write_stages(mdir, {"production": "8"})
st, ans, _ = request(admin, "POST", "/v2/repository/models/sparkov/load", headers=auth)
check(st == 200 and serving(admin).get("production") == "8", f"8 serves again: {st} {ans}")
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/promote", {"version": "7"},
                     headers=auth)
check(st == 200 and serving(admin).get("production") == "7",
      f"admin promote back to 7: {st} {ans}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)

# ---- 1c. a serving version whose directory is gone ----
repo = make_repo({"sparkov": [("2", b2), ("8", b8p)]})
mdir = os.path.join(repo, "sparkov")
write_stages(mdir, {"production": "8"})
srv = Server(repo)
port, admin = srv.port, srv.admin_port
check(serving(admin).get("production") == "8", f"8 serves from the start: {serving(admin)}")
write_stages(mdir, {"production": "2"})
check(wait_for(lambda: srv.events("release_refused")), "2 refused against 8")
check(serving(admin).get("production") == "8", f"8 keeps serving: {serving(admin)}")
shutil.move(os.path.join(mdir, "8"), os.path.join(repo, "away-8"))
# 8 going, the file's production is checked as with nothing serving: 2.
check(wait_for(lambda: serving(admin).get("production") == "2"),
      f"8's directory gone: it no longer serves, the named 2 does: {serving(admin)}")
check(score(port) == (200, "2"), f"2 answers /v1/score: {score(port)}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)

# ---- 1d. the implicit production gone: the fallback rule ----
repo = make_repo({"sparkov": [("2", b2), ("8", b8p)]})
mdir = os.path.join(repo, "sparkov")
srv = Server(repo)  # no stages.json: the newest, 8, serves
port, admin = srv.port, srv.admin_port
check(serving(admin).get("production") == "8", f"8 serves from the start: {serving(admin)}")
shutil.move(os.path.join(mdir, "8"), os.path.join(repo, "away-8"))
check(wait_for(lambda: request(port, "GET", "/v2/models/sparkov/ready")[0] == 503),
      f"8's directory gone: the paysim-schema 8 is not replaced by the sparkov 2: "
      f"{serving(admin)}")
time.sleep(1.0)  # several polls: it stays so
st, ans, _ = request(admin, "GET", "/admin/models/sparkov", headers=auth)
check(st == 200 and ans.get("serving") is None, f"serving null: {st} {ans}")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn)
check(st == 503 and "serves what" in json.dumps(ans) and repo not in json.dumps(ans),
      f"/v1/score 503 with the reason, not 400s from 2: {st} {ans}")
# Naming 2 in stages.json is the operator's decision, and routes.
write_stages(mdir, {"production": "2"})
check(wait_for(lambda: serving(admin).get("production") == "2"), f"2 named: {serving(admin)}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)

# ---- 2. files rewritten in place are retried ----
repo = make_repo({"sparkov": [("2", b2)]})
mdir = os.path.join(repo, "sparkov")
srv = Server(repo)
port, admin = srv.port, srv.admin_port
with open(os.path.join(b7, "manifest.json")) as f:
    files = json.load(f)["files"]
model_file = next(n for n in files if n.startswith("model"))
vdir = os.path.join(mdir, "7")
os.makedirs(vdir)
for n in os.listdir(b7):
    if n != model_file:
        shutil.copy(os.path.join(b7, n), os.path.join(vdir, n))
open(os.path.join(vdir, model_file), "wb").close()  # not written yet
check(wait_for(lambda: [e for e in srv.events("model_load_failed") if "version 7" in e["msg"]]),
      "7 with an empty model file fails to load")
dir_mtime = os.stat(vdir).st_mtime_ns
time.sleep(0.5)
with open(os.path.join(b7, model_file), "rb") as src, \
        open(os.path.join(vdir, model_file), "r+b") as dst:
    dst.write(src.read())  # the same file, filled in place
check(os.stat(vdir).st_mtime_ns == dir_mtime, "the directory's own mtime did not change")
check(wait_for(lambda: serving(admin).get("production") == "7"),
      f"the rewritten 7 is retried and serves: {serving(admin)} "
      f"{[e['msg'] for e in srv.events('model_load_failed')]}")

# ---- 3. unload + load starts the online state afresh ----


def card_feature(port, minute):
    # The same card a minute later each time (another id and event time: a
    # replay would not be added to the state, and windows count the events
    # before the transaction's own time).
    t = int(txn["unix_time"]) + 60 * minute
    body = dict(txn, trans_num=f"m{minute}", unix_time=str(t),
                trans_date_trans_time=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)))
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov&explain=features", body)
    return st, (ans.get("features") or {}) if isinstance(ans, dict) else {}


st, f1 = card_feature(port, 1)
name = next((k for k in f1 if k.startswith("card_count")), None)
check(st == 200 and name, f"a card count feature: {st} {sorted(f1)[:8]}")
st, f2 = card_feature(port, 2)
check(f2.get(name, 0) > f1.get(name, 0), f"{name} grows: {f1.get(name)} -> {f2.get(name)}")
request(admin, "POST", "/v2/repository/models/sparkov/unload", headers=auth)
st, _, _ = request(admin, "POST", "/v2/repository/models/sparkov/load", headers=auth)
check(st == 200, f"load: {st}")
st, f3 = card_feature(port, 3)
check(st == 200 and f3.get(name) == 0 and f1.get(name) == 0,
      f"after unload + load {name} starts afresh: {f1.get(name)} {f2.get(name)} -> {f3.get(name)}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)

finish("serve_routingfix")
