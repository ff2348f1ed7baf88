#!/usr/bin/python3
"""Integration test of the model repository and releases (issue 5 items 4
and 5) against the real `fraud serve` in poll mode:

- hot swap under concurrent load: a new version directory appears, is
  verified, loaded, warmed and swapped in while four clients score; zero
  non-200 answers; the old version drains and is unloaded;
- a corrupt version (model.json tampered after writing) is rejected with a
  logged reason and a failure metric, and the current version keeps serving;
- canary by weight through the admin API: over 10,000 transactions of
  distinct cards the canary's share is within 3 points of the weight, and a
  card sees one version every time;
- shadow: the candidate scores the same transactions (metrics only);
- promote and rollback with `fraud models ... --server` under load, zero
  non-200; stages.json in the repository records each state; `fraud models
  list` shows it;
- the Triton-style repository API (index, unload, load) and the admin
  bearer token.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import (FRAUD, Server, bundle, check, finish, make_repo, metric_value, metrics,
                           read_csv_rows, request, wait_for)

b1 = bundle("sparkov", "1", trees=30, seed=42)
b2 = bundle("sparkov", "2", trees=30, seed=7)
repo = make_repo({"sparkov": [("1", b1)]})
srv = Server(repo)
port, admin = srv.port, srv.admin_port
auth = {"Authorization": "Bearer test-token"}
header, rows = read_csv_rows()
txns = [{h: v for h, v in zip(header, r) if h != "is_fraud"} for r in rows]


class Load:
    """Clients scoring continuously on kept-alive connections; records every
    answer's status and version."""

    def __init__(self, n=4):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses = {}
        self.versions = {}
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(n)]
        for t in self.threads:
            t.start()

    def run(self, i):
        conn = srv.conn()
        k = i
        while not self.stop.is_set():
            k = (k + 4) % len(txns)
            try:
                st, ans, _ = request(port, "POST", "/v1/score", txns[k], conn=conn)
            except Exception as e:  # noqa: BLE001 - any failure is recorded
                self.errors.append(repr(e))
                conn = srv.conn()
                continue
            with self.lock:
                self.statuses[st] = self.statuses.get(st, 0) + 1
                if st == 200:
                    self.versions[ans["version"]] = self.versions.get(ans["version"], 0) + 1
        conn.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        return self



def serving():
    st, body, _ = request(admin, "GET", "/admin/models/sparkov", headers=auth)
    return body["serving"] if st == 200 and body.get("serving") else {}


# ---- hot swap under load ----
load = Load()
time.sleep(1.0)
tmp = os.path.join(repo, "sparkov", "2.tmp-copy")
shutil.copytree(b2, tmp)
os.rename(tmp, os.path.join(repo, "sparkov", "2"))  # appears complete, at once
check(wait_for(lambda: serving().get("production") == "2"), "version 2 swapped in by polling")
time.sleep(1.0)
load.finish()
check(load.statuses.get(200, 0) > 200 and set(load.statuses) == {200},
      f"hot swap under load: statuses {load.statuses}, errors {load.errors[:3]}")
check(not load.errors, f"client errors during the swap: {load.errors[:3]}")
check(set(load.versions) == {"1", "2"}, f"versions seen during the swap: {load.versions}")
check(wait_for(lambda: any(e.get("msg", "").startswith("model sparkov version 1 drained")
                           for e in srv.events("model_unloaded"))),
      "version 1 drained and unloaded after the swap")

# ---- a corrupt version is rejected, the current one keeps serving ----
bad = os.path.join(repo, "sparkov", "3")
shutil.copytree(b2, bad + ".tmp")
with open(os.path.join(bad + ".tmp", "model.json"), "a") as f:
    f.write(" ")
os.rename(bad + ".tmp", bad)
check(wait_for(lambda: srv.events("model_load_failed")), "corrupt version 3: load failure logged")
fail = srv.events("model_load_failed")
check(fail and "checksum" in fail[0]["msg"].lower() or "sha256" in fail[0]["msg"].lower(),
      f"failure names the checksum: {fail[:1]}")
text = metrics(port)
check((metric_value(text, "fraud_model_loads_total", model="sparkov", result="failure") or 0) >= 1,
      "fraud_model_loads_total{result=failure}")
check(serving().get("production") == "2", "version 2 still serves after the corrupt version 3")
st, idx, _ = request(admin, "POST", "/v2/repository/index", {}, headers=auth)
states = {(e["name"], e["version"]): e for e in idx} if st == 200 else {}
check(states.get(("sparkov", "3"), {}).get("state") == "UNAVAILABLE" and
      states.get(("sparkov", "2"), {}).get("state") == "READY", f"repository index: {idx}")
shutil.rmtree(bad)

# ---- admin token ----
st, body, _ = request(admin, "GET", "/admin/models")
check(st == 401, f"admin without token: {st}")
st, body, _ = request(admin, "GET", "/admin/models", headers={"Authorization": "Bearer nope"})
check(st == 401, f"admin with a wrong token: {st}")
st, _, _ = request(admin, "GET", "/v2/health/live")
check(st == 200, "admin liveness needs no token")
st, body, _ = request(admin, "POST", "/admin/models/nope/promote", {"version": "1"}, headers=auth)
check(st == 404, f"promote of an unknown model: {st} {body}")

# ---- canary: split by weight, sticky per card ----
st, body, _ = request(admin, "POST", "/admin/models/sparkov/canary", {"version": "1", "weight": 0.3},
                      headers=auth)
check(st == 200 and body["serving"]["canary"] == "1" and body["serving"]["canary_weight"] == 0.3,
      f"canary set: {st} {body}")
st_json = json.load(open(os.path.join(repo, "sparkov", "stages.json")))
check(st_json["canary"] == {"version": "1", "weight": 0.3}, f"stages.json canary: {st_json}")
rng = random.Random(5)
conn = srv.conn()
seen = {}
base = txns[100]
n_canary = 0
cards = [str(9100000000000000 + rng.randrange(10 ** 14)) for _ in range(10000)]
for card in cards:
    t = dict(base, cc_num=card)
    st, ans, _ = request(port, "POST", "/v1/score", t, conn=conn)
    if not check(st == 200, f"canary scoring: {st} {ans}"):
        break
    seen[card] = ans["version"]
    n_canary += ans["version"] == "1"
share = n_canary / len(cards)
check(abs(share - 0.3) <= 0.03, f"canary share {share:.4f} not within 0.3 +- 0.03")
sticky = all(request(port, "POST", "/v1/score", dict(base, cc_num=c), conn=conn)[1]["version"] == seen[c]
             for c in cards[:500])
check(sticky, "a card saw two versions")
conn.close()

# ---- shadow ----
request(admin, "POST", "/admin/models/sparkov/canary", {"version": None}, headers=auth)
st, body, _ = request(admin, "POST", "/admin/models/sparkov/shadow", {"version": "1"}, headers=auth)
check(st == 200 and body["serving"]["shadow"] == "1" and body["serving"]["canary"] is None,
      f"shadow set: {st} {body}")
before = metric_value(metrics(port), "fraud_decisions_total", model="sparkov", version="1") or 0
conn = srv.conn()
versions = set()
for k in range(200):
    st, ans, _ = request(port, "POST", "/v1/score", txns[k], conn=conn)
    versions.add(ans["version"])
conn.close()
after = metric_value(metrics(port), "fraud_decisions_total", model="sparkov", version="1") or 0
check(versions == {"2"}, f"answers during shadow come from production only: {versions}")
check(after - before == 200, f"shadow scored every transaction: {after - before} of 200")
request(admin, "POST", "/admin/models/sparkov/shadow", {"version": None}, headers=auth)

# ---- promote and rollback through `fraud models --server`, under load ----
url = f"http://127.0.0.1:{admin}"
env = dict(os.environ, FRAUD_ADMIN_TOKEN="test-token")
load = Load()
time.sleep(0.5)
out = subprocess.run([FRAUD, "models", "promote", "--server", url, "sparkov", "1"], capture_output=True,
                     text=True, env=env)
check(out.returncode == 0, f"fraud models promote --server: {out.returncode} {out.stderr}")
check(wait_for(lambda: serving().get("production") == "1", 5), "promoted version 1 serves")
time.sleep(0.5)
out = subprocess.run([FRAUD, "models", "rollback", "--server", url, "sparkov"], capture_output=True,
                     text=True, env=env)
check(out.returncode == 0, f"fraud models rollback --server: {out.returncode} {out.stderr}")
check(serving().get("production") == "2", f"rollback returned to version 2: {serving()}")
time.sleep(0.5)
load.finish()
check(set(load.statuses) == {200} and not load.errors,
      f"promote/rollback under load: {load.statuses} {load.errors[:3]}")
check(set(load.versions) >= {"1", "2"}, f"versions seen: {load.versions}")
stages = json.load(open(os.path.join(repo, "sparkov", "stages.json")))
check(stages["production"] == "2" and stages["history"][-1:] != ["2"], f"stages.json: {stages}")
out = subprocess.run([FRAUD, "models", "list", "--repository", repo], capture_output=True, text=True)
check(out.returncode == 0 and "production" in out.stdout, f"fraud models list: {out.stdout}")
out = subprocess.run([FRAUD, "models", "promote", "--server", url, "--token", "wrong", "sparkov", "1"],
                     capture_output=True, text=True)
check(out.returncode == 1 and "401" in out.stderr, f"wrong token refused: {out.stderr}")

# ---- repository API: unload, load ----
st, _, _ = request(admin, "POST", "/v2/repository/models/sparkov/unload", headers=auth)
check(st == 200, f"unload: {st}")
st, body, _ = request(port, "GET", "/v2/models/sparkov/ready")
check(st in (404, 503), f"unloaded model is not ready: {st}")
time.sleep(0.5)  # a poll passes: an explicitly unloaded model stays unloaded
st, _, _ = request(port, "GET", "/v2/models/sparkov/ready")
check(st in (404, 503), f"polling does not reload an unloaded model: {st}")
st, body, _ = request(admin, "POST", "/v2/repository/models/sparkov/load", headers=auth)
check(st == 200, f"load: {st} {body}")
st, body, _ = request(port, "GET", "/v2/models/sparkov/ready")
check(st == 200 and body["version"] == "2", f"reloaded model ready: {st} {body}")
st, body, _ = request(admin, "POST", "/v2/repository/models/nope/load", headers=auth)
check(st == 404, f"load of an unknown model: {st} {body}")

check(srv.stop() == 0, "clean exit")
shutil.rmtree(repo, ignore_errors=True)
finish("serve_releases_py")
