#!/usr/bin/python3
"""A version written in place, model.json before manifest.json (`cp` file by
file, `kubectl cp`, rsync), against the real `fraud serve` and the rules of
docs/server.md (model repository):

1. a version first loaded as a bare model file (only model.json there yet)
   is reloaded when its directory becomes a bundle: promoted (admin API) it
   serves /v1/score with its feature spec, its V2 metadata names the
   bundle's input ("features", not "input__0"), and a canary written the same
   way answers every card;
2. the implicit production (no stages.json) of a model of bundles keeps
   serving, ready, with its online state, while the newest version is a bare
   model.json alone; once that version is complete it takes over, the state
   kept (same feature spec: one state store), as with an atomic `mv`;
3. a serving bare model file made a bundle in place while stages.json
   promotes another bundle (both before the next poll) is not what the
   release checks compare with (it is loaded again as a bundle): the
   promoted bundle serves, not the stale bare model file;
4. a bundle rewritten in place whose reload fails (files of another
   training: the manifest's sha256 do not match) keeps serving the version
   loaded before; once its files agree it is loaded again;
5. a promoted bundle whose manifest.json is removed in place is not served
   as the bundle it was (a bare model file never replaces a bundle, so the
   model is not served); the manifest back, the bundle serves again.

Expected values are hand-derived: one card's payments, one second apart,
counted by card_count_1h (the probe sees the payments before it).
"""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_helpers import (Server, bundle, check, finish, make_repo, request, wait_for,
                           write_stages)

T0 = 1_600_000_000
CARD = "9000000000000555"
auth = {"Authorization": "Bearer test-token"}
b1 = bundle("sparkov", "1", trees=30, seed=42)
b2 = bundle("sparkov", "2", trees=30, seed=7)
b3 = bundle("sparkov", "3", trees=30, seed=11)


def txn(i, card=CARD):
    return {"trans_num": f"inplace-{card}-{i}", "unix_time": T0 + i, "cc_num": card,
            "merchant": "m1", "category": "misc_net", "amt": 2.5, "gender": "F",
            "state": "NC", "city_pop": 3495, "lat": 36.0788, "long": -81.1781,
            "merch_lat": 36.011293, "merch_long": -82.048315}


def write_in_place(src, dst, version, wait):
    """mkdir, model.json, `wait` seconds (polls happen), then the rest with
    manifest.json last, as a file-by-file copy does.  The manifest names
    the version it is copied as (the bundle was trained as another)."""
    os.makedirs(dst)
    shutil.copyfile(os.path.join(src, "model.json"), os.path.join(dst, "model.json"))
    time.sleep(wait)
    for f in sorted(os.listdir(src)):
        if f not in ("model.json", "manifest.json"):
            shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
    shutil.copyfile(os.path.join(src, "manifest.json"), os.path.join(dst, "manifest.json"))


def serving(admin):
    st, ans, _ = request(admin, "GET", "/admin/models/sparkov", headers=auth)
    return (ans.get("serving") or {}) if st == 200 and isinstance(ans, dict) else {}


# ---- 1. a bare version that becomes a bundle is reloaded ----
# Bundles are trained under their own version (the manifest names it), so
# each is trained as the version it is copied in as.
b4 = bundle("sparkov", "4", trees=30, seed=7)
b5 = bundle("sparkov", "5", trees=30, seed=11)
repo = make_repo({"sparkov": [("1", b1), ("3", b3)]})
mdir = os.path.join(repo, "sparkov")
write_stages(mdir, {"production": "3"})
srv = Server(repo)
port, admin = srv.port, srv.admin_port
try:
    write_in_place(b4, os.path.join(mdir, "4"), "4", 1.0)
    time.sleep(1.0)  # five polls
    st, ans, _ = request(admin, "POST", "/admin/models/sparkov/promote", {"version": "4"},
                         headers=auth)
    check(st == 200, f"promote 4: {st} {ans}")
    check(wait_for(lambda: serving(admin).get("production") == "4"),
          f"4 serves: {serving(admin)}")
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn(0))
    check(st == 200 and ans.get("version") == "4", f"/v1/score on 4: {st} {ans}")
    st, ans, _ = request(port, "GET", "/v2/models/sparkov/versions/4")
    names = [t.get("name") for t in ans.get("inputs", [])] if isinstance(ans, dict) else ans
    check(st == 200 and names == ["features"], f"V2 metadata of 4: inputs {names}")
    st, ans, _ = request(admin, "POST", "/admin/models/sparkov/rollback", {}, headers=auth)
    check(st == 200, f"rollback from 4 to 3: {st} {ans}")
    check(wait_for(lambda: serving(admin).get("production") == "3"),
          f"3 serves again: {serving(admin)}")
    # A canary written the same way: every card answered.
    write_in_place(b5, os.path.join(mdir, "5"), "5", 1.0)
    time.sleep(1.0)
    st, ans, _ = request(admin, "POST", "/admin/models/sparkov/canary",
                         {"version": "5", "weight": 0.5}, headers=auth)
    check(st == 200, f"canary 5: {st} {ans}")
    check(wait_for(lambda: serving(admin).get("canary") == "5"), f"canary 5: {serving(admin)}")
    bad, seen = [], set()
    for k in range(40):
        st, ans, _ = request(port, "POST", "/v1/score?model=sparkov",
                             txn(k, card=f"41110000000{k:05d}"))
        if st != 200:
            bad.append((k, st, ans))
        else:
            seen.add(ans.get("version"))
    check(not bad, f"every card answered with canary 5 (first errors: {bad[:2]})")
    check(seen == {"3", "5"}, f"versions answering: {seen}")
finally:
    srv.stop()
    shutil.rmtree(repo, ignore_errors=True)

# ---- 2. the implicit production keeps serving (and its state) ----
b3i = bundle("sparkov", "3", trees=30, seed=11)
repo = make_repo({"sparkov": [("1", b1), ("2", b2)]})
mdir = os.path.join(repo, "sparkov")
srv = Server(repo)
port, admin = srv.port, srv.admin_port
try:
    for i in range(3):
        st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn(i))
        check(st == 200 and ans.get("version") == "2", f"payment {i} on 2: {st} {ans}")
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov&explain=features", txn(10))
    check(st == 200 and ans["features"]["card_count_1h"] == 3,
          f"probe before: {st} {ans.get('features', ans) if isinstance(ans, dict) else ans}")
    dst = os.path.join(mdir, "3")
    os.makedirs(dst)
    shutil.copyfile(os.path.join(b3i, "model.json"), os.path.join(dst, "model.json"))
    # Several polls (0.2 s) with version 3 a bare model.json alone.
    down, end = [], time.time() + 1.5
    while time.time() < end:
        r = request(port, "GET", "/v2/health/ready")[0]
        s, a, _ = request(port, "POST", "/v1/score?model=sparkov", {"model": "x"})
        if r != 200:
            down.append(("ready", r))
        if s == 503:
            down.append(("score", s, a))
        time.sleep(0.05)
    check(not down, f"ready and serving while 3 is incomplete (first: {down[:2]})")
    check(not srv.events("model_unloaded"), f"nothing unloaded: {srv.events('model_unloaded')}")
    check(serving(admin).get("production") == "2", f"2 still serves: {serving(admin)}")
    for f in ("schema.yaml", "features.yaml", "manifest.json"):
        shutil.copyfile(os.path.join(b3i, f), os.path.join(dst, f))
    # Ready at every look until 3 has taken over (the switch is one swap).
    down, end = [], time.time() + 20
    while time.time() < end and serving(admin).get("production") != "3":
        r = request(port, "GET", "/v2/health/ready")[0]
        if r != 200:
            down.append(r)
        time.sleep(0.02)
    check(serving(admin).get("production") == "3", f"3 serves once complete: {serving(admin)}")
    check(not down, f"ready while 3 takes over: {down[:3]}")
    gone = [ev for ev in srv.events("model_routing") if "no longer served" in ev.get("msg", "")]
    check(not gone, f"the model was never unserved: {gone[:1]}")
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov&explain=features", txn(20))
    check(st == 200 and ans.get("version") == "3" and ans["features"]["card_count_1h"] == 4,
          f"probe after: state kept (3 payments + the first probe): {st} "
          f"{ans.get('features', ans) if isinstance(ans, dict) else ans}")
finally:
    srv.stop()
    shutil.rmtree(repo, ignore_errors=True)

# ---- 3. the release checks compare with what is on disk now ----
repo = make_repo({"sparkov": [("2", b2)]})
mdir = os.path.join(repo, "sparkov")
os.makedirs(os.path.join(mdir, "1"))
shutil.copyfile(os.path.join(b1, "model.json"), os.path.join(mdir, "1", "model.json"))
write_stages(mdir, {"production": "1"})
srv = Server(repo, "--poll-interval", "1h")
port, admin = srv.port, srv.admin_port
try:
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn(0))
    check(st == 400, f"bare production 1 answers /v1/score 400: {st} {ans}")
    for f in ("schema.yaml", "features.yaml", "manifest.json"):
        shutil.copyfile(os.path.join(b1, f), os.path.join(mdir, "1", f))
    write_stages(mdir, {"production": "2"})
    st, ans, _ = request(admin, "POST", "/v2/repository/models/sparkov/load", {}, headers=auth)
    check(st == 200, f"load: {st} {ans}")
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn(1))
    check(st == 200 and ans.get("version") == "2", f"/v1/score on 2: {st} {ans}")
    check(not srv.events("release_refused"), f"no refusal: {srv.events('release_refused')}")
finally:
    srv.stop()
    shutil.rmtree(repo, ignore_errors=True)

# ---- 4. a failed reload keeps the loaded version serving ----
repo = make_repo({"sparkov": [("1", b1)]})
mdir = os.path.join(repo, "sparkov")
srv = Server(repo)
port, admin = srv.port, srv.admin_port
try:
    st, before, _ = request(port, "POST", "/v1/score?model=sparkov", txn(0))
    check(st == 200, f"1 serves: {st} {before}")
    b1x = bundle("sparkov", "1", trees=30, seed=7)  # version 1 of another training
    shutil.copyfile(os.path.join(b1x, "model.json"), os.path.join(mdir, "1", "model.json"))
    check(wait_for(lambda: srv.events("model_reload_failed")),
          f"the reload fails: {srv.events('model_load_failed')}")
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn(1))
    check(st == 200 and ans.get("version") == "1", f"1 still serves: {st} {ans}")
    st, ans, _ = request(port, "GET", "/v2/health/ready")
    check(st == 200, f"ready while the reload fails: {st}")
    shutil.copyfile(os.path.join(b1x, "manifest.json"), os.path.join(mdir, "1", "manifest.json"))
    for f in ("schema.yaml", "features.yaml"):
        shutil.copyfile(os.path.join(b1x, f), os.path.join(mdir, "1", f))
    check(wait_for(lambda: any("loaded again" in ev.get("msg", json.dumps(ev))
                               for ev in srv.events("model_loaded"))),
          f"reloaded once complete: {srv.events('model_loaded')[-1:]}")
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn(2))
    check(st == 200 and ans.get("version") == "1", f"1 serves after the reload: {st} {ans}")
finally:
    srv.stop()
    shutil.rmtree(repo, ignore_errors=True)

# ---- 5. a loaded bundle whose directory is no longer one stops serving ----
repo = make_repo({"sparkov": [("1", b1)]})
mdir = os.path.join(repo, "sparkov")
write_stages(mdir, {"production": "1"})
srv = Server(repo)
port, admin = srv.port, srv.admin_port
try:
    check(request(port, "POST", "/v1/score?model=sparkov", txn(0))[0] == 200, "1 serves")
    mf = os.path.join(mdir, "1", "manifest.json")
    os.rename(mf, os.path.join(repo, "manifest.json.aside"))
    check(wait_for(lambda: request(port, "GET", "/v2/health/ready")[0] == 503),
          "not ready once 1 is no longer a bundle")
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn(1))
    check(st == 503, f"/v1/score not answered by the stale bundle: {st} {ans}")
    os.rename(os.path.join(repo, "manifest.json.aside"), mf)
    check(wait_for(lambda: request(port, "GET", "/v2/health/ready")[0] == 200),
          "ready again with the manifest back")
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", txn(2))
    check(st == 200 and ans.get("version") == "1", f"1 serves again: {st} {ans}")
finally:
    srv.stop()
    shutil.rmtree(repo, ignore_errors=True)

finish("inplace_test")
