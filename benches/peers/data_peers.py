#!/usr/bin/env python3
"""Times the Python peers of the `data` criterion bench on the same generated file.

Usage: python3 benches/peers/data_peers.py PATH/TO/churn_1m.parquet [--repeat N]

Prints one JSON object: median seconds per operation and derived throughputs, for
  - pyarrow.parquet.read_table            (peer of `parquet_read`)
  - sklearn ColumnTransformer.fit_transform (peer of `pipeline_fit_transform`)
  - pandas describe + value_counts         (peer of `profile`)
  - hashlib.sha256 over 256 MiB            (the raw SHA-256 ceiling for `fingerprint`)
Requires: pip install pyarrow pandas scikit-learn numpy
"""
import hashlib
import json
import statistics
import sys
import time

import numpy as np
import pyarrow.parquet as pq
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

LABEL = "churned"
ID = "customer_id"


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main():
    path = sys.argv[1]
    repeat = 5
    if "--repeat" in sys.argv:
        repeat = int(sys.argv[sys.argv.index("--repeat") + 1])
    out = {"file": path, "repeat": repeat}

    table = pq.read_table(path)
    rows = table.num_rows
    out["rows"] = rows
    out["arrow_bytes"] = table.nbytes

    med, _ = median_time(lambda: pq.read_table(path), repeat)
    out["parquet_read_s"] = med
    out["parquet_read_rows_per_s"] = rows / med

    df = table.to_pandas()
    num_cols = [c for c in df.columns if c not in (LABEL, ID) and df[c].dtype.kind in "if"]
    cat_cols = [c for c in df.columns if c not in (LABEL, ID) and c not in num_cols]
    out["numeric_columns"] = len(num_cols)
    out["categorical_columns"] = len(cat_cols)

    def fit_transform(n_jobs=None):
        ct = ColumnTransformer(
            [
                ("num", Pipeline([("imp", SimpleImputer(strategy="mean")), ("sc", StandardScaler())]), num_cols),
                (
                    "cat",
                    Pipeline(
                        [
                            ("imp", SimpleImputer(strategy="most_frequent")),
                            ("oh", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                        ]
                    ),
                    cat_cols,
                ),
            ],
            n_jobs=n_jobs,
        )
        return ct.fit_transform(df)

    med, _ = median_time(fit_transform, max(1, min(repeat, 3)))
    out["pipeline_fit_transform_s"] = med
    # The same with one joblib worker per core (the two groups fitted in parallel).
    med, _ = median_time(lambda: fit_transform(n_jobs=-1), max(1, min(repeat, 3)))
    out["pipeline_fit_transform_all_cores_s"] = med

    def profile():
        df[num_cols].describe(percentiles=[0.01, 0.25, 0.5, 0.75, 0.99])
        for c in cat_cols:
            df[c].value_counts(dropna=False)

    med, _ = median_time(profile, repeat)
    out["profile_s"] = med

    buf = np.random.default_rng(0).integers(0, 255, size=256 * 1024 * 1024, dtype=np.uint8).tobytes()
    med, _ = median_time(lambda: hashlib.sha256(buf).digest(), max(3, repeat))
    out["sha256_bytes_per_s"] = len(buf) / med
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
