#!/usr/bin/python3
"""Fixes of a newcomer review of the server (issue 5), against the real
`fraud serve` and what docs/server.md and docs/api.md state:

1. an empty (or comments-only) config file is a bad file: refused at
   startup (exit 2 naming the file) and at SIGHUP (reload_failed naming it,
   the running configuration kept); the next reload reads the file again;
   `{}` is a good file that sets nothing (defaults);
2. a NUL byte (%00) in the URL path is a 400 on every listener, before any
   routing (libmicrohttpd would cut the path at it);
3. every answer and log line is valid UTF-8 JSON, whatever bytes the
   client put in the path (invalid UTF-8 is replaced by U+FFFD);
4. /v1/score's query parameter names are exact (case-sensitive): a name
   the endpoint does not know, `REASONS` or `Model` included, is a 400;
5. conflicting framing (two Content-Length headers, Content-Length with
   Transfer-Encoding) is a 400 and the connection is closed (RFC 9112
   section 6.3); an HTTP/1.1 request without Host is a 400 (RFC 9112
   section 3.2); Inference-Header-Content-Length is ASCII digits only;
6. (re-check) a header name holding a non-token character (`Content-Length
   : 45`) is a 400 and closes (RFC 9112 section 5.1); Transfer-Encoding
   with a coding other than chunked is a 501 (chunked last) or a 400 (RFC
   9112 sections 6.1, 6.3), given twice or on HTTP/1.0 a 400, all closing;
   empty query segments are ignored; an absolute-form target is routed on
   its path (RFC 9112 section 3.2.2);
7. every key `fraud serve --print-config` prints is in config.example.yaml.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import (FRAUD, SRC, Server, bundle, check, finish, make_repo, read_csv_rows,
                           request, wait_for)

b1 = bundle("sparkov", "1", trees=30, seed=42)
header, rows = read_csv_rows()
txn = {h: v for h, v in zip(header, rows[0]) if h != "is_fraud"}


def raw(port, data, timeout=5.0):
    """Sends raw bytes on a new connection; returns (list of (status,
    headers, body) answers read, closed) where closed tells whether the
    server closed the connection after them (within 1.5 s)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    buf = b""
    answers = []
    closed = False
    deadline = time.time() + timeout
    while time.time() < deadline:
        # Parse every complete answer in buf.
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end].decode("latin-1").split("\r\n")
            hdrs = {}
            for line in head[1:]:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            n = int(hdrs.get("content-length", "0"))
            if len(buf) < end + 4 + n:
                break
            answers.append((int(head[0].split()[1]), hdrs, buf[end + 4:end + 4 + n]))
            buf = buf[end + 4 + n:]
        s.settimeout(1.5 if answers else max(0.1, deadline - time.time()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
    s.close()
    return answers, closed


# ---- 1. empty config files ----
# Two models: without repository.default_model, /v1/score must name one.
b_other = bundle("other", "1", trees=10, seed=42)
repo = make_repo({"sparkov": [("1", b1)], "other": [("1", b_other)]})
cfgdir = tempfile.mkdtemp(prefix="fraud-cfg-")
cfg = os.path.join(cfgdir, "c.yaml")
GOOD = ("admin:\n  token: file-token\nrepository:\n  default_model: sparkov\n"
        "server:\n  max_body_bytes: 2048\n")
with open(cfg, "w") as f:
    f.write("")
out = subprocess.run([FRAUD, "serve", "--model-repository", repo, "--config", cfg, "--port", "0",
                      "--print-config"], capture_output=True, text=True, timeout=60)
check(out.returncode == 2 and cfg in out.stderr and "empty" in out.stderr,
      f"startup with an empty file: exit {out.returncode}: {out.stderr[-300:]}")
with open(cfg, "w") as f:
    f.write(GOOD)
srv = Server(repo, "--config", cfg, token=None)
check(wait_for(lambda: len(srv.events("model_loaded")) >= 2), "both models load")
auth = {"Authorization": "Bearer file-token"}
big = dict(txn, pad="x" * 3000)


def good_state(what):
    st, ans, _ = request(srv.admin_port, "GET", "/admin/models/sparkov", headers=auth)
    check(st == 200, f"{what}: admin call with the file's token: {st} {ans}")
    st, ans, _ = request(srv.port, "POST", "/v1/score", txn)
    check(st == 200 and ans.get("model") == "sparkov",
          f"{what}: /v1/score uses the file's default model: {st} {ans}")
    st, ans, _ = request(srv.port, "POST", "/v1/score", big)
    check(st == 413, f"{what}: the file's max_body_bytes 2048 applies: {st} {ans}")


good_state("at start")
nfail = 0
for content in ("", "# only comments\n# here\n", "---\n"):
    with open(cfg, "w") as f:
        f.write(content)
    srv.proc.send_signal(signal.SIGHUP)
    check(wait_for(lambda: len(srv.events("reload_failed")) > nfail, 10),
          f"SIGHUP with {content!r}: reload_failed logged")
    ev = srv.events("reload_failed")
    nfail = len(ev)
    check(ev and cfg in ev[-1]["msg"] and "empty" in ev[-1]["msg"],
          f"reload_failed names the file: {ev[-1:]}")
    check(not srv.events("reload_needs_restart"), f"{content!r}: no restart warning: "
          f"{srv.events('reload_needs_restart')}")
    good_state(f"after SIGHUP with {content!r}")
# The file is read again: a changed limit applies.
with open(cfg, "w") as f:
    f.write(GOOD.replace("2048", "8192"))
nok = len(srv.events("reloaded"))
srv.proc.send_signal(signal.SIGHUP)
check(wait_for(lambda: len(srv.events("reloaded")) > nok, 10),
      f"the good file reloads: {srv.events('reload_needs_restart')} {srv.events('reload_failed')}")
st, ans, _ = request(srv.port, "POST", "/v1/score", big)
check(st == 200, f"max_body_bytes 8192 from the file read again: {st} {ans}")
# `{}` sets nothing: defaults (no token: admin 403; two models, none named: 400).
with open(cfg, "w") as f:
    f.write("{}\n")
nok = len(srv.events("reloaded"))
srv.proc.send_signal(signal.SIGHUP)
check(wait_for(lambda: len(srv.events("reloaded")) > nok, 10), "{} reloads")
st, ans, _ = request(srv.admin_port, "GET", "/admin/models/sparkov", headers=auth)
check(st == 403, f"after {{}}: admin disabled (no token): {st} {ans}")
st, ans, _ = request(srv.port, "POST", "/v1/score", txn)
check(st == 400 and "several models" in str(ans), f"after {{}}: no default model: {st} {ans}")
with open(cfg, "w") as f:
    f.write(GOOD)
nok = len(srv.events("reloaded"))
srv.proc.send_signal(signal.SIGHUP)
check(wait_for(lambda: len(srv.events("reloaded")) > nok, 10), "the good file reloads after {}")
good_state("after {} then the good file")
check(srv.stop() == 0, "exit after the reload checks")
shutil.rmtree(repo, ignore_errors=True)

# ---- 2..5: one server, access log on ----
repo = make_repo({"sparkov": [("1", b1)]})
srv = Server(repo, "--set", "logging.access_log=true")
port, admin = srv.port, srv.admin_port

# 2. NUL in the path.
for method, path, p in (("POST", "/v1/score%00/../anything", port),
                        ("POST", "/v1/score%00", port),
                        ("POST", "/v1/score%00?reasons=1", port),
                        ("POST", "/v1/score%00x?reasons=1%00", port),
                        ("GET", "/metrics%00.json", port),
                        ("GET", "/v2/health/ready%00xyz", port),
                        ("POST", "/v2/repository/index%00x", admin)):
    st, ans, _ = request(p, method, path, txn if method == "POST" else None,
                         headers={"Authorization": "Bearer test-token"})
    check(st == 400 and "NUL" in str(ans), f"{method} {path}: {st} {ans}")
# A NUL in the query string is still the parameter's 400, the path is fine.
st, ans, _ = request(port, "POST", "/v1/score?reasons=3%00", txn)
check(st == 400 and "'reasons'" in str(ans) and "NUL" in str(ans), f"?reasons=3%00: {st} {ans}")
st, ans, _ = request(port, "POST", "/v1/score%3f", txn)  # an escaped '?' is part of the path
check(st == 404, f"/v1/score%3f: {st} {ans}")
st, ans, _ = request(port, "POST", "/v1/score?reasons=1", txn)
check(st == 200 and len(ans.get("reasons", [])) == 1, f"a clean request still scores: {st} {ans}")

# 3. Invalid UTF-8 in the path: valid UTF-8 JSON answers and logs.
for path, shown in (("/v2/models/%ff%fe", "\ufffd\ufffd"),
                    ("/v2/models/a%c3%28b", "a\ufffd(b"),
                    ("/v2/models/%ed%a0%80x", "\ufffd\ufffd\ufffdx"),
                    ("/nowhere%e2%82", "/nowhere\ufffd")):
    st, data, _ = request(port, "GET", path, raw=True)
    try:
        ans = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        ans = None
        check(False, f"GET {path}: the answer is not UTF-8 JSON ({e}): {data!r}")
    if ans is not None:
        check(st == 404 and shown in ans.get("error", ""), f"GET {path}: {st} {ans}")
    # Valid UTF-8 passes through unchanged.
st, ans, _ = request(port, "GET", "/v2/models/caf%c3%a9")
check(st == 404 and "caf\u00e9" in ans.get("error", ""), f"valid UTF-8 kept: {st} {ans}")
time.sleep(0.2)
bad_lines = []
with open(srv.log_path, "rb") as f:
    for line in f:
        try:
            json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            bad_lines.append(line)
check(not bad_lines, f"every log line is UTF-8 JSON: {bad_lines[:3]}")

# 4. Exact query parameter names.
for q in ("REASONS=5&reasons=0", "reasons=0&REASONS=5", "Model=sparkov", "model=sparkov&Reasons=2",
          "reason=2", "explain=features&EXPLAIN=features"):
    st, ans, _ = request(port, "POST", "/v1/score?" + q, txn)
    msg = ans.get("error", "") if isinstance(ans, dict) else str(ans)
    check(st == 400 and "unknown query parameter" in msg and
          "expected model, version, reasons or explain" in msg, f"?{q}: {st} {msg}")
for q in ("reasons=1&reasons=2", "model=sparkov&model=sparkov"):
    st, ans, _ = request(port, "POST", "/v1/score?" + q, txn)
    check(st == 400 and "more than once" in str(ans), f"?{q}: {st} {ans}")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov&reasons=2&explain=features", txn)
check(st == 200 and len(ans.get("reasons", [])) == 2 and "features" in ans,
      f"exact names work: {st} {ans}")

# 5. Framing.
body = json.dumps(txn).encode()
n = len(body)
ans, closed = raw(port, b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                  b"Content-Length: %d\r\n\r\n" % (n, n + 1) + body + b"x")
check(len(ans) == 1 and ans[0][0] == 400 and closed,
      f"two Content-Length headers: 400 and close: {[(a[0], a[2][:80]) for a in ans]} "
      f"closed={closed}")
ans, closed = raw(port, b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                  b"Content-Length: %d\r\n\r\n" % (n, n) + body)
check(len(ans) == 1 and ans[0][0] == 400 and closed,
      f"two equal Content-Length headers: 400 and close: {[(a[0], a[2][:80]) for a in ans]}")
chunked = b"%x\r\n" % n + body + b"\r\n0\r\n\r\n"
ans, closed = raw(port, b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
check(len(ans) == 1 and ans[0][0] == 400 and closed,
      f"Content-Length with Transfer-Encoding: 400 and close: "
      f"{[(a[0], a[2][:80]) for a in ans]} closed={closed}")
ans, closed = raw(port, b"POST /v1/score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"\r\n" + chunked)
check(len(ans) == 1 and ans[0][0] == 200 and not closed,
      f"chunked alone is fine: {[(a[0], a[2][:80]) for a in ans]} closed={closed}")
ans, closed = raw(port, b"GET /v2/health/live HTTP/1.1\r\n\r\n")
check(len(ans) == 1 and ans[0][0] == 400, f"HTTP/1.1 without Host: {[(a[0], a[2]) for a in ans]}")
ans, closed = raw(port, b"GET /v2/health/live HTTP/1.0\r\n\r\n")
check(len(ans) == 1 and ans[0][0] == 200, f"HTTP/1.0 without Host is fine: {ans}")
ans, closed = raw(port, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
check(len(ans) == 1 and ans[0][0] == 400, f"two Host headers: {[(a[0], a[2]) for a in ans]}")
with open(os.path.join(b1, "manifest.json")) as f:
    F = len(json.load(f)["features"])
v2 = json.dumps({"inputs": [{"name": "features", "shape": [1, F], "datatype": "FP32",
                             "data": [0.0] * F}]}).encode()
for hl, want in ((b"%d" % len(v2), 200), (b"+%d" % len(v2), 400), (b" %d" % len(v2), 200),
                 (b"%dx" % len(v2), 400), (b"-0", 400), (b"0x10", 400), (b"", 400)):
    # (a blank after the colon is the header's optional whitespace, RFC 9110 5.5)
    ans, _ = raw(port, b"POST /v2/models/sparkov/infer HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: %d\r\nInference-Header-Content-Length:%s\r\n\r\n" %
                 (len(v2), hl) + v2)
    check(len(ans) == 1 and ans[0][0] == want,
          f"Inference-Header-Content-Length:{hl!r}: {[(a[0], a[2][:120]) for a in ans]}, "
          f"expected {want}")

# 6. Re-check review (issue 5).
def shown(ans):
    return [(a[0], a[2][:100]) for a in ans]


GET_LIVE = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
# 6a. A header name with whitespace or another non-token character (RFC
# 9112 section 5.1, RFC 9110 section 5.6.2): 400 and close, so the bytes
# after it (the body libmicrohttpd would not have read, then a pipelined
# GET) are never taken as a request.
for name in (b"Content-Length ", b"Content-Length\t", b" Content-Length"):
    ans, closed = raw(port, b"POST /v1/score HTTP/1.1\r\nHost: x\r\n%s: %d\r\n\r\n" %
                      (name, n) + body + GET_LIVE)
    check(len(ans) == 1 and ans[0][0] == 400 and closed and "x-request-id" in ans[0][1] and
          b"header name" in ans[0][2],
          f"header name {name!r}: one JSON 400, connection closed, the pipelined GET not "
          f"answered: {shown(ans)} closed={closed}")
for name in (b"X-Fo(o", b"X@y", b"X\"q", b"X/y", b"X{y}", b"X=y", b"X\x80y"):
    ans, closed = raw(port, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n%s: 1\r\n\r\n" %
                      name + GET_LIVE)
    check(len(ans) == 1 and ans[0][0] == 400 and closed,
          f"header name {name!r}: 400 and close: {shown(ans)} closed={closed}")
ans, closed = raw(port, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n"
                  b"X-A!#$%&'*+.^_`|~09z: a value (with) \"anything\"\r\n\r\n" + GET_LIVE)
check(len(ans) == 2 and ans[0][0] == 200 and ans[1][0] == 200 and not closed,
      f"every tchar in a name is fine, and the next request is served: {shown(ans)}")
# 6b. Transfer-Encoding (RFC 9112 sections 6.1 and 6.3).
for te, want in ((b"gzip, chunked", 501), (b"deflate,chunked", 501), (b"identity", 400),
                 (b"gzip", 400), (b"chunked, gzip", 400), (b"chunked, chunked", 400),
                 (b"", 400), (b"chunked ", 400), (b"chunked ,chunked", 400)):
    ans, closed = raw(port, b"POST /v1/score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n"
                      b"\r\n" % te + chunked + GET_LIVE)
    check(len(ans) == 1 and ans[0][0] == want and closed and "x-request-id" in ans[0][1],
          f"Transfer-Encoding: {te!r}: {want} at once and close: {shown(ans)} closed={closed}")
for te in (b"Chunked", b"CHUNKED"):
    ans, closed = raw(port, b"POST /v1/score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n"
                      b"\r\n" % te + chunked + GET_LIVE)
    check(len(ans) == 2 and ans[0][0] == 200 and ans[1][0] == 200 and not closed,
          f"Transfer-Encoding: {te!r} is chunked (coding names are case-insensitive): "
          f"{shown(ans)} closed={closed}")
ans, closed = raw(port, b"POST /v1/score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" + chunked + GET_LIVE)
check(len(ans) == 1 and ans[0][0] == 400 and closed,
      f"Transfer-Encoding twice: 400 and close: {shown(ans)} closed={closed}")
ans, closed = raw(port, b"POST /v1/score HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  chunked)
check(len(ans) == 1 and ans[0][0] == 400 and closed,
      f"Transfer-Encoding on HTTP/1.0: 400 and close: {shown(ans)} closed={closed}")
# 6c. Empty query segments are ignored; an empty name with a value is not.
for q, nreasons in (("model=sparkov&", 0), ("&model=sparkov", 0), ("model=sparkov&&reasons=1", 1),
                    ("&", 0), ("&&reasons=2&&", 2), ("", 0)):
    st, ans, _ = request(port, "POST", "/v1/score?" + q, txn)
    check(st == 200 and len(ans.get("reasons", [])) == nreasons, f"?{q}: {st} {ans}")
for q in ("=1", "model=sparkov&=1", "="):
    st, ans, _ = request(port, "POST", "/v1/score?" + q, txn)
    check(st == 400 and "unknown query parameter ''" in str(ans), f"?{q}: {st} {ans}")
# 6d. An absolute-form request target (RFC 9112 section 3.2.2), on both
# listeners: routed on its path and query.
ans, closed = raw(port, b"POST http://127.0.0.1:%d/v1/score?reasons=2 HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: %d\r\n\r\n" % (port, n) + body)
got = json.loads(ans[0][2]) if ans and ans[0][0] == 200 else None
check(got is not None and len(got.get("reasons", [])) == 2,
      f"absolute-form POST /v1/score?reasons=2: {shown(ans)}")
ans, closed = raw(port, b"GET HTTPS://example.com/v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET http://example.com?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
check(len(ans) == 3 and ans[0][0] == 200 and ans[1][0] == 404 and b"GET /\"" in ans[1][2] and
      ans[2][0] == 404 and b"GET /\"" in ans[2][2],
      f"absolute-form: scheme case-insensitive, an empty path is '/': {shown(ans)}")
ans, closed = raw(port, b"POST http://x/v1/score%%00 HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: %d\r\n\r\n" % n + body)
check(len(ans) == 1 and ans[0][0] == 400 and b"NUL" in ans[0][2],
      f"absolute-form with %00 in the path: {shown(ans)}")
ans, closed = raw(admin, b"POST http://127.0.0.1:%d/v2/repository/index HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer test-token\r\nContent-Length: 0\r\n\r\n" % admin)
got = json.loads(ans[0][2]) if ans and ans[0][0] == 200 else None
check(isinstance(got, list) and any(m.get("name") == "sparkov" for m in got),
      f"absolute-form on the admin listener: {shown(ans)}")
ans, closed = raw(port, b"GET ftp://x/v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
check(len(ans) == 1 and ans[0][0] == 404, f"another scheme is not an absolute-form: {shown(ans)}")
check(srv.stop() == 0, "exit after the HTTP checks")
shutil.rmtree(repo, ignore_errors=True)

# ---- 7. config.example.yaml lists every key --print-config prints ----
out = subprocess.run([FRAUD, "serve", "--print-config"], capture_output=True, text=True,
                     timeout=60)
check(out.returncode == 0, f"--print-config: {out.returncode} {out.stderr}")


def keys_of(text):
    """Dotted key paths of a block-style YAML text (indentation 2), from
    the lines `key:` (commented `# key:` lines of the example included,
    since the example shows optional keys commented out)."""
    keys, stack = set(), []
    for line in text.splitlines():
        m = re.match(r"^(\s*)(?:#\s?)?([A-Za-z_][A-Za-z0-9_]*):(\s|$)", line)
        if not m:
            continue
        depth = len(m.group(1)) // 2
        stack = stack[:depth] + [m.group(2)]
        keys.add(".".join(stack))
    return keys


printed = {k for k in keys_of(out.stdout) if not k.startswith("models.")}
with open(os.path.join(SRC, "config.example.yaml")) as f:
    example = keys_of(f.read())
missing = sorted(printed - example)
check(len(printed) > 40 and not missing,
      f"keys --print-config prints but config.example.yaml lacks ({len(printed)} printed): "
      f"{missing}")
check("state.max_future_skew" in printed, "state.max_future_skew is printed")

finish("serve_httpfix_py")
