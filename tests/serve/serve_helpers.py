"""Shared helpers of the server's integration tests: bundles trained by the
real `fraud train` (cached per build directory), offline references from
`fraud predict` and `fraud features`, a `fraud serve`
process on ephemeral ports (ports read from its "listening" log lines), and
small HTTP helpers on http.client.  Standard library only, plus Debian's
python3-xgboost / numpy where a test needs XGBoost as the reference."""
import csv
import gzip
import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("FRAUD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("FRAUD_BUILD_DIR", os.getcwd())
FRAUD = os.environ.get("FRAUD_BIN", os.path.join(BUILD, "fraud"))
SPARKOV = os.path.join(SRC, "data", "samples", "sparkov", "sparkov_windows.csv.gz")

failures = []


def check(cond, what):
    """Records a failed check (the script exits 1 at the end) and prints it."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def finish(name):
    if failures:
        print(f"{name}: {len(failures)} check(s) failed")
        sys.exit(1)
    print(f"{name}: all checks passed")
    sys.exit(0)


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(" ".join(cmd) + " failed: " + out.stderr[-2000:])
    return out


def bundle(name, version, trees, seed=42, schema="sparkov", data=SPARKOV):
    """Path of a bundle trained once per build directory by `fraud train`
    (one thread, no early stopping: deterministic)."""
    cache = os.path.join(BUILD, "serve-fixtures", f"{schema}-{trees}-{seed}", name, version)
    if not os.path.isfile(os.path.join(cache, "manifest.json")):
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        # Staged in a repository layout of its own (<stage>/<name>/<version>),
        # which `fraud train --name/--version` must agree with.
        stage = os.path.join(os.path.dirname(cache), f"tmp-{os.getpid()}")
        tmp = os.path.join(stage, name, version)
        shutil.rmtree(stage, ignore_errors=True)
        run([FRAUD, "train", "--schema", schema, "--out", tmp, "--name", name, "--version",
             version, "--n-estimators", str(trees), "--early-stopping", "0", "--seed", str(seed),
             "--nthread", "1", "--quiet", data])
        shutil.rmtree(cache, ignore_errors=True)
        os.rename(tmp, cache)
        shutil.rmtree(stage, ignore_errors=True)
    return cache


def offline(bundle_dir, data=SPARKOV):
    """The offline reference, in replay order (event time, then file order):
    a list of dicts with source_row (0-based data row), transaction_id,
    event_time, probability (text, as `fraud predict` printed it) and
    features (floats, from `fraud features --model`)."""
    pred = bundle_dir + ".predict.csv"
    feats = bundle_dir + ".features.csv"
    if not os.path.isfile(pred):
        run([FRAUD, "predict", "--model", bundle_dir, "--event-time", data, "-o", pred + ".tmp"])
        os.rename(pred + ".tmp", pred)
    if not os.path.isfile(feats):
        run([FRAUD, "features", "--model", bundle_dir, data, "-o", feats + ".tmp"])
        os.rename(feats + ".tmp", feats)
    with open(pred, newline="") as f:
        p = list(csv.DictReader(f))
    with open(os.path.join(bundle_dir, "manifest.json")) as f:
        names = json.load(f)["features"]
    with open(feats, newline="") as f:
        rd = csv.reader(f)
        header = next(rd)
        cols = [header.index(n) for n in names]  # the other columns: id, label
        by_id = {rec[0]: [float(rec[c]) if rec[c] != "" else float("nan") for c in cols]
                 for rec in rd}
    rows = [{"source_row": i, "transaction_id": r["transaction_id"],
             "event_time": float(r["event_time"]), "probability": r["probability"],
             "features": by_id[r["transaction_id"]]} for i, r in enumerate(p)]
    rows.sort(key=lambda r: (r["event_time"], r["source_row"]))
    return rows


def read_csv_rows(path=SPARKOV):
    with gzip.open(path, "rt", newline="") as f:
        rd = csv.reader(f)
        header = next(rd)
        return header, [r for r in rd]


def make_repo(models):
    """A temporary repository: models = {name: [(version, bundle_dir), ...]}."""
    root = tempfile.mkdtemp(prefix="fraud-serve-test-")
    for name, versions in models.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for version, src in versions:
            shutil.copytree(src, os.path.join(root, name, version))
    return root


class Server:
    """`fraud serve` on ephemeral ports; stderr collected in a file."""

    def __init__(self, repo, *args, env=None, token="test-token", wait_ready=True, timeout=60):
        self.log_path = os.path.join(tempfile.mkdtemp(prefix="fraud-serve-log-"), "server.log")
        self.log = open(self.log_path, "w+")
        e = dict(os.environ)
        e.setdefault("FRAUD_LOG_LEVEL", "info")
        e["FRAUD_LOG_LEVEL"] = "info"
        if token is not None:
            e["FRAUD_ADMIN_TOKEN"] = token
        if env:
            e.update(env)
        self.token = token
        cmd = [FRAUD, "serve", "--model-repository", repo, "--listen", "127.0.0.1", "--port", "0",
               "--admin-port", "0", "--poll-interval", "0.2s"] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log, env=e)
        self.port = self.admin_port = None
        deadline = time.time() + timeout
        while time.time() < deadline and (self.port is None or self.admin_port is None):
            for ev in self.events("listening"):
                if ev.get("listener") == "inference":
                    self.port = ev["port"]
                elif ev.get("listener") == "admin":
                    self.admin_port = ev["port"]
            if "--no-admin" in args and self.port is not None:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("fraud serve exited: " + self.text())
            time.sleep(0.02)
        if self.port is None:
            raise RuntimeError("no listening line; log: " + self.text())
        if wait_ready:
            self.wait_ready(deadline - time.time())

    def text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def events(self, name=None):
        out = []
        for line in self.text().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if name is None or ev.get("event") == name:
                out.append(ev)
        return out

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if request(self.port, "GET", "/v2/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server not ready; log: " + self.text())

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def stop(self, sig=signal.SIGTERM, timeout=40):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def request(port, method, path, body=None, headers=None, conn=None, raw=False):
    """One request; returns (status, parsed JSON or bytes, headers dict)."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    c.request(method, path, body, headers or {})
    resp = c.getresponse()
    data = resp.read()
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    if own:
        c.close()
    if raw:
        return resp.status, data, hdrs
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data
    return resp.status, parsed, hdrs


def metrics(port):
    status, data, _ = request(port, "GET", "/metrics", raw=True)
    assert status == 200
    return data.decode()


def metric_value(text, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if "{" in head:
            mname, _, lab = head.partition("{")
            lab = lab.rstrip("}")
            pairs = dict(p.split("=", 1) for p in lab.split(",") if "=" in p)
            pairs = {k: v.strip('"') for k, v in pairs.items()}
        else:
            mname, pairs = head, {}
        if mname != name:
            continue
        if all(pairs.get(k) == str(v) for k, v in labels.items()):
            total += float(value)
            found = True
    return total if found else None


def wait_for(cond, timeout=20):
    """Polls cond() every 50 ms until it is true (True) or timeout seconds
    pass (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def write_stages(model_dir, doc):
    """Writes doc as model_dir/stages.json atomically (a temporary file
    renamed over it), as the release commands do."""
    path = os.path.join(model_dir, "stages.json")
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f)
    os.rename(path + ".tmp", path)
