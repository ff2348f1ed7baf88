#!/usr/bin/python3
"""burst_test.py - one card's burst over many connections, then its replay,
through a real `fraud serve` with its default configuration.

Hand-computed expectations: 400 payments of one card stamped one second
apart and sent concurrently over 16 connections, 16 in flight at a time
(connection k sends payments k, k+16, ..., each round starting together, so
each round reaches the state in any order) must all land in the card's history with the default
allowed lateness (60 s): a payment 10 s after the last one sees
card_count_1h = 400 and card_sum_1h = 400 * 1.25 = 500.  Sending 40 of them
again (a client retrying) is answered with "duplicate": true and changes
neither figure; fraud_state_duplicate_events_total counts 40.
"""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_helpers import Server, bundle, check, finish, make_repo, metric_value, metrics, request

N, CONNS, T0 = 400, 16, 1_600_000_000
CARD = "9000000000000777"


def txn(i, amt=1.25):
    return {"trans_num": f"burst-{i}", "unix_time": T0 + i, "cc_num": CARD,
            "merchant": f"m{i % 7}", "category": "misc_net", "amt": amt, "gender": "F",
            "state": "NC", "city_pop": 3495, "lat": 36.0788, "long": -81.1781,
            "merch_lat": 36.011293, "merch_long": -82.048315}


def main():
    repo = make_repo({"sparkov": [("1", bundle("sparkov", "1", 50))]})
    srv = Server(repo)
    try:
        errors = []
        # Rounds of 16 payments in flight at once (one per connection): the
        # state sees each round in any order, never a payment more than 15 s
        # (event time) behind the newest.
        rounds = threading.Barrier(CONNS)

        def send(k):
            conn = srv.conn()
            try:
                for i in range(k, N, CONNS):
                    rounds.wait(60)
                    st, body, _ = request(srv.port, "POST", "/v1/score", txn(i), conn=conn)
                    if st != 200:
                        errors.append((i, st, body))
            finally:
                conn.close()

        threads = [threading.Thread(target=send, args=(k,)) for k in range(CONNS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        check(not errors, f"every burst payment answered 200 (first errors: {errors[:3]})")

        def probe(i):
            st, body, _ = request(srv.port, "POST", "/v1/score?explain=features", txn(i))
            check(st == 200, f"probe {i}: {st} {body}")
            return body

        # Not sent before: scored from the whole burst, then added to it.
        p = probe(N + 10)
        f = p["features"]
        check(f["card_count_1h"] == N, f"card_count_1h {f['card_count_1h']}, want {N}")
        check(abs(f["card_sum_1h"] - N * 1.25) < 1e-3, f"card_sum_1h {f['card_sum_1h']}, want {N * 1.25}")
        check(not p.get("late"), "the probe is not late")

        # A client retrying 40 of the burst: replays, not new payments.
        dup = 0
        for i in range(N - 40, N):
            st, body, _ = request(srv.port, "POST", "/v1/score", txn(i))
            check(st == 200, f"retry {i}: {st}")
            dup += bool(body.get("duplicate"))
        check(dup == 40, f"{dup} of 40 retries answered duplicate")
        # Stamped after the probe: sees the burst, the probe, and no retry.
        f = probe(N + 20)["features"]
        check(f["card_count_1h"] == N + 1, f"after retries card_count_1h {f['card_count_1h']}, want {N + 1}")
        m = metrics(srv.port)
        d = metric_value(m, "fraud_state_duplicate_events_total", backend="memory")
        check(d == 40, f"fraud_state_duplicate_events_total {d}, want 40")
        late = metric_value(m, "fraud_state_late_events_total", backend="memory", action="dropped")
        check(late == 0, f"late dropped {late}, want 0")
        check(CARD not in srv.text(), "the card number is not in the log")
    finally:
        srv.stop()
    finish("burst_test")


if __name__ == "__main__":
    main()
