#!/usr/bin/python3
"""Holes of /v1/score's input checks from a newcomer review, against the
real `fraud serve` and what docs/api.md and docs/server.md state:

1. a null, empty or absent value in a text column whose schema declares
   max_null_rate: 0 (sparkov: cc_num, merchant, category, trans_num) is a
   400 missing_field naming the field, as for a number column (amt), and
   nothing of the request enters the state;
2. an event time more than state.max_future_skew (default one day) ahead
   of the server's clock is a 400 out_of_range naming the field and the
   key, counted in fraud_request_errors_total; it is not stored, so a
   later real event of the card is not "late"; 0 turns the check off.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from serve_helpers import (Server, bundle, check, finish, make_repo, metric_value, metrics,
                           read_csv_rows, request)

b1 = bundle("sparkov", "1", trees=30, seed=42)
header, rows = read_csv_rows()
txn = {h: v for h, v in zip(header, rows[0]) if h != "is_fraud"}
repo = make_repo({"sparkov": [("1", b1)]})


def errors(port, reason):
    return metric_value(metrics(port), "fraud_request_errors_total", endpoint="/v1/score",
                        reason=reason) or 0.0


# ---- 1. max_null_rate: 0 holds text columns too ----
srv = Server(repo)
port = srv.port
card = "4000000000000077"
base = dict(txn, cc_num=card, merchant="scorecheck_merchant", trans_num="scorecheck-1")
before = errors(port, "missing_field")
n = 0
for col in ("cc_num", "merchant", "category", "trans_num"):
    for val, word in ((None, "null"), ("", "empty")):
        st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", dict(base, **{col: val}))
        msg = ans.get("error", "") if isinstance(ans, dict) else str(ans)
        check(st == 400 and f"field '{col}' is {word}" in msg and "max_null_rate: 0" in msg,
              f"{col}={val!r}: 400 missing_field naming it: {st} {ans}")
        n += 1
    if col != "cc_num":  # an absent entity key is the required check's
        st, ans, _ = request(port, "POST", "/v1/score?model=sparkov",
                             {k: v for k, v in base.items() if k != col})
        check(st == 400 and f"field '{col}'" in str(ans), f"{col} absent: 400: {st} {ans}")
        n += 1
# In an array, the transaction is named and no transaction is scored.
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov",
                     [base, dict(base, trans_num="scorecheck-2", merchant="")])
check(st == 400 and "transactions[1]: field 'merchant' is empty" in str(ans),
      f"array: the bad transaction named: {st} {ans}")
n += 1
check(errors(port, "missing_field") - before == n,
      f"each counted as missing_field: {errors(port, 'missing_field') - before} of {n}")
# The number column's rule is unchanged, and a column without the rule
# (state) still takes a missing value.
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", dict(base, amt=None))
check(st == 400 and "field 'amt' is null" in str(ans), f"amt null: {st} {ans}")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", dict(base, state=""))
check(st == 200, f"state '' (no max_null_rate) is scored: {st} {ans}")
srv.stop()

# ---- 2. an event far ahead of the clock is refused (state.max_future_skew) ----
srv = Server(repo)
port = srv.port
card = "4000000000000088"
now = int(time.time())
real = dict(txn, cc_num=card, merchant="scorecheck_merchant2", unix_time=str(now - 3600),
            trans_num="skew-0")
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov", real)
check(st == 200 and "late" not in ans, f"an event an hour ago: {st} {ans}")
before = errors(port, "out_of_range")
for t in (4070908800, now + 2 * 86400):  # 2099 (inside the schema's range); two days ahead
    st, ans, _ = request(port, "POST", "/v1/score?model=sparkov",
                         dict(real, unix_time=str(t), trans_num=f"skew-{t}"))
    msg = ans.get("error", "") if isinstance(ans, dict) else str(ans)
    check(st == 400 and "field 'unix_time'" in msg and "state.max_future_skew" in msg
          and "ahead of the server's clock" in msg, f"unix_time {t}: 400 naming it: {st} {ans}")
check(errors(port, "out_of_range") - before == 2,
      f"counted as out_of_range: {errors(port, 'out_of_range') - before}")
# The card is not blinded: a real event after them is not late.
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov",
                     dict(real, unix_time=str(now - 1800), trans_num="skew-1"))
check(st == 200 and "late" not in ans, f"a real event after the refusals is not late: {st} {ans}")
# Within the skew: accepted (an hour ahead).
st, ans, _ = request(port, "POST", "/v1/score?model=sparkov",
                     dict(real, unix_time=str(now + 3600), trans_num="skew-ahead"))
check(st == 200 and "late" not in ans, f"an hour ahead is within the default day: {st} {ans}")
srv.stop()

# state.max_future_skew=0 turns it off; a smaller skew is held.
srv = Server(repo, "--set", "state.max_future_skew=0")
st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov",
                     dict(real, cc_num="4000000000000099", unix_time="4070908800"))
check(st == 200, f"max_future_skew=0: the 2099 event is accepted: {st} {ans}")
srv.stop()
srv = Server(repo, "--set", "state.max_future_skew=10m")
st, ans, _ = request(srv.port, "POST", "/v1/score?model=sparkov",
                     dict(real, unix_time=str(now + 3600)))
check(st == 400 and "600 s ahead" in str(ans), f"max_future_skew=10m: an hour ahead: {st} {ans}")
srv.stop()

finish("serve_scorecheck")
