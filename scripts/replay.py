#!/usr/bin/python3
"""Replays the test slice of a data file through POST /v1/score, one
transaction at a time in event-time order, and checks every online
probability against the offline `fraud predict` probability of the same row.

Inputs: the raw CSV (.csv or .csv.gz) as the server's schema reads it, the
offline predictions written by `fraud predict --event-time` (same rows, same
order), the schema YAML (to leave the label column out of the requests) and
the test-slice start time.  Prints one JSON object: requests, mismatches,
max_abs_diff, requests_per_s, client p50/p99 latency (ms) and the server-side
p50/p99 reported in each response's latency field when present.

Standard library only (plus python3-yaml), so it runs with Debian's python3.
"""
import argparse
import csv
import gzip
import http.client
import io
import json
import sys
import time

import yaml


def open_text(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, "r", encoding="utf-8", newline="")


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--offline", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--from-time", type=float, required=True)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()

    with open(args.schema, encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    label = [c["name"] for c in schema["columns"] if c.get("role") == "label"]

    with open_text(args.data) as f:
        reader = csv.reader(f)
        header = [h.lstrip("\ufeff") for h in next(reader)]
        rows = [r for r in reader if r]
    with open(args.offline, encoding="utf-8", newline="") as f:
        offline = list(csv.DictReader(f))
    if len(rows) != len(offline):
        sys.exit(f"replay: {args.data} has {len(rows)} rows but {args.offline} has {len(offline)}")

    keep = [i for i, h in enumerate(header) if h not in label]
    chosen = [i for i, o in enumerate(offline) if float(o["event_time"]) >= args.from_time]
    chosen.sort(key=lambda i: (float(offline[i]["event_time"]), i))

    path = "/v1/score" + (f"?model={args.model}" if args.model else "")
    conn = http.client.HTTPConnection(args.host, args.port, timeout=30)
    latencies, server_lat = [], []
    mismatches, max_diff, errors = 0, 0.0, 0
    t0 = time.perf_counter()
    for i in chosen:
        body = json.dumps({header[k]: rows[i][k] for k in keep}).encode()
        s = time.perf_counter()
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        latencies.append(time.perf_counter() - s)
        if resp.status != 200:
            errors += 1
            if errors <= 3:
                print(f"replay: row {i + 1}: HTTP {resp.status}: {data[:200]!r}", file=sys.stderr)
            continue
        answer = json.loads(data)
        online = float(answer["fraud_probability"])
        expected = float(offline[i]["probability"])
        diff = abs(online - expected)
        max_diff = max(max_diff, diff)
        if online != expected:
            mismatches += 1
            if mismatches <= 3:
                print(f"replay: row {i + 1}: online {online!r} != offline {expected!r}",
                      file=sys.stderr)
        lat = answer.get("latency_us")
        if lat is not None:
            server_lat.append(float(lat) / 1000.0)
    elapsed = time.perf_counter() - t0
    conn.close()
    latencies.sort()
    server_lat.sort()
    print(json.dumps({
        "requests": len(chosen),
        "errors": errors,
        "mismatches": mismatches,
        "max_abs_diff": max_diff,
        "requests_per_s": len(chosen) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "server_p50_ms": percentile(server_lat, 0.50),
        "server_p99_ms": percentile(server_lat, 0.99),
    }))
    return 0 if errors == 0 and mismatches == 0 and chosen else 1


if __name__ == "__main__":
    sys.exit(main())
