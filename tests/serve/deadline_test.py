#!/usr/bin/python3
"""Request deadlines against slow clients, on the real `fraud serve` (an
empty model repository: the HTTP layer is what is tested), as
docs/server.md ("Threads and connections") states them:

1. a client that drips header bytes (one every 0.4 s, so libmicrohttpd's
   idle timeout, reset by every byte, never fires) is closed once its
   headers are not complete idle_timeout + 1 s after the connection
   started; with as many of them as server.max_connections, the server
   answers again once they are closed (before the fix they held every slot
   for good);
2. a request whose body never arrives is closed at server.read_timeout
   after its headers, not at idle_timeout, even though no byte arrives;
3. both are counted as 408 in fraud_http_requests_total (endpoint
   "unmatched" for incomplete headers, the route for a missing body) and
   logged (event request_timeout); a connection merely idle between
   requests is closed by the idle timeout and not counted.
Timeouts are small (--set) so that the test takes about 10 s."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import Server, check, finish, make_repo, metric_value, metrics, request

IDLE, READ, SLOTS = 4.0, 1.0, 4


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(0.05)
    return s


def closed_by_peer(s):
    """True when the server has closed (EOF or reset); False when open."""
    try:
        return s.recv(4096) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def drip(port, out, i, limit):
    """Sends a request line, then one header byte every 0.4 s; records the
    time (from connect) at which the server closed the connection."""
    s = connect(port)
    t0 = time.monotonic()
    try:
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        while time.monotonic() - t0 < limit:
            if closed_by_peer(s):
                out[i] = time.monotonic() - t0
                return
            try:
                s.sendall(b"a")
            except OSError:
                out[i] = time.monotonic() - t0
                return
            time.sleep(0.35)
    finally:
        s.close()


def main():
    repo = make_repo({})
    srv = Server(repo, "--set", f"server.max_connections={SLOTS}", "--set",
                 f"server.read_timeout={READ:g}s", "--set", f"server.idle_timeout={IDLE:g}s",
                 "--threads", "1", wait_ready=False)
    try:
        port = srv.port
        check(request(port, "GET", "/v2/health/live")[0] == 200, "live before the test")

        # 2. A body that never arrives: closed at the read timeout.
        s = connect(port)
        s.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"a\":")
        t0 = time.monotonic()
        closed_at = None
        while time.monotonic() - t0 < IDLE + 2:
            if closed_by_peer(s):
                closed_at = time.monotonic() - t0
                break
        s.close()
        check(closed_at is not None and closed_at < READ + 1.2,
              f"missing body: connection closed after {closed_at} s (read_timeout {READ} s, "
              f"idle_timeout {IDLE} s)")

        # 1. SLOTS header drippers take every connection slot.
        limit = IDLE + 4
        out = [None] * SLOTS
        ts = [threading.Thread(target=drip, args=(port, out, i, limit)) for i in range(SLOTS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print("drippers closed after (s):", out, flush=True)
        for i, c in enumerate(out):
            check(c is not None and IDLE < c < IDLE + 2.5,
                  f"dripper {i}: closed after {c} s (headers due by {IDLE} + 1 s)")
        # The slots are free again: everyone is answered.
        st = None
        for _ in range(20):
            try:
                st = request(port, "GET", "/v2/health/ready")[0]
                break
            except OSError:
                time.sleep(0.1)
        check(st is not None, "/v2/health/ready answers once the drippers are closed")

        # A connection that sends nothing: idle, not slow; the idle timeout
        # closes it and it is not counted as a 408.
        q = connect(port)
        t0 = time.monotonic()
        idle_closed = None
        while time.monotonic() - t0 < IDLE + 3:
            if closed_by_peer(q):
                idle_closed = time.monotonic() - t0
                break
        q.close()
        check(idle_closed is not None and idle_closed < IDLE + 1,
              f"an idle connection is closed by the idle timeout ({idle_closed} s)")

        m = metrics(port)
        unmatched = metric_value(m, "fraud_http_requests_total", endpoint="unmatched", status=408)
        score = metric_value(m, "fraud_http_requests_total", endpoint="/v1/score", status=408)
        check(unmatched == SLOTS, f"408 for incomplete headers counted {unmatched}, want {SLOTS} "
                                  "(the idle connection is not counted)")
        check(score == 1, f"408 for the missing body counted {score}, want 1")
        ev = srv.events("request_timeout")
        check(len(ev) == SLOTS + 1, f"{len(ev)} request_timeout log lines, want {SLOTS + 1}")
    finally:
        srv.stop()
    finish("deadline_test")


if __name__ == "__main__":
    main()
