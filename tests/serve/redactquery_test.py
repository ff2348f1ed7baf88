#!/usr/bin/python3
"""Review fixes of the server's wording and leaks, against the real
`fraud serve` and what docs/api.md and docs/server.md state:

1. a malformed state.redis.url is a usage error (exit 2) naming the key,
   its password redacted, before anything is served or logged; a valid URL
   with a password to an unreachable Redis never shows the password in the
   log nor in any answer;
2. /v1/score naming no model while none is loaded answers 503 with the
   model's load error, as GET /v2/models/NAME/ready does;
4. /v1/score's query parameters are read strictly: `reasons` is ASCII
   digits only (" 3", "+3", "3<NUL>" are 400s like "reasons="), a bare
   parameter without a value is a 400 naming it.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import (FRAUD, Server, bundle, check, finish, make_repo, read_csv_rows,
                           request, wait_for)

SECRET = "topsecret"
b1 = bundle("sparkov", "1", trees=30, seed=42)
header, rows = read_csv_rows()
txn = {h: v for h, v in zip(header, rows[0]) if h != "is_fraud"}

# ---- 1. a malformed Redis URL: exit 2 naming the key, password redacted ----
repo = make_repo({"sparkov": [("1", b1)]})
env = dict(os.environ, FRAUD_LOG_LEVEL="info", FRAUD_ADMIN_TOKEN="test-token")
try:
    out = subprocess.run([FRAUD, "serve", "--model-repository", repo, "--listen", "127.0.0.1",
                          "--port", "0", "--admin-port", "0", "--set", "state.backend=redis",
                          "--set", f"state.redis.url=redis://:{SECRET}@127.0.0.1:1/0?x"],
                         capture_output=True, text=True, timeout=30, env=env)
    rc, text = out.returncode, out.stdout + out.stderr
except subprocess.TimeoutExpired as e:
    # The old server started with the bad URL and failed every load.
    rc = None
    text = "".join(x.decode() if isinstance(x, bytes) else (x or "") for x in (e.stdout, e.stderr))
check(rc == 2, f"bad state.redis.url: exit {rc}, expected 2: {text[-500:]}")
check("state.redis.url" in text, f"the error names state.redis.url: {text[-500:]}")
check("redis://:***@127.0.0.1:1/0?x" in text, f"the URL is quoted redacted: {text[-500:]}")
check(SECRET not in text, f"the password is not printed: {text[-500:]}")

# A well-formed URL with a password, Redis unreachable: loads, answers 503
# on /v1/score (state.redis.on_outage: fail), the password nowhere.
srv = Server(repo, "--set", "state.backend=redis", "--set",
             f"state.redis.url=redis://:{SECRET}@127.0.0.1:1/0", "--set",
             "state.redis.timeout=100ms", wait_ready=False)
answers = []
for path in ("/v2/models/sparkov/ready", "/v2/models/sparkov", "/v2/health/ready"):
    st, ans, _ = request(srv.port, "GET", path)
    answers.append((path, st, ans))
st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov", txn)
answers.append(("/v1/score", st, ans))
check(st == 503, f"/v1/score with Redis down: {st} {ans}")
st, ans, _ = request(srv.admin_port, "GET", "/admin/models/sparkov",
                     headers={"Authorization": "Bearer test-token"})
answers.append(("/admin/models/sparkov", st, ans))
srv.stop()
log = srv.text()
check(SECRET not in log, "the log never holds the Redis password: " +
      "; ".join(l for l in log.splitlines() if SECRET in l)[:500])
for path, st, ans in answers:
    check(SECRET not in str(ans), f"{path} ({st}) does not quote the password: {ans}")
shutil.rmtree(repo, ignore_errors=True)

# ---- 2. /v1/score with nothing loaded gives the load error ----
repo = make_repo({})
bad = os.path.join(repo, "sparkov", "1")
shutil.copytree(b1, bad)
with open(os.path.join(bad, "model.json"), "a") as f:
    f.write(" ")  # the manifest's sha256 no longer matches
srv = Server(repo, wait_ready=False)
check(wait_for(lambda: srv.events("model_load_failed")), "the corrupt version fails to load")
st, v2, _ = request(srv.port, "GET", "/v2/models/sparkov/ready")
check(st == 503 and isinstance(v2, dict), f"V2 readiness of the failed model: {st} {v2}")
st, ans, _ = request(srv.port, "POST", "/v1/score", txn)
msg = ans.get("error", "") if isinstance(ans, dict) else str(ans)
check(st == 503, f"/v1/score without a model: {st} {ans}")
check(msg.startswith("no model is loaded: model 'sparkov' is not available: "),
      f"/v1/score's 503 names the model and why: {msg}")
# The same reason as the V2 answer (which is "model 'sparkov' is not
# available: REASON"), without the repository's path.
v2msg = v2.get("error", "") if isinstance(v2, dict) else ""
check(v2msg and v2msg in msg, f"the reason is V2's: v1 {msg!r} v2 {v2msg!r}")
check(("sha256" in msg.lower() or "checksum" in msg.lower()) and repo not in msg,
      f"the reason names the checksum, not the repository path: {msg}")
srv.stop()
shutil.rmtree(repo, ignore_errors=True)

# ---- 4. strict query parameters of /v1/score ----
repo = make_repo({"sparkov": [("1", b1)]})
srv = Server(repo)
port = srv.port


def score(query):
    st, ans, _ = request(port, "POST", "/v1/score?" + query, txn)
    return st, ans


st, ans = score("model=sparkov&reasons=3")
check(st == 200 and len(ans.get("reasons", [])) == 3, f"reasons=3: {st} {ans}")
st, ans = score("reasons=0")
check(st == 200 and "reasons" not in ans, f"reasons=0 (default model): {st} {ans}")
for q in ("reasons=%203", "reasons=3%20", "reasons=+3", "reasons=3x", "reasons=", "reasons=33",
          "reasons=-1", "reasons=0x3"):
    st, ans = score("model=sparkov&" + q)
    msg = ans.get("error", "") if isinstance(ans, dict) else str(ans)
    check(st == 400 and msg.startswith("reasons: an integer from 0 to 32"), f"?{q}: {st} {msg}")
st, ans = score("model=sparkov&reasons=3%00")
msg = ans.get("error", "") if isinstance(ans, dict) else str(ans)
check(st == 400 and "'reasons'" in msg and "NUL" in msg, f"?reasons=3%00: {st} {msg}")
for name in ("reasons", "explain", "version", "model"):
    st, ans = score(name if name == "model" else "model=sparkov&" + name)
    msg = ans.get("error", "") if isinstance(ans, dict) else str(ans)
    check(st == 400 and f"query parameter '{name}' has no value" in msg,
          f"bare ?{name}: {st} {msg}")
st, ans = score("model=sparkov&version=1%00x")
check(st == 400, f"version with a NUL byte: {st} {ans}")
# An empty model= still means the default (the only loaded) model.
st, ans = score("model=&reasons=1")
check(st == 200 and len(ans.get("reasons", [])) == 1, f"model= (empty): {st} {ans}")
srv.stop()
shutil.rmtree(repo, ignore_errors=True)

finish("redactquery")
