#!/usr/bin/python3
"""Model-routing holes from a newcomer review, against the real
`fraud serve` and the rules of docs/server.md (model repository):

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
                           read_csv_rows, request)

PAYSIM = os.path.join(SRC, "data", "samples", "paysim", "paysim.csv.gz")
b1 = bundle("sparkov", "1", trees=30, seed=42)
b2 = bundle("sparkov", "2", trees=30, seed=7)
b7 = bundle("sparkov", "7", trees=30, seed=11)
# The same model name trained on another schema (PaySim): another interface.
b8p = bundle("sparkov", "8", trees=10, seed=42, schema="paysim", data=PAYSIM)
auth = {"Authorization": "Bearer test-token"}
header, rows = read_csv_rows()
txn = {h: v for h, v in zip(header, rows[0]) if h != "is_fraud"}


def wait_for(cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def write_stages(model_dir, doc):
    path = os.path.join(model_dir, "stages.json")
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f)
    os.rename(path + ".tmp", path)


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
