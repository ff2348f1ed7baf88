#!/usr/bin/python3
"""Loads the model that test_trainer.c trained through the C API into
python-xgboost and checks that python's predictions on the same rows equal
the C API's (tests/train/tests.cmake runs it after test_trainer, as the ctest
fixture "train_model").

usage: check_model.py DIR TABLE_CSV   (DIR holds model.json, c_predictions.csv)
"""
import csv
import math
import sys

import numpy as np
import xgboost as xgb


def main():
    out_dir, table = sys.argv[1], sys.argv[2]
    with open(table) as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    names = header[2:]
    x = np.array([[float(c) if c else math.nan for c in r[2:]] for r in body],
                 dtype=np.float32)
    with open(out_dir + "/c_predictions.csv") as f:
        preds = list(csv.DictReader(f))
    idx = np.array([int(r["row"]) for r in preds])
    c_pred = np.array([float(r["prediction"]) for r in preds], dtype=np.float32)
    bst = xgb.Booster(model_file=out_dir + "/model.json")
    if bst.feature_names != names:
        sys.exit("feature names in the model %r != table %r"
                 % (bst.feature_names, names))
    py_pred = bst.predict(xgb.DMatrix(x[idx], missing=np.nan,
                                      feature_names=names))
    diff = np.abs(py_pred.astype(np.float64) - c_pred.astype(np.float64))
    if not (diff.max() <= 1e-6):
        sys.exit("python-xgboost and the C API disagree on %d of %d rows "
                 "(max |diff| %g)" % ((diff > 1e-6).sum(), len(idx), diff.max()))
    print("ok: %d predictions agree (max |diff| %g), %d trees"
          % (len(idx), diff.max(), bst.num_boosted_rounds()))


if __name__ == "__main__":
    main()
