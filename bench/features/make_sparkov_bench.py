#!/usr/bin/python3
"""Builds a Sparkov-format file of >= 1 M rows for the featurizer benchmark.

The bundled data/samples/sparkov/sparkov_windows.csv.gz holds complete
per-card histories of 678 cards over three windows (about 4.5 days, 13,109
rows).  This script tiles it: copy k shifts every event time by k * SHIFT
seconds (10 days, longer than the windows' span, so copies never overlap),
keeps the card numbers and merchants (so each card accumulates a long
history, like the full Sparkov data: ~1,000 cards, ~2.5 transactions per card
per day) and gives each row a new trans_num.  Rows come out in event-time
order.  Usage: make_sparkov_bench.py ROWS OUT.csv
"""
import csv
import gzip
import os
import sys

SHIFT = 10 * 86400


def main():
    rows_wanted = int(sys.argv[1])
    out = sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..", "..", "data", "samples", "sparkov",
                       "sparkov_windows.csv.gz")
    with gzip.open(src, "rt", newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    it = header.index("unix_time")
    idn = header.index("trans_num")
    rows.sort(key=lambda row: int(row[it]))
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        n = 0
        k = 0
        while n < rows_wanted:
            for row in rows:
                if n >= rows_wanted:
                    break
                row = list(row)
                row[it] = str(int(row[it]) + k * SHIFT)
                row[idn] = "%s-%d" % (row[idn], k)
                w.writerow(row)
                n += 1
            k += 1


if __name__ == "__main__":
    main()
