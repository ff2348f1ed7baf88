#!/usr/bin/python3
"""The release checks of the model repository against the real `fraud serve`
and `fraud models` (review findings on issue 5 items 4, 5 and 8):

- a bare model file (model.json, no manifest) where production is a bundle
  is refused by promote, canary and shadow, offline (--repository, exit 1)
  and through the admin API (409 with the reason); /v1/score keeps
  answering from production;
- a version directory not named by a number is refused, naming it;
- canary weights are in (0, 1]: 0 and 1e-400 (which reads as 0) are
  errors, `--off` / {"version": null} ends a canary;
- every refusal of the admin API carries its reason in the answer and in
  the log (event release_refused), including a version that passes the
  repository's checks but fails the server's own load;
- answers never name a filesystem path (the repository's or another):
  after an unload, for a model whose versions all fail, on a failed load.
The expectations are the ones docs/server.md and docs/api.md state.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import (FRAUD, SRC, Server, bundle, check, finish, make_repo, read_csv_rows,
                           request)

b1 = bundle("sparkov", "1", trees=30, seed=42)
b2 = bundle("sparkov", "2", trees=30, seed=7)
repo = make_repo({"sparkov": [("1", b1), ("2", b2)]})
fixture = os.path.join(SRC, "tests", "fixtures", "serve", "xgb_small.json")
auth = {"Authorization": "Bearer test-token"}
header, rows = read_csv_rows()
txn = {h: v for h, v in zip(header, rows[0]) if h != "is_fraud"}


def models(*args, env=None):
    return subprocess.run([FRAUD, "models", args[0], "--repository", repo, *args[1:]],
                          capture_output=True, text=True, env=env)


def stages():
    return json.load(open(os.path.join(repo, "sparkov", "stages.json")))


out = models("promote", "sparkov", "2")
check(out.returncode == 0 and "no rollback target" in out.stdout,
      f"promote 2 (the newest, serving): {out.returncode} {out.stdout} {out.stderr}")
# A bare model in version 3: what a model.json without a manifest is.
os.makedirs(os.path.join(repo, "sparkov", "3"))
shutil.copy(fixture, os.path.join(repo, "sparkov", "3", "model.json"))
# A directory named like a version but not by a number.
shutil.copytree(b1, os.path.join(repo, "sparkov", "beta"))

# ---- offline: fraud models --repository ----
for cmd in (["promote", "sparkov", "3"], ["canary", "sparkov", "3", "--weight", "0.5"],
            ["shadow", "sparkov", "3"]):
    out = models(*cmd)
    check(out.returncode == 1 and "cannot serve what production version '2' serves" in out.stderr
          and "bare model" in out.stderr, f"models {cmd[0]} of a bare version: {out.returncode} "
          f"{out.stderr}")
check(stages()["production"] == "2" and not stages()["canary"] and not stages()["shadow"],
      f"stages.json unchanged: {stages()}")
beta = os.path.join(repo, "sparkov", "beta")
for cmd in (["promote", "sparkov", "beta"], ["canary", "sparkov", "beta", "--weight", "0.5"],
            ["shadow", "sparkov", "beta"], ["promote", "sparkov", "beta", "--stage", "staging"]):
    out = models(*cmd)
    check(out.returncode == 1 and beta in out.stderr and "named by a number" in out.stderr,
          f"models {cmd[0]} of a non-numeric version: {out.returncode} {out.stderr}")
for w in ("0", "1e-400", "1e-310", "1.5", "nan", "-0.1", "0x1p-3"):
    out = models("canary", "sparkov", "1", "--weight", w)
    check(out.returncode == 2 and "(0, 1]" in out.stderr and "--off" in out.stderr,
          f"canary --weight {w}: {out.returncode} {out.stderr}")
out = models("canary", "sparkov", "1", "--weight", "1")
check(out.returncode == 0 and stages()["canary"] == {"version": "1", "weight": 1},
      f"canary --weight 1: {out.stderr} {stages()}")
out = models("canary", "sparkov", "1", "--weight", "1e-400")
check(out.returncode == 2 and stages()["canary"] == {"version": "1", "weight": 1},
      f"an underflowing weight leaves the canary alone: {stages()}")
out = models("canary", "sparkov", "--off")
check(out.returncode == 0 and stages()["canary"] is None, f"canary --off: {out.stderr} {stages()}")

# ---- through the server ----
cfgdir = tempfile.mkdtemp(prefix="fraud-release-cfg-")
cfg = os.path.join(cfgdir, "config.yaml")
with open(cfg, "w") as f:
    f.write("models:\n  sparkov:\n    version_policy: {latest: 1}\n")
srv = Server(repo, "--config", cfg)
admin = srv.admin_port


def score():
    st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov", txn)
    return st, ans.get("version") if isinstance(ans, dict) else None


def no_path(body):
    text = json.dumps(body)
    return repo not in text and cfgdir not in text and "/tmp/" not in text


check(score() == (200, "2"), f"production 2 serves: {score()}")
for op, body in (("promote", {"version": "3"}), ("canary", {"version": "3", "weight": 0.5}),
                 ("shadow", {"version": "3"})):
    st, ans, _ = request(admin, "POST", f"/admin/models/sparkov/{op}", body, headers=auth)
    check(st == 409 and "bare model" in ans.get("error", "") and no_path(ans),
          f"admin {op} of a bare version: {st} {ans}")
    ev = [e for e in srv.events("release_refused") if e.get("operation") == op]
    check(ev and "bare model" in ev[-1]["msg"] and ev[-1].get("version") == "3",
          f"release_refused logged for {op}: {ev[-1:]}")
check(score() == (200, "2"), f"production 2 still serves after the refusals: {score()}")
check(request(srv.port, "GET", "/v2/health/ready")[0] == 200, "ready")
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/promote", {"version": "beta"}, headers=auth)
check(st == 400 and "sparkov/beta" in ans.get("error", "") and no_path(ans),
      f"admin promote of a non-numeric version: {st} {ans}")
ev = [e for e in srv.events("release_refused") if e.get("operation") == "promote"]
check(ev and beta in ev[-1]["msg"], f"the log names the directory: {ev[-1:]}")

# Canary weights through the admin API (the body text as sent: 1e-400 is a
# valid JSON number that reads as 0).
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/canary", {"version": "1", "weight": 0.25},
                     headers=auth)
check(st == 200 and ans["serving"]["canary"] == "1", f"canary 1 at 0.25: {st} {ans}")
for w in ("0", "1e-400", "1.5"):
    st, ans, _ = request(admin, "POST", "/admin/models/sparkov/canary",
                         '{"version": "1", "weight": %s}' % w, headers=auth)
    check(st == 400 and "(0, 1]" in ans.get("error", ""), f"admin canary weight {w}: {st} {ans}")
st, ans, _ = request(admin, "GET", "/admin/models/sparkov", headers=auth)
check(ans["serving"]["canary"] == "1" and ans["serving"]["canary_weight"] == 0.25,
      f"the canary survives bad weights: {ans}")
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/canary", {"weight": 0.5}, headers=auth)
check(st == 400 and "version" in ans.get("error", ""), f"canary without a version: {st} {ans}")
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/canary", {"version": None}, headers=auth)
check(st == 200 and ans["serving"]["canary"] is None and stages()["canary"] is None,
      f"canary ended with version null: {st} {ans}")

# A version the repository's checks accept but the server's load refuses:
# scoring.routing_entity (reloadable) naming no entity of the schema fails
# every new load; version 1 is not loaded under {latest: 1}.
with open(cfg, "w") as f:
    f.write("models:\n  sparkov:\n    version_policy: {latest: 1}\n"
            "scoring:\n  routing_entity: no_such_entity\n")
st, ans, _ = request(admin, "POST", "/admin/reload", headers=auth)
check(st == 200, f"reload: {st} {ans}")
st, ans, _ = request(admin, "POST", "/admin/models/sparkov/canary", {"version": "1", "weight": 0.5},
                     headers=auth)
err = ans.get("error", "") if isinstance(ans, dict) else ""
check(st == 409 and "version 1 failed to load" in err and "routing_entity" in err
      and "see the server log" not in err and no_path(ans), f"409 with the reason: {st} {ans}")
ev = [e for e in srv.events("release_refused") if e.get("operation") == "canary"]
check(ev and "routing_entity" in ev[-1]["msg"] and ev[-1].get("status") == 409,
      f"release_refused logged with the reason: {ev[-1:]}")
check(stages()["canary"] is None and score() == (200, "2"), f"stages.json restored: {stages()}")

# An unloaded model answers 503 naming the model, not a path (its last load
# error above names the version directory).
st, _, _ = request(admin, "POST", "/v2/repository/models/sparkov/unload", headers=auth)
check(st == 200, "unload")
for method, path, body in (("GET", "/v2/models/sparkov", None),
                           ("POST", "/v2/models/sparkov/infer", {"inputs": []}),
                           ("POST", "/v1/score?model=sparkov", txn)):
    st, ans, _ = request(srv.port, method, path, body)
    check(st == 503 and "unloaded" in ans.get("error", "") and no_path(ans),
          f"{method} {path} after unload: {st} {ans}")
check(srv.stop() == 0, "exit")

# A model whose only version fails to load: 503 and a failed explicit load
# give the reason without the repository's path.
shutil.rmtree(beta)
shutil.rmtree(os.path.join(repo, "sparkov", "3"))
os.makedirs(os.path.join(repo, "broken"))
shutil.copytree(b1, os.path.join(repo, "broken", "1"))
with open(cfg, "w") as f:
    f.write("models:\n  sparkov:\n    version_policy: {latest: 1}\n")
srv = Server(repo, "--config", cfg)
st, ans, _ = request(srv.port, "GET", "/v2/models/broken")
check(st == 503 and "broken/1" in ans.get("error", "") and no_path(ans),
      f"503 of a model that fails to load: {st} {ans}")
st, ans, _ = request(srv.admin_port, "POST", "/v2/repository/models/broken/load", headers=auth)
check(st == 400 and "manifest" in ans.get("error", "") and no_path(ans),
      f"failed explicit load: {st} {ans}")
check(any(repo in e.get("msg", "") for e in srv.events("model_load_failed")),
      "the log keeps the path")
check(srv.stop() == 0, "exit")

shutil.rmtree(repo, ignore_errors=True)
shutil.rmtree(cfgdir, ignore_errors=True)
finish("serve_release_checks_py")
