#!/usr/bin/python3
"""Release and repository findings of a newcomer review (issue 5, the
server), against the real `fraud serve` and the behaviour docs/server.md
and docs/api.md state:

1. the promoted production's manifest.json removed (a file-by-file copy,
   or a bundle turned into a bare model file) while the model serves: the
   model falls back to a version serving the same schema and model input
   and keeps serving (the canary is never unloaded), the refusal logged and
   counted once; a production rewritten in place as a bundle of another
   schema falls back the same way; the production serves again once its
   directory is a bundle of the same interface again;
2. a version that failed to load and whose directory has not changed is
   not loaded again by the admin API's release calls (no new
   model_load_failed, fraud_model_loads_total{result="failure"} unchanged);
   an explicit repository load retries it (documented);
3. /v2/repository/index does not give a failed version's old load error
   once its directory changed;
4. release calls are refused (409) on a model unloaded through the
   repository API, which stays unloaded until loaded again;
5. an invalid version name in a release body is a 400, not a 404.
"""
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import (SRC, Server, bundle, check, finish, make_repo, metric_value,
                           metrics, read_csv_rows, request, wait_for, write_stages)

PAYSIM = os.path.join(SRC, "data", "samples", "paysim", "paysim.csv.gz")
b1 = bundle("sparkov", "1", trees=30, seed=42)
b2 = bundle("sparkov", "2", trees=30, seed=7)
b3p = bundle("sparkov", "3", trees=10, seed=42, schema="paysim", data=PAYSIM)
auth = {"Authorization": "Bearer test-token"}
header, rows = read_csv_rows()
txn = {h: v for h, v in zip(header, rows[0]) if h != "is_fraud"}


def score(port):
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn)
    return st, ans.get("version") if isinstance(ans, dict) and st == 200 else ans


def serving(admin):
    st, ans, _ = request(admin, "GET", "/admin/models/sparkov", headers=auth)
    return (ans.get("serving") or {}) if st == 200 and isinstance(ans, dict) else {}


def admin_post(admin, path, body=None):
    return request(admin, "POST", path, body if body is not None else {}, headers=auth)


def failures(port):
    return metric_value(metrics(port), "fraud_model_loads_total", model="sparkov",
                        result="failure") or 0


def relabelled(src, version, corrupt=False):
    """A copy of bundle src whose manifest names `version` (a sha256
    mismatch in model.json when corrupt), in a temporary directory."""
    d = os.path.join(tempfile.mkdtemp(prefix="fraud-relfix2-"), version)
    shutil.copytree(src, d)
    with open(os.path.join(d, "manifest.json")) as f:
        man = json.load(f)
    man["version"] = version
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(man, f)
    if corrupt:
        with open(os.path.join(d, "model.json"), "a") as f:
            f.write(" ")
    return d


# ---- 1. the production's manifest removed: fall back, keep serving ----
repo = make_repo({"sparkov": [("1", b1), ("2", b2)]})
mdir = os.path.join(repo, "sparkov")
srv = Server(repo)
port, admin = srv.port, srv.admin_port
st, ans, _ = admin_post(admin, "/admin/models/sparkov/promote", {"version": "2"})
check(st == 200, f"promote 2: {st} {ans}")
st, ans, _ = admin_post(admin, "/admin/models/sparkov/canary", {"version": "1", "weight": 0.5})
check(st == 200, f"canary 1: {st} {ans}")
sv = serving(admin)
check(sv.get("production") == "2" and sv.get("canary") == "1", f"2 and canary 1 serve: {sv}")
f0 = failures(port)
nunload = len(srv.events("model_unloaded"))
nloaded = len(srv.events("model_loaded"))
man2 = os.path.join(tempfile.mkdtemp(prefix="fraud-relfix2-m-"), "manifest.json")
shutil.move(os.path.join(mdir, "2", "manifest.json"), man2)
check(wait_for(lambda: serving(admin).get("production") == "1", 10),
      f"manifest of 2 removed: 1 serves: {serving(admin)}")
time.sleep(1.0)  # several polls
for _ in range(6):
    check(score(port) == (200, "1"), f"/v1/score answered by 1: {score(port)}")
st, ans, _ = request(port, "GET", "/v2/models/sparkov/ready")
check(st == 200, f"the model stays ready: {st} {ans}")
ev = [e for e in srv.events("model_routing") if e["level"] == "warn"
      and "production version 2 (stages.json) is not available; serving version 1" in e["msg"]]
check(ev, f"the fallback is logged at warn level: {srv.events('model_routing')[-3:]}")
check(not [e for e in srv.events("model_routing") if "no longer served" in e["msg"]],
      "the model is never unserved")
ev = srv.events("release_refused")
check(len(ev) == 1 and ev[0]["level"] == "error" and "bare model" in ev[0]["msg"],
      f"the refusal logged once at error level: {ev}")
check(failures(port) == f0 + 1, f"counted once: {f0} -> {failures(port)}")
gone = [e for e in srv.events("model_unloaded")[nunload:] if e.get("version") == "1"
        or "version 1 " in e.get("msg", "")]
check(not gone, f"the canary 1, now serving, is never unloaded: {gone}")
late = [e for e in srv.events("model_loaded")[nloaded:]]
check(not late, f"nothing is loaded for it (1 keeps serving as loaded; the bare 2 is not "
      f"loaded): {late}")
# The manifest back (the copy finished): 2 is production again.
shutil.move(man2, os.path.join(mdir, "2", "manifest.json"))
check(wait_for(lambda: serving(admin).get("production") == "2"
               and serving(admin).get("canary") == "1", 10),
      f"2 is production again, 1 its canary: {serving(admin)}")
check(srv.events("release_accepted"), "release_accepted logged")

# Production 2 rewritten in place, file by file, as a bundle of another
# schema (PaySim): it never takes over; 1 serves.
f0 = failures(port)
p2 = relabelled(b3p, "2")
for fn in os.listdir(os.path.join(mdir, "2")):
    os.remove(os.path.join(mdir, "2", fn))
for fn in sorted(os.listdir(p2), key=lambda n: n == "manifest.json"):
    shutil.copy(os.path.join(p2, fn), os.path.join(mdir, "2", fn))
check(wait_for(lambda: serving(admin).get("production") == "1", 10),
      f"2 of another schema: 1 serves: {serving(admin)}")
time.sleep(1.0)
for _ in range(4):
    check(score(port) == (200, "1"), f"/v1/score answered by 1: {score(port)}")
ev = [e for e in srv.events("release_refused") if "schema" in e["msg"]
      or "features" in e["msg"]]
check(ev and ev[-1]["level"] == "error", f"the other schema refused at error level: {ev[-1:]}")
check(failures(port) <= f0 + 2, f"counted, not at every poll: {f0} -> {failures(port)}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)

# The same rewrite seen at once (no poll in between: an explicit load):
# the reloaded production is compared with what the model serves.
repo = make_repo({"sparkov": [("1", b1), ("2", b2)]})
mdir = os.path.join(repo, "sparkov")
write_stages(mdir, {"production": "2"})
srv = Server(repo, "--poll-interval", "1h")
port, admin = srv.port, srv.admin_port
check(score(port) == (200, "2"), f"2 serves: {score(port)}")
for fn in os.listdir(os.path.join(mdir, "2")):
    os.remove(os.path.join(mdir, "2", fn))
for fn in os.listdir(p2):
    shutil.copy(os.path.join(p2, fn), os.path.join(mdir, "2", fn))
st, ans, _ = admin_post(admin, "/v2/repository/models/sparkov/load")
check(st == 200, f"load: {st} {ans}")
check(serving(admin).get("production") == "1" and score(port) == (200, "1"),
      f"the reloaded 2 of another schema does not serve; 1 does: {serving(admin)} {score(port)}")
ev = srv.events("release_refused")
check(ev and "cannot serve what production version '2' serves" in ev[-1]["msg"],
      f"refused as not serving what 2 served: {ev[-1:]}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)

# ---- 2. a failed version is not reloaded by release calls; 3. index ----
repo = make_repo({"sparkov": [("1", b1), ("2", b2)]})
mdir = os.path.join(repo, "sparkov")
bad3 = relabelled(b2, "3", corrupt=True)
good3 = relabelled(b2, "3")
shutil.copytree(bad3, os.path.join(mdir, "3"))
write_stages(mdir, {"production": "2", "staging": "3"})
cfgdir = tempfile.mkdtemp(prefix="fraud-relfix2-cfg-")
cfg = os.path.join(cfgdir, "config.yaml")
with open(cfg, "w") as f:
    f.write("models:\n  sparkov:\n    version_policy: {specific: [2]}\n")
srv = Server(repo, "--config", cfg)
port, admin = srv.port, srv.admin_port
check(score(port) == (200, "2"), f"2 serves: {score(port)}")
check(wait_for(lambda: srv.events("model_load_failed")), "the corrupt 3 failed to load")
f0 = failures(port)
n0 = len(srv.events("model_load_failed"))
calls = [("promote", {"version": "1"}), ("promote", {"version": "2"}),
         ("canary", {"version": "1", "weight": 0.5}), ("canary", {"version": None}),
         ("shadow", {"version": "1"}), ("shadow", {"version": None}), ("rollback", None),
         ("promote", {"version": "2"})]
for op, body in calls:
    st, ans, _ = admin_post(admin, f"/admin/models/sparkov/{op}", body)
    check(st == 200, f"{op} {body}: {st} {ans}")
time.sleep(0.5)
late = srv.events("model_load_failed")[n0:]
check(not late, f"no release call loads the unchanged 3 again: {len(late)} model_load_failed")
check(failures(port) == f0, f"failure count unchanged: {f0} -> {failures(port)}")
# An explicit load retries it (docs/api.md).
st, ans, _ = admin_post(admin, "/v2/repository/models/sparkov/load")
check(st == 200, f"load: {st} {ans}")
check(failures(port) == f0 + 1, f"an explicit load retries 3: {f0} -> {failures(port)}")

# 3. The index once 3's directory is restored (nothing loads it: not
# staged any more, not selected by the policy).
write_stages(mdir, {"production": "2"})
time.sleep(0.5)
st, idx, _ = admin_post(admin, "/v2/repository/index")
e3 = [e for e in idx if e["name"] == "sparkov" and e["version"] == "3"] if st == 200 else []
check(e3 and "sha256" in e3[0].get("reason", ""), f"index while 3 is corrupt: {e3}")
for fn in os.listdir(good3):
    shutil.copy(os.path.join(good3, fn), os.path.join(mdir, "3", fn))
time.sleep(0.5)
st, idx, _ = admin_post(admin, "/v2/repository/index")
e3 = [e for e in idx if e["name"] == "sparkov" and e["version"] == "3"] if st == 200 else []
check(e3 and e3[0]["state"] == "UNAVAILABLE" and "sha256" not in e3[0].get("reason", "")
      and "changed" in e3[0].get("reason", ""),
      f"index after 3 was restored: not the old error: {e3}")

# ---- 4. release calls on an unloaded model; 5. invalid version names ----
for body in ({"version": "../paysim/1"}, {"version": "a/b"}, {"version": ".."}):
    st, ans, _ = admin_post(admin, "/admin/models/sparkov/promote", body)
    check(st == 400 and "invalid version name" in json.dumps(ans), f"promote {body}: {st} {ans}")
st, ans, _ = admin_post(admin, "/admin/models/sparkov/canary", {"version": "../1", "weight": 0.5})
check(st == 400, f"canary ../1: {st} {ans}")
st, ans, _ = admin_post(admin, "/admin/models/.sparkov/promote", {"version": "1"})
check(st == 400 and "invalid model name" in json.dumps(ans), f"promote on .sparkov: {st} {ans}")
st, ans, _ = admin_post(admin, "/v2/repository/models/sparkov/unload")
check(st == 200, f"unload: {st} {ans}")
before = open(os.path.join(mdir, "stages.json")).read()
for op, body in [("promote", {"version": "1"}), ("rollback", None),
                 ("canary", {"version": "1", "weight": 0.5}), ("shadow", {"version": "1"})]:
    st, ans, _ = admin_post(admin, f"/admin/models/sparkov/{op}", body)
    check(st == 409 and "unloaded" in json.dumps(ans) and "load it first" in json.dumps(ans),
          f"{op} on an unloaded model: {st} {ans}")
check(open(os.path.join(mdir, "stages.json")).read() == before, "stages.json untouched")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn)
check(st == 503, f"the model stays unloaded: {st} {ans}")
st, ans, _ = admin_post(admin, "/v2/repository/models/sparkov/load")
check(st == 200 and score(port) == (200, "2"), f"loaded again: {st} {ans} {score(port)}")
st, ans, _ = admin_post(admin, "/admin/models/sparkov/promote", {"version": "1"})
check(st == 200 and score(port) == (200, "1"), f"promote after the load: {st} {score(port)}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo, ignore_errors=True)
shutil.rmtree(cfgdir, ignore_errors=True)
finish("serve_relfix2_py")
