#!/usr/bin/python3
"""soak.py - the sustained run behind `make soak` (scripts/soak.sh).

Measures the target's capacity (closed loop, 64 connections), then drives it
in an open loop at 80 % of that rate over 128 connections (an open-loop
connection carries one request at a time, so the extra ones are headroom)
for --minutes (default 10) with
`fraud loadgen --interval 60s`, while sampling the server process's resident
memory (VmRSS) and open file descriptors once a minute from /proc.  Reports,
per minute: throughput, errors, non-2xx answers, p99 latency (from each
request's due time: coordinated omission corrected), RSS and descriptors.

Passes when: no request failed (errors and non-2xx both 0), the target rate
was reached (no unsent request), and after the first minute (warm-up) neither
RSS nor descriptors grow: descriptors stay within +-2 of the warm-up value
(connections come and go) and RSS within max(5 %, 8 MiB) of it.

Targets: `serve` (default: `fraud serve` scoring real-sample /v1/score traffic,
once the server is in the build) or `mhd_fixed` (the bare libmicrohttpd peer:
a check of this harness, not of fraud).  The report is printed and written to
--out (default docs/soak.md).  Everything runs on 127.0.0.1 and every process
is stopped by its own id.

usage: soak.py --build DIR [--target serve|mhd_fixed] [--minutes M] [--out FILE]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402  (same directory)


def proc_sample(pid):
    """(RSS in MiB, open descriptors) of a process, from /proc."""
    rss = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def start_target(s, name):
    """Starts the target; returns (Proc, endpoint URL, loadgen body args,
    description of the traffic)."""
    if name == "mhd_fixed":
        p, port = s.start_mhd_fixed()
        body = s.bodies_file("small.jsonl", [suite.SMALL_BODY])
        return p, f"http://127.0.0.1:{port}/v1/score", ["--body-lines", body], \
            "the bare libmicrohttpd peer (bench/peers/mhd_fixed.c), a fixed small body"
    sv = suite.serving(s)
    p, base = sv.start("fraud-serve")
    return p, base + "/v1/score", ["--body-lines", sv.score_bodies], \
        (f"`fraud serve` (defaults: threads = cores, batching off, in-process state) on the "
         f"{suite.SERVE_SCHEMA} sample's model ({sv.trees} trees); /v1/score bodies: the "
         f"sample's {sum(1 for _ in open(sv.score_bodies)):,} transactions "
         "(`fraud loadgen --csv`), cycled")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--target", default="serve", choices=["serve", "mhd_fixed"])
    ap.add_argument("--minutes", type=int, default=10)
    ap.add_argument("--interval", type=int, default=60, help="seconds per sample")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.minutes < 1 or args.interval < 1:
        ap.error("--minutes and --interval must be >= 1")
    out = args.out or os.path.join(suite.ROOT, "docs", "soak.md")
    suite.ARGS = argparse.Namespace(reps=1)
    s = suite.Suite(argparse.Namespace(build=args.build, reps=1, seconds=10))
    started = datetime.datetime.now(datetime.timezone.utc)
    duration = args.minutes * 60
    try:
        try:
            proc, url, body_args, traffic = start_target(s, args.target)
        except suite.Skip as e:
            print(f"soak: skipped: {e}", file=sys.stderr)
            return 0
        pid = proc.p.pid
        suite.log(f"soak: capacity of {args.target} (closed loop, {args.connections} "
                  "connections, 10 s)")
        cap = s.loadgen(url, args.connections, body_args, seconds=10)
        if cap["errors"]:
            raise RuntimeError(f"capacity run had {cap['errors']} failures")
        rate = 0.8 * cap["rps"]
        suite.log(f"soak: capacity {cap['rps']:.0f} requests/s; {args.minutes} min at "
                  f"{rate:.0f} requests/s")
        # Twice the connections of the capacity run: in an open loop each
        # connection carries one request at a time, so headroom in connections
        # keeps a latency blip from capping the rate below the target.
        cmd = [s.fraud, "loadgen", "--endpoint", url, "-c", str(2 * args.connections),
               "-t", str(s.threads), "--rate", f"{rate:.0f}", "--duration", f"{duration}s",
               "--interval", f"{args.interval}s", "--timeout", "10s", "--json"] + body_args
        samples = [(0.0,) + proc_sample(pid)]
        out_path = os.path.join(s.tmp, "soak.json")
        t0 = time.time()
        with open(out_path, "w") as fout, open(out_path + ".err", "w") as ferr:
            lg = subprocess.Popen(cmd, stdout=fout, stderr=ferr)
            next_t = t0 + args.interval
            try:
                while lg.poll() is None:
                    time.sleep(0.2)
                    if time.time() >= next_t and len(samples) <= duration // args.interval:
                        samples.append((time.time() - t0,) + proc_sample(pid))
                        suite.log(f"soak: {samples[-1][0]:.0f} s: RSS {samples[-1][1]:.1f} MiB, "
                                  f"{samples[-1][2]} fds")
                        next_t += args.interval
                    if not proc.alive():
                        raise RuntimeError(f"the target exited during the run: {proc.tail()}")
                    if time.time() > t0 + duration + 120:
                        raise RuntimeError("fraud loadgen did not finish in time")
            finally:
                if lg.poll() is None:
                    lg.kill()
                    lg.wait()
        with open(out_path) as f:
            text = f.read()
        if lg.returncode not in (0, 1) or not text:
            with open(out_path + ".err") as f:
                raise RuntimeError(f"fraud loadgen failed: {f.read()[-500:]}")
        report = json.loads(text)
    finally:
        s.cleanup()

    ivs = report.get("intervals", [])
    rows = []
    for i, iv in enumerate(ivs):
        smp = samples[i + 1] if i + 1 < len(samples) else None
        rows.append([i + 1, suite.fmt_rps(iv["throughput_rps"]), iv["errors"], iv["non2xx"],
                     suite.fmt_ms(iv["latency_ms"]["p99"]), suite.fmt_ms(iv["latency_ms"]["max"]),
                     f"{smp[1]:.1f}" if smp else "-", smp[2] if smp else "-"])
    after = samples[1:]
    warm = after[0] if after else samples[0]
    rss_growth = max(x[1] for x in after) - warm[1] if after else 0.0
    fd_growth = max(x[2] for x in after) - warm[2] if after else 0
    rss_limit = max(0.05 * warm[1], 8.0)
    checks = [
        ("no failed request", report["failures"] == 0, f"{report['failures']} failures"),
        ("target rate reached", report.get("unsent", 0) == 0,
         f"{report.get('unsent', 0)} requests unsent"),
        ("RSS does not grow after minute 1", rss_growth <= rss_limit,
         f"+{rss_growth:.1f} MiB (limit {rss_limit:.1f})"),
        ("descriptors do not grow after minute 1", fd_growth <= 2, f"{fd_growth:+d}"),
    ]
    ok = all(c[1] for c in checks)
    lines = [
        "# Sustained run",
        "",
        "Generated by `make soak` (scripts/soak.sh → bench/http/soak.py); rerun it rather than "
        "edit.  The target's capacity is measured first (closed loop, "
        f"{args.connections} connections, 10 s), then it is driven in an open loop at 80 % of "
        f"it for {args.minutes} min over {2 * args.connections} connections; latency is measured "
        "from each request's due time.",
        "",
        "| | |",
        "|:---|:---|",
        f"| date | {started.strftime('%Y-%m-%d %H:%M UTC')} |",
        f"| commit | {suite.commit()} |",
        f"| command | `scripts/soak.sh --target {args.target} --minutes {args.minutes}` |",
        f"| target | {traffic} |",
        f"| capacity | {cap['rps']:,.0f} requests/s; soak rate {rate:,.0f} requests/s |",
        f"| requests | {report['completed']:,} completed, {report['failures']} failed, "
        f"p99 {report['latency_ms']['p99']:.3f} ms, max {report['latency_ms']['max']:.1f} ms |",
        f"| verdict | {'PASS' if ok else '**FAIL**'} |",
        "",
        suite.md_table(["minute" if args.interval == 60 else f"interval ({args.interval} s)",
                        "req/s", "errors", "non-2xx", "p99 ms", "max ms", "RSS MiB",
                        "fds"], rows),
        "",
        f"Before the run: RSS {samples[0][1]:.1f} MiB, {samples[0][2]} fds.",
        "",
        suite.md_table(["check", "result", "measured"],
                       [[c[0], "pass" if c[1] else "**fail**", c[2]] for c in checks],
                       ["l", "l", "l"]),
        "",
        "The run:",
        "",
        "```",
        " ".join(["fraud"] + cmd[1:]).replace(url, "URL"),
        "```",
        "",
    ]
    doc = "\n".join(lines)
    print(doc)
    with open(out + ".tmp", "w") as f:
        f.write(doc)
    os.replace(out + ".tmp", out)
    suite.log(f"soak: wrote {suite.rel(out)}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
