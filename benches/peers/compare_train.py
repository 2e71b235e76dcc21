#!/usr/bin/env python3
"""Whole training, mlops-rs vs scikit-learn, on the same Parquet files in one run.

Runs the `training` criterion bench of mlops-train (which writes train/test Parquet files of the
generated churn table), then times scikit-learn's
Pipeline(ColumnTransformer([median-impute + StandardScaler on the numeric columns,
most-frequent-impute + OneHotEncoder(handle_unknown="ignore") on the categorical ones]),
LogisticRegression()) fit on the same training rows (median of repeats, data already in memory),
and prints both medians, the ratio and both ROC-AUCs on the same test rows.

Usage (repository root): python3 benches/peers/compare_train.py [--no-bench]
(set MLOPS_BENCH_TRAIN_1M=1 to include 1M rows; it takes many minutes)
Requires: pip install scikit-learn pandas pyarrow numpy
"""
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
data_dir = os.path.join(target, "bench-data")
LABEL, POSITIVE = "churned", "yes"


def median_s(name):
    path = os.path.join(target, "criterion", "training", name, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"] / 1e9


def sklearn_fit(df, num, cat):
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cat),
    ])
    model = Pipeline([("pre", pre), ("lr", LogisticRegression())])
    model.fit(df[num + cat], df[LABEL] == POSITIVE)
    return model


def main():
    if "--no-bench" not in sys.argv:
        subprocess.run(["cargo", "bench", "-p", "mlops-train", "--bench", "training"],
                       cwd=root, check=True)
    print(f"{'rows':>9}{'mlops-rs (s)':>14}{'sklearn (s)':>13}{'ratio':>8}"
          f"{'AUC ours':>10}{'AUC sklearn':>13}{'|dAUC|':>9}")
    for rows in [100_000, 1_000_000]:
        if not os.path.exists(os.path.join(data_dir, f"train_auc_{rows}.json")):
            continue  # 1M only with MLOPS_BENCH_TRAIN_1M=1
        train = pq.read_table(os.path.join(data_dir, f"train_{rows}.parquet")).to_pandas()
        test = pq.read_table(os.path.join(data_dir, f"test_{rows}.parquet")).to_pandas()
        cat = [c for c in train.columns
               if not pd.api.types.is_numeric_dtype(train[c]) and c not in (LABEL, "customer_id")]
        num = [c for c in train.columns if c not in cat and c not in (LABEL, "customer_id")]
        repeats = 5 if rows <= 100_000 else 3
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model = sklearn_fit(train, num, cat)
            times.append(time.perf_counter() - t)
        theirs = statistics.median(times)
        auc_sk = roc_auc_score(test[LABEL] == POSITIVE, model.predict_proba(test[num + cat])[:, 1])
        ours = median_s(f"pipeline_logistic_{rows}")
        with open(os.path.join(data_dir, f"train_auc_{rows}.json")) as f:
            auc_ours = json.load(f)["roc_auc"]
        print(f"{rows:>9}{ours:>14.3f}{theirs:>13.3f}{theirs / ours:>8.2f}"
              f"{auc_ours:>10.4f}{auc_sk:>13.4f}{abs(auc_ours - auc_sk):>9.4f}")


if __name__ == "__main__":
    main()
