#!/usr/bin/python3
"""Model routing never falls to a version that cannot serve (issue 5, items
4-5; review findings on main), against the real `fraud serve` and `fraud
models`:

1. a stages.json that stops parsing while the server runs keeps the last
   good routing (production, canary and their loaded versions: nothing is
   unloaded), is logged at error level with file:line:column and counted
   (fraud_model_loads_total{result="failure"}); at startup, with no last
   good routing, the model is not served (its ready and the server's 503)
   until the file parses;
2. a bare model file numbered above the bundles (no stages.json) is never
   the implicit production: `fraud models list`, the server, and the
   release checks (promote, rollback: no lockout) all take the newest
   bundle;
3. a deleted production directory falls back to a version of the same kind
   (a bundle, never the bare model); a canary whose directory disappears is
   logged at warn level (model_routing);
5. /v2/repository/index gives a failed version's reason (path-free), not
   "see the server log";
6. a hand-edited stages.json whose routing fails the release checks (a bare
   production or canary where a bundle serves, a canary or shadow of
   another schema) is refused: the last good routing stays, logged at error
   level (release_refused) and counted once; at startup production serves
   alone;
7. a model that has served a bundle never falls to a bare model file, even
   after it was unloaded (it stays unserved, 503, until a bundle returns).
The expectations are those of docs/server.md, docs/api.md and
docs/metrics.md.
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
                           metrics, read_csv_rows, request, wait_for)

b1 = bundle("sparkov", "1", trees=30, seed=42)
b2 = bundle("sparkov", "2", trees=30, seed=7)
b3 = bundle("sparkov", "3", trees=30, seed=42)
repo = make_repo({"sparkov": [("1", b1), ("2", b2), ("3", b3)]})
model_dir = os.path.join(repo, "sparkov")
stages_path = os.path.join(model_dir, "stages.json")
fixture = os.path.join(SRC, "tests", "fixtures", "serve", "xgb_small.json")
# Version 4: a bare model file (model.json, no manifest) above the bundles.
os.makedirs(os.path.join(model_dir, "4"))
shutil.copy(fixture, os.path.join(model_dir, "4", "model.json"))
auth = {"Authorization": "Bearer test-token"}
header, rows = read_csv_rows()
txn = {h: v for h, v in zip(header, rows[0]) if h != "is_fraud"}
cfgdir = tempfile.mkdtemp(prefix="fraud-routing-cfg-")
cfg = os.path.join(cfgdir, "config.yaml")
with open(cfg, "w") as f:
    f.write("models:\n  sparkov:\n    version_policy: {latest: 1}\n")


def models(*args):
    return subprocess.run([FRAUD, "models", args[0], "--repository", repo, *args[1:]],
                          capture_output=True, text=True)


def listed():
    out = models("list", "--json")
    return {e["version"]: e["stage"] for e in json.loads(out.stdout)} if out.stdout else {}


def stages():
    if not os.path.exists(stages_path):
        return {}
    with open(stages_path) as f:
        return json.load(f)


def rm_stages():
    if os.path.exists(stages_path):
        os.remove(stages_path)



# ---- 2. offline: the implicit production is the newest bundle ----
out = models("list", "--json")
check(out.returncode == 0 and listed() == {"1": "-", "2": "-", "3": "production", "4": "-"},
      f"models list: 3 (the newest bundle) is production, not the bare 4: {out.stdout}")
out = models("promote", "sparkov", "2")
check(out.returncode == 0 and stages().get("production") == "2" and stages()["history"] == ["3"],
      f"promote 2 (no lockout; 3 was serving): {out.returncode} {out.stdout} {out.stderr}")
out = models("rollback", "sparkov")
check(out.returncode == 0 and stages().get("production") == "3",
      f"rollback to 3: {out.returncode} {out.stdout} {out.stderr}")
rm_stages()
out = models("rollback", "sparkov")
check(out.returncode == 0 and stages().get("production") == "2",
      f"rollback without history: from the implicit 3 to the bundle 2: {out.returncode} "
      f"{out.stdout} {out.stderr}")
out = models("canary", "sparkov", "4", "--weight", "0.5")
check(out.returncode == 1 and "bare model" in out.stderr, f"a bare canary stays refused: {out.stderr}")
rm_stages()

# ---- 2. the server: no stages.json, {latest: 1} selects the bare 4 ----
srv = Server(repo, "--config", cfg)
port, admin = srv.port, srv.admin_port


def score():
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn)
    return st, ans.get("version") if isinstance(ans, dict) else ans


def serving():
    st, ans, _ = request(admin, "GET", "/admin/models/sparkov", headers=auth)
    return ans.get("serving", {}) if st == 200 and isinstance(ans, dict) else {}


check(score() == (200, "3"), f"the server serves the newest bundle 3: {score()}")
st, idx, _ = request(admin, "POST", "/v2/repository/index", {}, headers=auth)
roles = {e["version"]: e.get("role") for e in idx if e["name"] == "sparkov"} if st == 200 else {}
check(roles.get("3") == "production" and roles.get("4") != "production",
      f"index: 3 is production: {idx}")
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/promote", {"version": "2"}, headers=auth)
check(st == 200 and ans["serving"]["production"] == "2", f"admin promote 2: {st} {ans}")
if st != 200:  # the lockout: promote through the file, as an operator would
    with open(stages_path, "w") as f:
        json.dump({"production": "2"}, f)
    wait_for(lambda: serving().get("production") == "2")
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/canary", {"version": "1", "weight": 0.5},
                     headers=auth)
check(st == 200 and ans["serving"]["canary"] == "1", f"admin canary 1: {st} {ans}")
if st != 200:
    with open(stages_path, "w") as f:
        json.dump({"production": "2", "canary": {"version": "1", "weight": 0.5}}, f)
    wait_for(lambda: serving().get("canary") == "1")
before = serving()

# ---- 1. stages.json stops parsing while serving ----
failures0 = metric_value(metrics(port), "fraud_model_loads_total", model="sparkov",
                         result="failure") or 0
nunloaded = len(srv.events("model_unloaded"))
with open(stages_path, "w") as f:
    f.write('{"production": "3", "canary": {"version": "1", "weight": ')
check(wait_for(lambda: srv.events("stages_invalid")), "stages_invalid logged")
time.sleep(1.0)  # several polls
ev = srv.events("stages_invalid")
check(ev and ev[0]["level"] in ("warn", "error") and "stages.json:1:" in ev[0]["msg"]
      and ev[0].get("model") == "sparkov", f"logged at warn/error with file:line:column: {ev[:1]}")
check(len(ev) == 1, f"logged once, not on every poll: {len(ev)}")
check(serving() == before, f"the last good routing stays: {serving()} (was {before})")
gone = [e["msg"] for e in srv.events("model_unloaded")[nunloaded:]]
check(not [m for m in gone if "version 1 " in m or "version 2 " in m],
      f"nothing of the routing unloaded: {gone}")
check(not [e for e in srv.events("model_routing") if "now serves version 4" in e["msg"]],
      "never routed to the bare 4")
for _ in range(5):
    st, v = score()
    check(st == 200 and v in ("1", "2"), f"/v1/score keeps answering from 2 or its canary 1: {st} {v}")
failures1 = metric_value(metrics(port), "fraud_model_loads_total", model="sparkov",
                         result="failure") or 0
check(failures1 == failures0 + 1, f"counted once: {failures0} -> {failures1}")
st, ans, _ = request(port, "GET", "/v2/health/ready")
check(st == 200, "still ready")
# The file parses again: its routing applies.
with open(stages_path, "w") as f:
    json.dump({"production": "3", "canary": None, "shadow": "", "staging": "", "history": ["2"]}, f)
check(wait_for(lambda: serving().get("production") == "3" and serving().get("canary") is None),
      f"the fixed file routes: {serving()}")
check(score() == (200, "3"), f"3 serves: {score()}")

# ---- 3. a deleted production directory falls back to a bundle ----
shutil.rmtree(os.path.join(model_dir, "3"))
check(wait_for(lambda: serving().get("production") == "2"),
      f"production 3 gone: the newest bundle 2 serves, not the bare 4: {serving()}")
check(score() == (200, "2"), f"2 answers: {score()}")
ev = [e for e in srv.events("model_routing") if e["level"] == "warn" and "production" in e["msg"]]
check(ev, "the fallback is logged at warn level")
# A canary whose directory disappears.
shutil.copytree(b3, os.path.join(model_dir, "3"))
with open(stages_path, "w") as f:
    json.dump({"production": "3", "canary": {"version": "1", "weight": 0.5}}, f)
check(wait_for(lambda: serving().get("production") == "3" and serving().get("canary") == "1"),
      f"canary 1 routes: {serving()}")
nwarn = len([e for e in srv.events("model_routing") if e["level"] == "warn"])
shutil.rmtree(os.path.join(model_dir, "1"))
check(wait_for(lambda: serving().get("canary") is None), f"canary 1 gone: {serving()}")
ev = [e for e in srv.events("model_routing") if e["level"] == "warn"][nwarn:]
check(ev and "canary" in ev[-1]["msg"] and "1" in ev[-1]["msg"],
      f"the canary's end is logged at warn level: {ev}")

# ---- 5. the index gives a failed version's reason ----
# Version 5: bundle 3 relabelled, with a file that no longer matches its
# sha256 in the manifest.
v5 = os.path.join(tempfile.mkdtemp(prefix="fraud-routing-v5-"), "5")
shutil.copytree(b3, v5)
with open(os.path.join(v5, "manifest.json")) as f:
    man = json.load(f)
man["version"] = "5"
with open(os.path.join(v5, "manifest.json"), "w") as f:
    json.dump(man, f)
with open(os.path.join(v5, "model.json"), "a") as f:
    f.write(" ")
os.rename(v5, os.path.join(model_dir, "5"))
check(wait_for(lambda: srv.events("model_load_failed")), "version 5 fails to load")
st, idx, _ = request(admin, "POST", "/v2/repository/index", {}, headers=auth)
e5 = [e for e in idx if e["name"] == "sparkov" and e["version"] == "5"] if st == 200 else []
reason = e5[0].get("reason", "") if e5 else ""
check(e5 and e5[0]["state"] == "UNAVAILABLE" and "sha256" in reason
      and "see the server log" not in reason and repo not in reason and "/tmp/" not in reason,
      f"index reason of version 5: {e5}")
check(score() == (200, "3"), f"3 keeps serving: {score()}")
check(srv.stop() == 0, "exit")

# ---- 1. at startup, a stages.json that does not parse: not served ----
shutil.rmtree(os.path.join(model_dir, "5"))
with open(stages_path, "w") as f:
    f.write('{"production": "2",')
srv = Server(repo, "--config", cfg, wait_ready=False)
port, admin = srv.port, srv.admin_port
check(wait_for(lambda: srv.events("stages_invalid")), "stages_invalid logged at startup")
ev = srv.events("stages_invalid")
check(ev and ev[0]["level"] == "error" and "stages.json:1:" in ev[0]["msg"],
      f"error naming file:line:column: {ev[:1]}")
time.sleep(0.6)
st, ans, _ = request(port, "GET", "/v2/models/sparkov/ready")
check(st == 503, f"model not ready: {st} {ans}")
st, ans, _ = request(port, "GET", "/v2/health/ready")
check(st == 503, f"server not ready (its only model is not served): {st} {ans}")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn)
check(st == 503 and "stages.json" in json.dumps(ans) and repo not in json.dumps(ans),
      f"/v1/score 503 naming stages.json: {st} {ans}")
with open(stages_path, "w") as f:
    json.dump({"production": "2"}, f)
srv.wait_ready(20)
check(score() == (200, "2"), f"once it parses, production 2 serves: {score()}")
check(srv.stop() == 0, "exit")

# ---- 6. a hand-edited stages.json passes the release checks ----
# sparkov: bundle 2, bare 4, and 5 a bundle of another schema (paysim).
PAYSIM = os.path.join(SRC, "data", "samples", "paysim", "paysim.csv.gz")
b5 = bundle("sparkov", "5", trees=10, seed=42, schema="paysim", data=PAYSIM)
repo2 = make_repo({"sparkov": [("2", b2), ("5", b5)]})
dir2 = os.path.join(repo2, "sparkov")
os.makedirs(os.path.join(dir2, "4"))
shutil.copy(fixture, os.path.join(dir2, "4", "model.json"))
stages2 = os.path.join(dir2, "stages.json")


def write_stages(doc):
    tmp = stages2 + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.rename(tmp, stages2)


write_stages({"production": "2"})
srv = Server(repo2)
port, admin = srv.port, srv.admin_port
check(score() == (200, "2"), f"production 2 serves: {score()}")
fail0 = metric_value(metrics(port), "fraud_model_loads_total", model="sparkov",
                     result="failure") or 0
hand_edits = [({"production": "4"}, "production: version '4'"),
              ({"production": "2", "canary": {"version": "4", "weight": 0.5}},
               "canary: version '4'"),
              ({"production": "2", "canary": {"version": "5", "weight": 0.5}},
               "canary: version '5'"),
              ({"production": "2", "shadow": "5"}, "shadow: version '5'")]
for k, (doc, why) in enumerate(hand_edits):
    write_stages(doc)
    check(wait_for(lambda: len(srv.events("release_refused")) > k), f"refused: {doc}")
    time.sleep(0.6)  # several polls
    ev = srv.events("release_refused")
    check(len(ev) == k + 1, f"logged once per distinct reason: {len(ev)} after {doc}")
    msg = ev[-1]["msg"] if ev else ""
    check(ev and ev[-1]["level"] == "error" and "stages.json" in msg and why in msg
          and "keeping the last good routing (production 2)" in msg, f"{doc}: {ev[-1:]}")
    sv = serving()
    check(sv.get("production") == "2" and sv.get("canary") is None and sv.get("shadow") is None,
          f"{doc}: the last good routing stays: {sv}")
    for _ in range(6):
        st, v = score()
        check((st, v) == (200, "2"), f"{doc}: every /v1/score answered by 2: {st} {v}")
fail1 = metric_value(metrics(port), "fraud_model_loads_total", model="sparkov",
                     result="failure") or 0
check(fail1 == fail0 + len(hand_edits), f"each refusal counted once: {fail0} -> {fail1}")
write_stages({"production": "2"})
check(wait_for(lambda: srv.events("release_accepted")), "accepted again once fixed")
check(srv.stop() == 0, "exit")

# At startup: production 2 alone, the canary of another schema refused.
write_stages({"production": "2", "canary": {"version": "5", "weight": 0.5}})
srv = Server(repo2)
port, admin = srv.port, srv.admin_port
ev = srv.events("release_refused")
check(ev and "serving production alone" in ev[0]["msg"]
      and "canary: version '5'" in ev[0]["msg"],
      f"startup: canary refused, logged: {ev[:1]}")
sv = serving()
check(sv.get("production") == "2" and sv.get("canary") is None, f"startup: 2 alone: {sv}")
for _ in range(6):
    check(score() == (200, "2"), f"startup: 2 answers: {score()}")

# ---- 7. a model that served a bundle never falls to a bare one ----
write_stages({"production": "2"})
shutil.rmtree(os.path.join(dir2, "5"))
time.sleep(0.6)
check(score() == (200, "2"), f"2 serves: {score()}")
nloaded = len(srv.events("model_loaded"))
shutil.rmtree(os.path.join(dir2, "2"))
check(wait_for(lambda: [e for e in srv.events("model_routing") if "no longer served" in e["msg"]]),
      "production 2 gone, no bundle: the model is no longer served")
time.sleep(1.5)  # several polls
ev = [e["msg"] for e in srv.events("model_routing") if "no longer served" in e["msg"]]
check(ev and "model sparkov: model sparkov" not in ev[0], f"one 'model sparkov:' prefix: {ev}")
late = [e for e in srv.events("model_loaded")[nloaded:]]
check(not late, f"the bare 4 is never loaded to serve: {late}")
st, ans, _ = request(port, "GET", "/v2/models/sparkov/ready")
check(st == 503, f"model not ready: {st} {ans}")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn)
check(st == 503, f"/v1/score 503, not 400 from a bare model: {st} {ans}")
shutil.copytree(b2, os.path.join(dir2, "2"))
check(wait_for(lambda: score() == (200, "2")), f"the bundle back: 2 serves again: {score()}")
check(srv.stop() == 0, "exit")
shutil.rmtree(repo2, ignore_errors=True)

shutil.rmtree(repo, ignore_errors=True)
shutil.rmtree(cfgdir, ignore_errors=True)
finish("serve_routing_py")
