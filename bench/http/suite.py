#!/usr/bin/python3
"""suite.py - the benchmark suite behind `make bench` (scripts/bench.sh).

Runs every comparison of docs/benchmarks.md on this machine and rewrites that
file: the machine (CPU model, cores, flags), the date, the commit, and for
each table the command that produced it.  Method, because these machines are
shared and absolute figures drift: every comparison is measured inside one
run, its contenders alternating (A, B, A, B, ...), each figure is the median
of --reps repetitions (default 5), and ratios are taken between medians.

A section whose program or subcommand is not in this build prints
"skipped: <reason>" instead of a table, so the suite runs at every stage of
the project.  Everything listens on 127.0.0.1 only; every process started
here is stopped by its own id (its own session for multi-process peers) when
its section ends; every load run is bounded by a duration.

usage: suite.py --build DIR [--out FILE] [--only a,b] [--reps N] [--seconds S]
  --only limits the run to some sections and prints the document to stdout
  unless --out is given; a full run writes --out (default docs/benchmarks.md).
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WRK_LUA = os.path.join(ROOT, "bench", "http", "wrk_bodies.lua")
PY = "/usr/bin/python3"

# A raw transaction in the shape /v1/score takes, used as the fixed body of
# the fixed-body peers (they do not read it, but every client sends it).
SMALL_BODY = ('{"Time":"406","V1":"-2.3122265423263","V2":"1.95199201064158",'
              '"Amount":"0"}')


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rel(path):
    """Path relative to the repository, for commands shown in the document."""
    try:
        r = os.path.relpath(path, ROOT)
        return path if r.startswith("..") else r
    except ValueError:
        return path


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_ok(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


class Proc:
    """A process this suite started; stopped by its id (and its session's
    children, for uvicorn's workers) with SIGTERM, then SIGKILL."""

    def __init__(self, name, args, env=None, stdout=None, cwd=None):
        self.name = name
        self.args = args
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.log_path = os.path.join(tempfile.gettempdir(), f"fraud-bench-{name}-{os.getpid()}.log")
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen(args, env=full_env, cwd=cwd, stdout=stdout or self.log,
                                  stderr=self.log, start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def wait_ready(self, url, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited: {self.tail()}")
            if http_ok(url):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout} s: {self.tail()}")

    def tail(self):
        self.log.flush()
        try:
            with open(self.log_path) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.alive():
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()
        try:
            os.unlink(self.log_path)
        except OSError:
            pass


class Skip(Exception):
    """A section cannot run in this build; the message says why."""


class Section:
    def __init__(self, key, title):
        self.key = key
        self.title = title
        self.intro = ""
        self.tables = []
        self.notes = []
        self.commands = []
        self.skipped = None
        self.seconds = 0.0
        self.headlines = []  # (what, figure): the page's summary table

    def headline(self, what, figure):
        self.headlines.append((what, figure))

    def command(self, cmd):
        if cmd not in self.commands:
            self.commands.append(cmd)


def md_table(headers, rows, align=None):
    align = align or ["l"] + ["r"] * (len(headers) - 1)
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---:" if a == "r" else ":---" for a in align) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def fmt_rps(v):
    return "-" if v is None else f"{v:,.0f}"


def fmt_ms(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Suite:
    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.fraud = os.path.join(self.build, "fraud")
        self.reps = args.reps
        self.seconds = args.seconds
        self.server_seconds = getattr(args, "server_seconds", args.seconds)
        self.threads = min(2, os.cpu_count() or 1)
        self.tmp = tempfile.mkdtemp(prefix="fraud-bench-")
        self.procs = []
        self._have = {}

    # -- what this build has ------------------------------------------------

    def have_cmd(self, name):
        """True when `fraud <name> --help` exits 0 (the subcommand exists)."""
        if name not in self._have:
            ok = False
            if os.access(self.fraud, os.X_OK):
                r = subprocess.run([self.fraud, name, "--help"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                ok = r.returncode == 0
            self._have[name] = ok
        return self._have[name]

    def need_cmd(self, name):
        if not self.have_cmd(name):
            raise Skip(f"`fraud {name}` is not in this build")

    @staticmethod
    def need_prog(prog, package):
        if not shutil.which(prog):
            raise Skip(f"{prog} not installed (Debian package {package})")

    # -- processes ----------------------------------------------------------

    def start(self, name, args, env=None, stdout=None):
        p = Proc(name, args, env=env, stdout=stdout)
        self.procs.append(p)
        return p

    def stop(self, p):
        p.stop()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)

    def start_nginx(self):
        self.need_prog("nginx", "nginx-light")
        prefix = tempfile.mkdtemp(prefix="nginx-", dir=self.tmp)
        port = free_port()
        with open(os.path.join(ROOT, "bench", "peers", "nginx.conf")) as f:
            conf = f.read().replace("@PORT@", str(port)).replace("@PREFIX@", prefix)
        path = os.path.join(prefix, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        p = self.start("nginx", ["nginx", "-p", prefix, "-c", path, "-g", "daemon off;"])
        p.wait_ready(f"http://127.0.0.1:{port}/")
        return p, port

    def mhd_fixed_path(self):
        path = os.path.join(self.build, "bench-http", "mhd_fixed")
        if not os.access(path, os.X_OK):
            raise Skip("bench/peers/mhd_fixed.c was not built (scripts/bench.sh builds it)")
        return path

    def start_mhd_fixed(self):
        port = free_port()
        p = self.start("mhd_fixed", [self.mhd_fixed_path(), "--port", str(port),
                                     "--threads", str(os.cpu_count() or 1)])
        p.wait_ready(f"http://127.0.0.1:{port}/")
        return p, port

    # -- load clients -------------------------------------------------------

    def bodies_file(self, name, lines):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            for line in lines:
                f.write(line + "\n")
        return path

    def wrk(self, url, conns, bodies, seconds=None):
        seconds = seconds or self.seconds
        args = ["wrk", f"-t{min(self.threads, conns)}", f"-c{conns}", f"-d{seconds:g}s",
                "--timeout", "10s", "-s", WRK_LUA, url]
        env = dict(os.environ, WRK_BODIES=bodies or "")
        r = subprocess.run(args, env=env, capture_output=True, text=True,
                           timeout=seconds + 60)
        m = re.search(r"^WRKJSON (\{.*\})$", r.stdout, re.M)
        if r.returncode != 0 or not m:
            raise RuntimeError(f"wrk failed: {r.stdout[-500:]} {r.stderr[-500:]}")
        j = json.loads(m.group(1))
        lat = j["latency_us"]
        errors = sum(j["errors"].values())
        return {"rps": j["requests"] / (j["duration_us"] / 1e6),
                "p50": lat["p50"] / 1e3, "p99": lat["p99"] / 1e3, "p999": lat["p99_9"] / 1e3,
                "errors": errors, "requests": j["requests"]}

    def wrk_command(self, conns, bodies_desc, url_desc, seconds=None):
        return (f"WRK_BODIES={bodies_desc} wrk -t{min(self.threads, conns)} -c{conns} "
                f"-d{seconds or self.seconds:g}s --timeout 10s -s {rel(WRK_LUA)} {url_desc}")

    def loadgen(self, url, conns, extra, seconds=None):
        seconds = seconds or self.seconds
        args = [self.fraud, "loadgen", "--endpoint", url, "-c", str(conns),
                "-t", str(min(self.threads, conns)), "--duration", f"{seconds:g}s",
                "--timeout", "10s", "--json"] + extra
        r = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
        try:
            j = json.loads(r.stdout)
        except json.JSONDecodeError:
            raise RuntimeError(f"fraud loadgen failed ({r.returncode}): {r.stderr[-500:]}")
        lat = j["latency_ms"]
        return {"rps": j["throughput_rps"], "p50": lat["p50"], "p99": lat["p99"],
                "p999": lat["p99_9"], "errors": j["failures"], "requests": j["completed"],
                "json": j}

    def loadgen_command(self, conns, extra_desc, url_desc, seconds=None):
        return (f"fraud loadgen --endpoint {url_desc} -c {conns} -t {min(self.threads, conns)} "
                f"--duration {seconds or self.seconds:g}s --timeout 10s --json {extra_desc}")

    def alternate(self, runners):
        """Runs each (label, fn) once for 1 s as warm-up, then reps rounds of
        all of them in turn; returns {label: [result, ...]}."""
        for label, fn in runners:
            fn(1)
        out = {label: [] for label, _ in runners}
        for rep in range(self.reps):
            for label, fn in runners:
                out[label].append(fn(None))
        return out

    @staticmethod
    def summary(results):
        return {k: median(r[k] for r in results) for k in ("rps", "p50", "p99", "p999")} | {
            "errors": sum(r["errors"] for r in results),
            "spread": (min(r["rps"] for r in results), max(r["rps"] for r in results))}

    def cleanup(self):
        self.stop_all()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------

def section_client(s, sec):
    """fraud loadgen against wrk on a fixed-body nginx: the load client must
    reach at least 90 % of wrk's requests/s, or it would be the bottleneck of
    every other table."""
    s.need_prog("wrk", "wrk")
    nginx, port = s.start_nginx()
    url = f"http://127.0.0.1:{port}/v1/score"
    body = s.bodies_file("small.jsonl", [SMALL_BODY])
    sec.intro = (
        "`fraud loadgen` and wrk (Debian's wrk 4.1) drive the same fixed-body nginx "
        "(bench/peers/nginx.conf) with the same POST request, the same number of "
        f"threads ({s.threads}) and connections, alternating, {s.reps} runs of "
        f"{s.seconds:g} s each; the load client passes when it reaches at least 0.90 of "
        "wrk's requests/s.  Latency columns: median over the runs of each tool's p50 / p99.")
    rows = []
    for conns in (16, 64):
        res = s.alternate([
            ("wrk", lambda t, c=conns: s.wrk(url, c, body, t)),
            ("loadgen", lambda t, c=conns: s.loadgen(url, c, ["--body-lines", body], t)),
        ])
        w, lg = s.summary(res["wrk"]), s.summary(res["loadgen"])
        ratio = lg["rps"] / w["rps"] if w["rps"] else None
        rows.append([conns, fmt_rps(w["rps"]), fmt_rps(lg["rps"]), fmt_ratio(ratio),
                     "yes" if ratio and ratio >= 0.9 else "**no**",
                     f"{fmt_ms(w['p50'])} / {fmt_ms(w['p99'])}",
                     f"{fmt_ms(lg['p50'])} / {fmt_ms(lg['p99'])}",
                     w["errors"] + lg["errors"]])
        if conns == 16:
            sec.headline("`fraud loadgen` / wrk requests/s on a fixed-body nginx, 16 connections",
                         f"{fmt_ratio(ratio)} ({fmt_rps(lg['rps'])} / {fmt_rps(w['rps'])})")
        sec.command(s.wrk_command(conns, "small.jsonl", "http://127.0.0.1:PORT/v1/score"))
        sec.command(s.loadgen_command(conns, "--body-lines small.jsonl",
                                      "http://127.0.0.1:PORT/v1/score"))
    sec.tables.append(md_table(
        ["connections", "wrk req/s", "loadgen req/s", "loadgen / wrk", ">= 0.90",
         "wrk p50 / p99 (ms)", "loadgen p50 / p99 (ms)", "errors"], rows))
    s.stop(nginx)


# bench_forest's default (>= 0.3 s per timing, TreeSHAP too) runs for well
# over 10 minutes on 2 busy cores; --quick (>= 0.05 s per timing, still best
# of 3) without TreeSHAP takes well under a minute and keeps every model and
# batch size.  As in docs/benchmarks-forest.md, one thread is timed in CPU
# time (--clock cpu: other jobs' use of the core is left out, for both
# engines alike) and two threads in wall time.
FOREST_RUNS = [("One thread, CPU time of the calling thread",
                ["--markdown", "--quick", "--no-shap", "--threads", "1", "--clock", "cpu"]),
               ("Two threads, wall time",
                ["--markdown", "--quick", "--no-shap", "--threads", "2"])]


def section_forest(s, sec):
    """The model module's bench_forest: our forest engine and XGBoost's C API
    on the same model and rows in the same run; its --markdown tables are
    embedded as it prints them."""
    path = os.path.join(s.build, "bench", "bench_forest")
    if not os.access(path, os.X_OK):
        raise Skip("bench/bench_forest (the model module's benchmark) is not in this build")
    for title, args in FOREST_RUNS:
        r = subprocess.run([path] + args, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"bench_forest failed ({r.returncode}): {r.stderr[-800:]}")
        sec.tables.append(f"**{title}.** " + r.stdout.strip())
        sec.command(" ".join([rel(path)] + args))
        if "--clock" not in args:
            continue
        # Headlines: the speed-up column of the 500-tree rows.
        for line in r.stdout.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 6 and cells[0].startswith("500 trees") and cells[2] == "1" \
                    and cells[1] in ("1", "4096"):
                sec.headline(f"forest engine / XGBoost C API speed-up, {cells[0]}, batch "
                             f"{cells[1]}, 1 thread (CPU time)", cells[5])
    sec.intro = ("Produced by bench/bench_forest.c, the model module's benchmark "
                 "(docs/benchmarks-forest.md and its header comment describe the models, "
                 "rows and method): both engines load the same model JSON and score the same "
                 "rows in the same run, after checking that their probabilities agree.  Its "
                 "timing method differs from the rest of this page: each cell is the best of 3 "
                 "timings of at least 0.05 s (`--quick`), TreeSHAP left out (`--no-shap`) to "
                 "fit the suite's 10 minutes; docs/benchmarks-forest.md has the longer runs "
                 "and the TreeSHAP cost.")


# The serving benchmarks' model: the Sparkov sample (per-card windowed
# features: /v1/score does real online feature work) trained for 500 rounds.
# fraud train keeps the best validation iteration; at eta 0.01 that is
# (nearly) every round, so the bundle holds ~500 trees (the table says how
# many).
SERVE_DATA = "data/samples/sparkov/sparkov_windows.csv.gz"
SERVE_SCHEMA = "sparkov"
SERVE_TRAIN = ["--n-estimators", "500", "--early-stopping", "0", "--eta", "0.01"]


class Serving:
    """What the serving sections share: a model repository with the bundle,
    the request bodies (real-sample /v1/score transactions, V2 tensors of
    batch 1 and 256 from the same rows' features), built once."""

    def __init__(self, s):
        s.need_cmd("serve")
        s.need_cmd("train")
        s.need_cmd("features")
        self.s = s
        self.repo = os.path.join(s.tmp, "repo")
        self.bundle = os.path.join(self.repo, SERVE_SCHEMA, "1")
        data = os.path.join(ROOT, SERVE_DATA)
        r = subprocess.run([s.fraud, "train", "--schema", SERVE_SCHEMA, "--out", self.bundle]
                           + SERVE_TRAIN + [data], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"fraud train failed: {r.stderr[-500:]}")
        m = TRAIN_TREES.search(r.stdout)
        self.trees = int(m.group(1)) if m else None
        self.model_json = os.path.join(self.bundle, "model.json")
        self.score_bodies = os.path.join(s.tmp, "score.jsonl")
        run_checked([s.fraud, "loadgen", "--csv", data, "--schema", SERVE_SCHEMA,
                     "--write-bodies", self.score_bodies])
        self.features = os.path.join(s.tmp, "features.csv")
        run_checked([s.fraud, "features", "--model", self.bundle, data, "-o", self.features])
        self.v2_bodies = {}
        self.input_name = None
        self.data = data

    def start(self, name, extra=()):
        """Starts `fraud serve` on the repository; returns (Proc, base URL)."""
        port = free_port()
        p = self.s.start(name, [self.s.fraud, "serve", "--model-repository", self.repo,
                                "--listen", "127.0.0.1", "--port", str(port), "--no-admin",
                                "--log-level", "warn"] + list(extra))
        base = f"http://127.0.0.1:{port}"
        p.wait_ready(base + "/v2/health/ready", timeout=120)
        return p, base

    def v2(self, base, batch):
        """V2 infer bodies of `batch` rows of the real features (asks the
        running server for the input name), written once."""
        if batch not in self.v2_bodies:
            path = os.path.join(self.s.tmp, f"v2_{batch}.jsonl")
            run_checked([self.s.fraud, "loadgen", "--endpoint", base, "--v2-batch", str(batch),
                         "--model", SERVE_SCHEMA, "--features", self.features,
                         "--v2-bodies", "64", "--write-bodies", path])
            self.v2_bodies[batch] = path
        return self.v2_bodies[batch]

    def start_fastapi(self):
        """The FastAPI + xgboost peer on the same model.json, 2 workers."""
        self.s.need_prog("wrk", "wrk")
        r = subprocess.run([PY, "-c", "import fastapi, uvicorn, xgboost"], capture_output=True)
        if r.returncode != 0:
            raise Skip("python3-fastapi / python3-uvicorn / python3-xgboost not installed")
        port = free_port()
        p = self.s.start("fastapi", [PY, "-m", "uvicorn", "--app-dir",
                                     os.path.join(ROOT, "bench", "peers"), "fastapi_xgb:app",
                                     "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                                     "--no-access-log", "--log-level", "warning"],
                         env={"FRAUD_PEER_MODEL": self.model_json,
                              "FRAUD_PEER_NAME": SERVE_SCHEMA})
        base = f"http://127.0.0.1:{port}"
        p.wait_ready(base + "/v2/health/ready", timeout=120)
        return p, base


def run_checked(args, timeout=600):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(os.path.basename(a) for a in args[:2])} failed: "
                           f"{r.stderr[-500:]}")
    return r


def serving(s):
    if not hasattr(s, "_serving"):
        s._serving = Serving(s)
    return s._serving


def section_server(s, sec):
    """The scoring server against the loopback ceilings (a fixed-body nginx,
    a bare libmicrohttpd program) and a Python FastAPI + xgboost service,
    each driven by wrk and by fraud loadgen at 16 and 64 connections."""
    s.need_prog("wrk", "wrk")
    secs = s.server_seconds
    body = s.bodies_file("small.jsonl", [SMALL_BODY])
    # (label, url, bodies, bodies shown in the commands, connection counts)
    targets = []
    nginx, nport = s.start_nginx()
    targets.append(("nginx, fixed body", f"http://127.0.0.1:{nport}/v1/score", body,
                    "small.jsonl", (16, 64)))
    mhd, mport = s.start_mhd_fixed()
    targets.append(("bare libmicrohttpd, fixed body", f"http://127.0.0.1:{mport}/v1/score", body,
                    "small.jsonl", (16, 64)))
    notes = []
    try:
        sv = serving(s)
        srv, base = sv.start("fraud-serve", ["--batching", "off"])
        targets.append(("fraud serve /v1/score", base + "/v1/score", sv.score_bodies,
                         "score.jsonl", (16, 64)))
        for batch in (1, 256):
            targets.append((f"fraud serve V2 infer, batch {batch}",
                            f"{base}/v2/models/{SERVE_SCHEMA}/infer", sv.v2(base, batch),
                            f"v2_{batch}.jsonl", (16, 64)))
        try:
            fa, fbase = sv.start_fastapi()
            for batch in (1, 256):
                targets.append((f"FastAPI + xgboost V2 infer, batch {batch}",
                                f"{fbase}/v2/models/{SERVE_SCHEMA}/infer", sv.v2(base, batch),
                                f"v2_{batch}.jsonl", (16,)))
        except Skip as e:
            notes.append(f"skipped: FastAPI + xgboost rows: {e}")
    except Skip as e:
        sv = None
        notes.append(f"skipped: the fraud serve and FastAPI rows: {e}")
    sec.intro = (
        "Every target answers POST requests on 127.0.0.1; wrk and `fraud loadgen` send the "
        f"same bodies ({s.threads} threads each); at each connection count all targets and "
        f"both clients alternate, {s.reps} runs of {secs} s per cell after a 1 s warm-up, "
        "medians (latencies are `fraud loadgen`'s, except the wrk p99 column). "
        "Ceilings: a fixed-body nginx (bench/peers/nginx.conf) for any server on this "
        "machine, a bare libmicrohttpd program (bench/peers/mhd_fixed.c: reads the body, "
        "answers a fixed JSON) for our HTTP library; \"x mhd\" is a row's loadgen throughput "
        "over the bare libmicrohttpd's at the same connection count."
        + (f" `fraud serve` (threads = cores, batching off) serves the {SERVE_SCHEMA} sample's "
           f"model ({sv.trees} trees, `fraud train --schema {SERVE_SCHEMA} "
           f"{' '.join(SERVE_TRAIN)}`); /v1/score bodies are the sample's transactions as "
           "`fraud loadgen --csv` writes them (online features with per-card state), V2 "
           "bodies the same rows' features from `fraud features --model`. The FastAPI peer "
           "(bench/peers/fastapi_xgb.py, uvicorn, 2 workers, XGBoost nthread 1) scores the "
           "same model.json; it is measured at 16 connections only."
           if sv else ""))
    rows = []
    for conns in (16, 64):
        runners = []
        for label, url, bfile, _, levels in targets:
            if conns not in levels:
                continue
            runners.append((("wrk", label),
                            lambda t, u=url, b=bfile, c=conns: s.wrk(u, c, b, t or secs)))
            runners.append((("loadgen", label),
                            lambda t, u=url, b=bfile, c=conns:
                            s.loadgen(u, c, ["--body-lines", b], t or secs)))
        res = s.alternate(runners)
        base_rps = s.summary(res[("loadgen", "bare libmicrohttpd, fixed body")])["rps"]
        for label, url, bfile, bdesc, levels in targets:
            if conns not in levels:
                continue
            w = s.summary(res[("wrk", label)])
            lg = s.summary(res[("loadgen", label)])
            rows.append([label, conns, fmt_rps(w["rps"]), fmt_rps(lg["rps"]),
                         fmt_ms(lg["p50"]), fmt_ms(lg["p99"]), fmt_ms(lg["p999"]),
                         fmt_ms(w["p99"]), fmt_ratio(lg["rps"] / base_rps if base_rps else None),
                         w["errors"] + lg["errors"]])
            if conns == 16 and (label.startswith("fraud serve") or label.startswith("FastAPI")
                                or label.startswith("bare")):
                sec.headline(f"{label}, 16 connections: requests/s (loadgen, wrk), p99, x mhd",
                             f"{fmt_rps(lg['rps'])}, {fmt_rps(w['rps'])}; p99 "
                             f"{fmt_ms(lg['p99'])} ms; "
                             f"{fmt_ratio(lg['rps'] / base_rps if base_rps else None)}")
            sec.command(s.wrk_command(conns, bdesc, "URL", secs))
            sec.command(s.loadgen_command(conns, f"--body-lines {bdesc}", "URL", secs))
    sec.tables.append(md_table(
        ["target", "conns", "wrk req/s", "loadgen req/s", "p50 ms", "p99 ms", "p99.9 ms",
         "wrk p99 ms", "x mhd", "errors"], rows))
    sec.notes.extend(notes)


def proc_cpu_ticks(pid):
    """(user, kernel) clock ticks a process has used (proc(5): fields 14, 15
    of /proc/PID/stat; the command name in parentheses may hold blanks)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]), int(rest[12])


def idle_ticks():
    """Ticks all CPUs have spent idle or waiting for I/O (proc(5): the first
    line of /proc/stat, fields idle and iowait)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[4]) + int(fields[5])


def cpu_run(s, pid, url, bodies, seconds):
    """One fraud loadgen run (16 connections) against the server `pid`;
    returns requests/s and the CPU time per completed request, in µs, of
    the server (user, kernel), of the load client (user, kernel: its
    rusage) and of the machine left idle."""
    hz = os.sysconf("SC_CLK_TCK")
    su0, sk0 = proc_cpu_ticks(pid)
    i0 = idle_ticks()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = s.loadgen(url, 16, ["--body-lines", bodies], seconds)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    su1, sk1 = proc_cpu_ticks(pid)
    i1 = idle_ticks()
    n = max(1, r["requests"])
    us = 1e6 / n
    return {"rps": r["rps"], "errors": r["errors"],
            "srv_user": (su1 - su0) / hz * us, "srv_kernel": (sk1 - sk0) / hz * us,
            "cli_user": (c1.ru_utime - c0.ru_utime) * us,
            "cli_kernel": (c1.ru_stime - c0.ru_stime) * us,
            "idle": (i1 - i0) / hz * us}


CPU_KEYS = ("srv_user", "srv_kernel", "cli_user", "cli_kernel", "idle")


def section_cpu(s, sec):
    """Where the CPU time of one request goes, for the bare libmicrohttpd
    program and for /v1/score, and what 0.75x the bare program's
    throughput would leave the scoring server."""
    secs = s.server_seconds
    body = s.bodies_file("small.jsonl", [SMALL_BODY])
    sv = serving(s)
    mhd, mport = s.start_mhd_fixed()
    srv, base = sv.start("fraud-serve-cpu", ["--batching", "off"])
    targets = [("bare libmicrohttpd, fixed body", mhd.p.pid, f"http://127.0.0.1:{mport}/v1/score",
                body, "small.jsonl"),
               ("fraud serve /v1/score", srv.p.pid, base + "/v1/score", sv.score_bodies,
                "score.jsonl")]
    res = s.alternate([(label, lambda t, p=pid, u=url, b=bf: cpu_run(s, p, u, b, t or secs))
                       for label, pid, url, bf, _ in targets])
    s.stop(srv)
    s.stop(mhd)
    cores = os.cpu_count() or 1
    med = {}
    rows = []
    for label, _, _, _, bdesc in targets:
        m = {k: median(r[k] for r in res[label]) for k in ("rps",) + CPU_KEYS}
        m["total"] = sum(m[k] for k in CPU_KEYS)
        m["other"] = cores * 1e6 / m["rps"] - m["total"]
        med[label] = m
        rows.append([label, fmt_rps(m["rps"])] + [f"{m[k]:.1f}" for k in CPU_KEYS + ("other",)]
                    + [f"{m['total'] + m['other']:.1f}", sum(r["errors"] for r in res[label])])
        sec.command(s.loadgen_command(16, f"--body-lines {bdesc}", "URL", secs))
    sec.intro = (
        f"`fraud loadgen` at 16 connections ({s.threads} threads) on the same {cores} cores "
        "as the server, the two targets alternating, "
        f"{s.reps} runs of {secs} s after a 1 s warm-up, medians; CPU time per completed "
        "request in µs: the server's user and kernel time (/proc/PID/stat), the load "
        "client's (its rusage), the time the machine's cores sat idle (/proc/stat) and the "
        "rest of cores / throughput (other processes, and the rounding of clock ticks: near 0 on a quiet machine). Targets and bodies as in the "
        "server section (`fraud serve`: threads = cores, batching off).")
    sec.tables.append(md_table(
        ["target", "req/s", "server user µs", "server kernel µs", "client user µs",
         "client kernel µs", "idle µs", "other µs", "cores / req/s µs", "errors"], rows))
    bare = med["bare libmicrohttpd, fixed body"]
    ours = med["fraud serve /v1/score"]
    budget = cores * 1e6 / (0.75 * bare["rps"])
    rest_ours = ours["total"] - ours["srv_user"]
    rest_bare = bare["total"] - bare["srv_user"]
    sec.notes.append(
        f"At 0.75x the bare program's throughput ({fmt_rps(0.75 * bare['rps'])} requests/s) "
        f"the {cores} cores have {budget:.1f} µs per request. With the kernel, client and "
        f"idle time /v1/score costs here ({rest_ours:.1f} µs), that leaves "
        f"{budget - rest_ours:.1f} µs for the server's own user time, which is "
        f"{ours['srv_user']:.1f} µs; even with the bare program's ({rest_bare:.1f} µs, a "
        f"server doing almost nothing), it leaves {budget - rest_bare:.1f} µs.")
    sec.headline("CPU per /v1/score request at 16 connections: server user + kernel, "
                 "client, idle (µs); room left for server user time at 0.75x mhd",
                 f"{ours['srv_user']:.1f} + {ours['srv_kernel']:.1f}, "
                 f"{ours['cli_user'] + ours['cli_kernel']:.1f}, {ours['idle']:.1f}; "
                 f"{budget - rest_ours:.1f} (bare program: "
                 f"{bare['srv_user']:.1f} + {bare['srv_kernel']:.1f}, "
                 f"{bare['cli_user'] + bare['cli_kernel']:.1f}, {bare['idle']:.1f})")


def section_batching(s, sec):
    """fraud serve with dynamic batching off and on, side by side."""
    sv = serving(s)
    secs = s.server_seconds
    off, off_base = sv.start("serve-batching-off", ["--batching", "off"])
    on, on_base = sv.start("serve-batching-on", ["--batching", "on"])
    cases = [("/v1/score", "/v1/score", sv.score_bodies, "score.jsonl"),
             ("V2 infer, batch 1", f"/v2/models/{SERVE_SCHEMA}/infer", sv.v2(off_base, 1),
              "v2_1.jsonl")]
    conns = 64
    runners = []
    for label, path, bfile, _ in cases:
        for mode, base in (("off", off_base), ("on", on_base)):
            runners.append(((label, mode), lambda t, u=base + path, b=bfile:
                            s.loadgen(u, conns, ["--body-lines", b], t or secs)))
    res = s.alternate(runners)
    rows = []
    for label, path, bfile, bdesc in cases:
        a = s.summary(res[(label, "off")])
        b = s.summary(res[(label, "on")])
        for mode, m in (("off", a), ("on", b)):
            rows.append([label, mode, fmt_rps(m["rps"]), fmt_ms(m["p50"]), fmt_ms(m["p99"]),
                         fmt_ms(m["p999"]),
                         fmt_ratio(m["rps"] / a["rps"] if a["rps"] else None), m["errors"]])
        sec.command(s.loadgen_command(conns, f"--body-lines {bdesc}", f"URL{path}", secs))
        sec.headline(f"{label}, 64 connections: batching on / off requests/s",
                     fmt_ratio(b["rps"] / a["rps"] if a["rps"] else None))
    sec.command("fraud serve --model-repository REPO --listen 127.0.0.1 --port PORT "
                "--no-admin --batching off|on")
    sec.intro = (
        f"Two `fraud serve` processes on the same model, dynamic batching off and on (the "
        "server's defaults: max_batch_size 256, max_queue_delay_microseconds 500), driven "
        f"by `fraud loadgen` at {conns} connections, both servers and both endpoints "
        f"alternating, {s.reps} runs of {secs} s, medians; \"vs off\" is throughput over "
        "batching off.")
    sec.tables.append(md_table(["endpoint", "batching", "req/s", "p50 ms", "p99 ms",
                                "p99.9 ms", "vs off", "errors"], rows))


def section_state(s, sec):
    """/v1/score with the per-entity state in process and in Redis."""
    sv = serving(s)
    secs = s.server_seconds
    _, rport = start_redis(s)
    mem, mem_base = sv.start("serve-memory", ["--batching", "off"])
    try:
        red, red_base = sv.start("serve-redis", ["--batching", "off", "--set",
                                                 "state.backend=redis", "--set",
                                                 f"state.redis.url=redis://127.0.0.1:{rport}"])
    except RuntimeError as e:
        raise Skip(f"`fraud serve` with state.backend=redis did not start: "
                   f"{str(e).splitlines()[-1] if str(e) else e}")
    conns = 16
    runners = [(mode, lambda t, u=base + "/v1/score":
                s.loadgen(u, conns, ["--body-lines", sv.score_bodies], t or secs))
               for mode, base in (("in-process", mem_base), ("redis", red_base))]
    res = s.alternate(runners)
    a = s.summary(res["in-process"])
    rows = []
    for mode in ("in-process", "redis"):
        m = s.summary(res[mode])
        rows.append([mode, fmt_rps(m["rps"]), fmt_ms(m["p50"]), fmt_ms(m["p99"]),
                     fmt_ms(m["p999"]), fmt_ratio(m["rps"] / a["rps"] if a["rps"] else None),
                     m["errors"]])
    b = s.summary(res["redis"])
    sec.headline("/v1/score, 16 connections: Redis / in-process state requests/s",
                 fmt_ratio(b["rps"] / a["rps"] if a["rps"] else None))
    sec.command(s.loadgen_command(conns, "--body-lines score.jsonl", "URL/v1/score", secs))
    sec.command("fraud serve ... --set state.backend=redis --set state.redis.url=redis://127.0.0.1:PORT")
    sec.intro = (
        "/v1/score (online features with per-card windowed state) with the state in the "
        "server's memory and in a local redis-server (no persistence), two servers on the "
        f"same model, `fraud loadgen` at {conns} connections, alternating, {s.reps} runs of "
        f"{secs} s, medians.")
    sec.tables.append(md_table(["state", "req/s", "p50 ms", "p99 ms", "p99.9 ms",
                                "vs in-process", "errors"], rows))


def timed(args, timeout=600):
    """Wall time of one command, in seconds; raises on failure."""
    t = time.perf_counter()
    r = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed: {r.stderr[-500:]}")
    return elapsed


GEN_ROWS = 1000000


def section_generator(s, sec):
    """`fraud generate` writing 1 M transactions, plain CSV and gzip,
    alternating."""
    s.need_cmd("generate")
    plain = os.path.join(s.tmp, "gen.csv")
    gz = os.path.join(s.tmp, "gen.csv.gz")
    runs = {"plain": [], "gzip": []}
    cmds = {"plain": [s.fraud, "generate", "--rows", str(GEN_ROWS), "--seed", "1", "-o", plain],
            "gzip": [s.fraud, "generate", "--rows", str(GEN_ROWS), "--seed", "1", "-o", gz]}
    timed(cmds["plain"])  # warm-up (page cache, CPU frequency)
    for _ in range(s.reps):
        for k in ("plain", "gzip"):
            runs[k].append(timed(cmds[k]))
    rows = []
    for k, path in (("plain", plain), ("gzip", gz)):
        t = median(runs[k])
        size = os.path.getsize(path)
        rows.append([f"`-o {os.path.basename(path)}`", f"{t:.2f}", f"{GEN_ROWS / t:,.0f}",
                     f"{size / 1e6:.1f}", f"{size / 1e6 / t:.1f}"])
        sec.command(" ".join(["fraud"] + cmds[k][1:]).replace(path, os.path.basename(path)))
        if k == "plain":
            sec.headline("`fraud generate`, 1 M rows to plain CSV: rows/s", f"{GEN_ROWS / t:,.0f}")
        os.unlink(path)
    sec.intro = (f"`fraud generate` writes {GEN_ROWS:,} synthetic transactions (default world: "
                 "5,000 cards, 1,000 merchants, 30 days, 1 % fraud) to a plain and to a "
                 f"gzip-compressed CSV, alternating, {s.reps} runs each; wall time, median.")
    sec.tables.append(md_table(["output", "seconds", "rows/s", "MB written", "MB/s"], rows))


# The data sets of the training table: the bundled real samples and rows
# from the generator.  200,000 generated rows keep five training runs within
# the suite's budget (1 M rows take about a minute per run here:
# bench/train/train_bench.py measures that case on its own).
SAMPLES = [("ulb", "data/samples/ulb/creditcard.csv.gz"),
           ("paysim", "data/samples/paysim/paysim.csv.gz"),
           ("sparkov", "data/samples/sparkov/sparkov_windows.csv.gz")]
TRAIN_GEN_ROWS = 200000


def samples():
    return [(name, os.path.join(ROOT, path), f"{name} sample") for name, path in SAMPLES
            if os.path.exists(os.path.join(ROOT, path))]


def generated(s, rows, seed=7):
    """Path of `fraud generate --rows ROWS --seed SEED` output (made once)."""
    path = os.path.join(s.tmp, f"gen-{rows}-{seed}.csv")
    if not os.path.exists(path):
        s.need_cmd("generate")
        timed([s.fraud, "generate", "--rows", str(rows), "--seed", str(seed), "-o", path])
    return path


def datasets(s):
    """[(schema, path, description)] for the training table: the samples,
    plus generated rows when schema 'synthetic' has a feature spec."""
    out = samples()
    if s.have_cmd("generate") and os.path.exists(os.path.join(ROOT, "schemas",
                                                               "synthetic.features.yaml")):
        out.append(("synthetic", generated(s, TRAIN_GEN_ROWS),
                    f"{TRAIN_GEN_ROWS:,} generated rows"))
    return out


TRAIN_TIME = re.compile(r"time: read ([0-9.]+)s, features ([0-9.]+)s, xgboost ([0-9.]+)s, "
                        r"total ([0-9.]+)s")
TRAIN_ROWS = re.compile(r"trained .*: (\d+) rows .*?, (\d+) features")
TRAIN_TREES = re.compile(r"trees: (\d+)")


def train_runs(s):
    """`fraud train` on every data set, the data sets alternating, reps
    times.  Returns {schema: medians of "read", "features_s", "xgboost",
    "total", "wall", with "rows", "features", "trees", "desc", "path"}."""
    s.need_cmd("train")
    sets = datasets(s)
    runs = {name: [] for name, _, _ in sets}
    for rep in range(s.reps):
        for name, path, _ in sets:
            out = os.path.join(s.tmp, f"train-{name}-{rep}")
            t = time.perf_counter()
            r = subprocess.run([s.fraud, "train", "--schema", name, "--out", out, path],
                               capture_output=True, text=True, timeout=900)
            wall = time.perf_counter() - t
            shutil.rmtree(out, ignore_errors=True)
            m = TRAIN_TIME.search(r.stdout)
            if r.returncode != 0 or not m:
                raise RuntimeError(f"fraud train {name} failed: {r.stderr[-500:]}")
            rows = TRAIN_ROWS.search(r.stdout)
            trees = TRAIN_TREES.search(r.stdout)
            runs[name].append({"read": float(m.group(1)), "features_s": float(m.group(2)),
                               "xgboost": float(m.group(3)), "total": float(m.group(4)),
                               "wall": wall, "rows": int(rows.group(1)) if rows else None,
                               "features": int(rows.group(2)) if rows else None,
                               "trees": int(trees.group(1)) if trees else None})
    out = {}
    for name, path, desc in sets:
        rr = runs[name]
        med = {k: median(x[k] for x in rr) for k in ("read", "features_s", "xgboost", "total",
                                                     "wall")}
        med.update(rows=rr[0]["rows"], features=rr[0]["features"], trees=rr[0]["trees"],
                   desc=desc, path=path)
        out[name] = med
    return out


FEAT_ROWS = 1000000
FEAT_REDIS_ROWS = 20000


def start_redis(s):
    """A local redis-server without persistence; returns (Proc, port)."""
    s.need_prog("redis-server", "redis-server")
    port = free_port()
    rdir = tempfile.mkdtemp(prefix="redis-", dir=s.tmp)
    p = s.start("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--dir", rdir])
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return p, port
        except OSError:
            if time.time() > deadline or not p.alive():
                raise RuntimeError(f"redis-server did not start: {p.tail()}")
            time.sleep(0.1)


def section_featurizer(s, sec):
    """The featurizer itself (bench/features/bench_features.c, the feature
    module's benchmark program) on 1 M rows per spec, offline and online,
    in process and through Redis; and `fraud features` end to end on the
    bundled samples."""
    bench = os.path.join(s.build, "tests", "bench_features")
    tables = []
    if os.access(bench, os.X_OK) and s.have_cmd("generate"):
        sets = [("synthetic", generated(s, FEAT_ROWS),
                 f"synthetic spec, {FEAT_ROWS:,} generated rows")]
        spk = os.path.join(s.tmp, "sparkov-tiled.csv")
        run_checked([PY, os.path.join(ROOT, "bench", "features", "make_sparkov_bench.py"),
                     str(FEAT_ROWS), spk])
        sets.append(("sparkov", spk, f"Sparkov spec, the sample tiled to {FEAT_ROWS:,} rows"))
        redis_url = None
        try:
            _, rport = start_redis(s)
            redis_url = f"redis://127.0.0.1:{rport}"
        except Skip:
            pass
        runs = {name: [] for name, _, _ in sets}
        for rep in range(s.reps):
            for name, path, _ in sets:
                args = [bench, "--schema", name, "--repeat", "1"]
                if redis_url:
                    args += ["--redis", redis_url, "--redis-rows", str(FEAT_REDIS_ROWS)]
                r = run_checked(args + [path])
                kv = dict(line.split(None, 1) for line in r.stdout.splitlines() if " " in line)
                runs[name].append(kv)
        rows = []
        for name, path, desc in sets:
            rr = runs[name]
            num = lambda k: median(float(x[k]) for x in rr if k in x)
            rows.append([desc, rr[0].get("features", "-"),
                         f"{num('offline_txn_per_cpu_second'):,.0f}",
                         f"{num('online_memory_ns_per_txn'):,.0f}",
                         f"{num('online_redis_us_per_txn'):.1f}" if redis_url else "-",
                         f"{int(rr[0].get('memory_entities', 0)):,}",
                         rr[0].get("memory_bytes_per_entity", "-")])
            sec.headline(f"featurizer, {desc}: offline transactions per CPU-second; online "
                         "in process ns per transaction",
                         f"{num('offline_txn_per_cpu_second'):,.0f}; "
                         f"{num('online_memory_ns_per_txn'):,.0f}")
        sec.command(f"fraud generate --rows {FEAT_ROWS} --seed 7 -o synthetic.csv")
        sec.command(f"bench/features/make_sparkov_bench.py {FEAT_ROWS} sparkov.csv")
        sec.command(f"build/tests/bench_features --schema synthetic|sparkov --repeat 1"
                    + (f" --redis redis://127.0.0.1:PORT --redis-rows {FEAT_REDIS_ROWS}"
                       if redis_url else "") + " synthetic.csv|sparkov.csv")
        tables.append(md_table(
            ["data", "features", "offline txn per CPU-s", "online in process ns/txn",
             "online via Redis us/txn", "entities", "bytes/entity"], rows))
        intro = (
            "bench/features/bench_features.c (the feature module's benchmark; "
            "docs/benchmarks-features.md explains it): **offline**, the whole data set "
            "replayed in event-time order by `fr_featurize_dataset`, transactions per "
            "CPU-second of one core, the CSV read before the clock starts; **online in "
            "process**, `fr_featurize` + state update one transaction at a time against the "
            "in-process store, CPU ns per transaction; **online via Redis**, the same for the "
            f"first {FEAT_REDIS_ROWS:,} transactions against a local redis-server (wall time, "
            "one connection); memory per entity after the in-process replay. The two data sets "
            f"alternate, {s.reps} runs each (`--repeat 1`), medians.")
    else:
        intro = ("skipped: bench_features (built with the tests as build/tests/bench_features) "
                 "or `fraud generate` is not in this build.")
    s.need_cmd("features")
    walls, nrows = {}, {}
    sets = samples()
    out = os.path.join(s.tmp, "features.csv")
    for rep in range(s.reps):
        for name, path, _ in sets:
            walls.setdefault(name, []).append(
                timed([s.fraud, "features", "--schema", name, path, "-o", out]))
            if name not in nrows:
                with open(out) as f:
                    nrows[name] = sum(1 for _ in f) - 1
    rows = []
    for name, path, desc in sets:
        t = median(walls[name])
        rows.append([desc, f"{nrows[name]:,}", f"{t:.2f}", f"{nrows[name] / t:,.0f}"])
        sec.command(f"fraud features --schema {name} {rel(path)} -o features.csv")
    if os.path.exists(out):
        os.unlink(out)
    tables.append(md_table(["`fraud features` end to end", "rows", "seconds", "rows/s"], rows))
    sec.intro = intro + (" The second table is `fraud features` end to end on the bundled "
                         f"samples (reading and writing CSV text included), {s.reps} runs "
                         "alternating, medians.")
    sec.tables.extend(tables)


def section_training(s, sec):
    """`fraud train` wall time split into its phases, per data set."""
    tr = train_runs(s)
    rows = []
    for name, m in tr.items():
        share = (lambda k: f"{m[k]:.2f} ({100 * m[k] / m['total']:.0f} %)" if m["total"] else "-")
        rows.append([m["desc"], f"{m['rows']:,}", m["features"], m["trees"], share("read"),
                     share("features_s"), share("xgboost"), f"{m['total']:.2f}"])
        if m["path"].startswith(s.tmp):
            sec.command(f"fraud generate --rows {TRAIN_GEN_ROWS} --seed 7 -o gen.csv")
            sec.command(f"fraud train --schema {name} --out DIR gen.csv")
        else:
            sec.command(f"fraud train --schema {name} --out DIR {rel(m['path'])}")
        if name == "synthetic":
            sec.headline(f"`fraud train` on {m['desc']}: total s (read / featurize / xgboost)",
                         f"{m['total']:.1f} ({m['read']:.1f} / {m['features_s']:.1f} / "
                         f"{m['xgboost']:.1f})")
    sec.intro = (
        "`fraud train` with its defaults (up to 500 rounds, early stopping on validation "
        "PR-AUC after 50, depth 6, XGBoost on all cores) on each bundled sample and on "
        f"{TRAIN_GEN_ROWS:,} generated rows (1 M rows take about a minute per run here; "
        "bench/train/train_bench.py measures that case), data sets "
        f"alternating, {s.reps} runs each; the phases are those `fraud train` prints on its "
        "`time:` line (read and parse the CSV; featurize; XGBoost training including "
        "early-stopping evaluation), medians; trees = the best iteration kept.")
    sec.tables.append(md_table(["data set", "rows", "features", "trees", "read s",
                                "featurize s", "xgboost s", "total s"], rows))


SECTIONS = [
    ("client", "Load client versus wrk", section_client),
    ("forest", "Forest engine versus XGBoost's C API", section_forest),
    ("server", "Scoring server versus its peers", section_server),
    ("cpu", "CPU time per request", section_cpu),
    ("batching", "Dynamic batching on and off", section_batching),
    ("state", "In-process versus Redis state", section_state),
    ("featurizer", "Featurizer throughput", section_featurizer),
    ("generator", "Generator throughput", section_generator),
    ("training", "Training time split", section_training),
]


# ---------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------

def sh(args):
    try:
        return subprocess.run(args, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        return ""


def machine():
    info = {}
    for line in sh(["lscpu"]).splitlines():
        k, _, v = line.partition(":")
        info[k.strip()] = v.strip()
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    flags = info.get("Flags", "").split()
    simd = [f for f in flags if re.match(r"^(sse4_2|avx|avx2|fma|avx512(f|bw|vl|dq|cd)|"
                                         r"avx512_vnni|avx512_bf16|bmi2|popcnt)$", f)]
    return {
        "cpu": info.get("Model name", platform.processor()),
        "cpus": info.get("CPU(s)", str(os.cpu_count())),
        "threads_per_core": info.get("Thread(s) per core", "?"),
        "cores_per_socket": info.get("Core(s) per socket", "?"),
        "sockets": info.get("Socket(s)", "?"),
        "hypervisor": info.get("Hypervisor vendor", "none"),
        "caches": ", ".join(f"{k} {info[k]}" for k in ("L1d cache", "L2 cache", "L3 cache")
                            if k in info),
        "simd": " ".join(simd),
        "flags": " ".join(flags),
        "mem": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": os_name,
        "kernel": platform.release(),
    }


def versions():
    out = []
    v = sh(["wrk", "-v"]).splitlines()
    if v:
        out.append(v[0].split(" Copyright")[0])
    r = subprocess.run(["nginx", "-v"], capture_output=True, text=True) if shutil.which("nginx") else None
    if r:
        out.append(r.stderr.strip().replace("nginx version: ", ""))
    mhd = sh(["pkg-config", "--modversion", "libmicrohttpd"])
    if mhd:
        out.append(f"libmicrohttpd {mhd}")
    py = sh([PY, "-c", "import xgboost, fastapi, uvicorn; print('xgboost', xgboost.__version__,"
                       "'/ fastapi', fastapi.__version__, '/ uvicorn', uvicorn.__version__)"])
    if py:
        out.append(py)
    return ", ".join(out)


def commit():
    head = sh(["git", "rev-parse", "--short=12", "HEAD"]) or "unknown"
    dirty = [l for l in sh(["git", "status", "--porcelain"]).splitlines()
             if not l.endswith("docs/benchmarks.md")]
    return head + (" (with uncommitted changes)" if dirty else "")


def render(sections, started, total, load_before, load_after, only):
    m = machine()
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (scripts/bench.sh → bench/http/suite.py); do not edit by "
        "hand, rerun it.  Every comparison is measured in one run on one machine, its "
        "contenders alternating (A, B, A, B, ...); each figure is the median of "
        f"{ARGS.reps} repetitions and ratios are taken between medians, because these "
        "machines are shared and absolute figures drift from one run to the next.  All "
        "traffic is on 127.0.0.1: the load client, the server and its peers share the "
        "machine's cores.",
        "",
        "| | |",
        "|:---|:---|",
        f"| date | {started.strftime('%Y-%m-%d %H:%M UTC')} |",
        f"| commit | {commit()} |",
        f"| command | `make bench` ({total:.0f} s in all{', sections: ' + ', '.join(only) if only else ''}) |",
        f"| CPU | {m['cpu']}, {m['cpus']} CPUs ({m['sockets']} socket x {m['cores_per_socket']} cores x "
        f"{m['threads_per_core']} threads), hypervisor {m['hypervisor']} |",
        f"| caches | {m['caches']} |",
        f"| SIMD flags | {m['simd']} |",
        f"| memory | {m['mem']} |",
        f"| system | {m['os']}, Linux {m['kernel']} |",
        f"| tools | {versions()} |",
        f"| load average | {load_before} before, {load_after} after |",
        "",
        "<details><summary>All CPU flags</summary>",
        "",
        m["flags"],
        "",
        "</details>",
        "",
    ]
    heads = [(i, sec, what, fig) for i, sec in enumerate(sections, 1)
             for what, fig in sec.headlines]
    if heads:
        lines += ["## Headlines", "",
                  "The figures other pages quote, each from the section that measured it "
                  "(medians of this run).", "",
                  md_table(["figure", "value", "section"],
                           [[what, fig, f"{i}. {sec.title}"] for i, sec, what, fig in heads],
                           ["l", "r", "l"]), ""]
    lines += ["The sustained run (10 minutes at 80 % of the measured capacity: errors, p99, "
              "RSS and descriptors per minute) is `make soak`; its report is "
              "[soak.md](soak.md).", ""]
    for i, sec in enumerate(sections, 1):
        lines.append(f"## {i}. {sec.title}")
        lines.append("")
        lines.append(f"Command: `scripts/bench.sh --only {sec.key}` ({sec.seconds:.0f} s)")
        lines.append("")
        if sec.skipped:
            lines.append(f"skipped: {sec.skipped}")
            lines.append("")
            continue
        if sec.intro:
            lines += [sec.intro, ""]
        for t in sec.tables:
            lines += [t, ""]
        for n in sec.notes:
            lines += [n, ""]
        if sec.commands:
            lines += ["Commands (one repetition of each):", "", "```"] + sec.commands + ["```", ""]
    return "\n".join(lines)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--out")
    ap.add_argument("--only")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=2,
                    help="seconds per run (whole seconds: wrk takes no fractions)")
    ap.add_argument("--server-seconds", type=int, default=1,
                    help="seconds per run in the server, batching and state sections")
    ARGS = ap.parse_args()
    if ARGS.reps < 1 or ARGS.seconds <= 0 or ARGS.server_seconds <= 0:
        ap.error("--reps >= 1, --seconds and --server-seconds > 0")
    keys = [k for k, _, _ in SECTIONS]
    only = ARGS.only.split(",") if ARGS.only else []
    for k in only:
        if k not in keys:
            ap.error(f"unknown section '{k}' (sections: {', '.join(keys)})")
    out = ARGS.out or (None if only else os.path.join(ROOT, "docs", "benchmarks.md"))

    suite = Suite(ARGS)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.time()
    load_before = loadavg()
    done = []
    try:
        for key, title, fn in SECTIONS:
            if only and key not in only:
                continue
            sec = Section(key, title)
            log(f"{key}: {title}")
            ts = time.time()
            try:
                fn(suite, sec)
            except Skip as e:
                sec.skipped = str(e)
                log(f"{key}: skipped: {e}")
            except (RuntimeError, subprocess.SubprocessError, OSError) as e:
                sec.skipped = f"failed: {e}"
                log(f"{key}: FAILED: {e}")
            finally:
                suite.stop_all()
            sec.seconds = time.time() - ts
            log(f"{key}: {sec.seconds:.0f} s")
            done.append(sec)
    finally:
        suite.cleanup()
    total = time.time() - t0
    doc = render(done, started, total, load_before, loadavg(), only)
    if out:
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            f.write(doc)
        os.replace(tmp, out)
        log(f"wrote {rel(out)} in {total:.0f} s")
    else:
        print(doc)
    failed = [s.key for s in done if s.skipped and s.skipped.startswith("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
