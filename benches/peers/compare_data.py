#!/usr/bin/env python3
"""Runs the `data` criterion bench and its Python peers on the same file, in one run, and prints
median times and ratios (higher ratio = mlops-rs faster).

Usage (from the repository root):
    python3 benches/peers/compare_data.py            # bench + peers
    python3 benches/peers/compare_data.py --no-bench # reuse the last criterion results
Requires: pip install pyarrow pandas scikit-learn numpy
"""
import json
import os
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
rows = int(os.environ.get("MLOPS_BENCH_ROWS", "1000000"))
data = os.path.join(target, "bench-data", f"churn_{rows}.parquet")


def median_ns(group, name):
    path = os.path.join(target, "criterion", group, name, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def main():
    if "--no-bench" not in sys.argv:
        subprocess.run(["cargo", "bench", "--bench", "data"], cwd=root, check=True)
    peer = json.loads(
        subprocess.run(
            [sys.executable, os.path.join(root, "benches", "peers", "data_peers.py"), data],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    ours = {
        "parquet_read": median_ns("data", "parquet_read") / 1e9,
        "pipeline_fit_transform": median_ns("data", "pipeline_fit_transform") / 1e9,
        "pipeline_fit_transform_1thread": median_ns("data", "pipeline_fit_transform_1thread") / 1e9,
        "profile": median_ns("data", "profile") / 1e9,
        "fingerprint_float64": median_ns("hash_256mib", "fingerprint_float64") / 1e9,
        "raw_sha256": median_ns("hash_256mib", "raw_sha256") / 1e9,
    }
    size = 256 * 1024 * 1024
    print(f"rows: {peer['rows']}  file: {data}")
    print(f"{'operation':<28}{'mlops-rs (s)':>14}{'peer (s)':>12}{'ratio':>9}  peer")
    for op, peer_key, peer_name in [
        ("parquet_read", "parquet_read_s", "pyarrow.parquet.read_table"),
        ("pipeline_fit_transform", "pipeline_fit_transform_s", "sklearn ColumnTransformer.fit_transform"),
        ("pipeline_fit_transform_1thread", "pipeline_fit_transform_s", "the same, ours on one thread"),
        ("pipeline_fit_transform", "pipeline_fit_transform_all_cores_s", "ColumnTransformer(n_jobs=-1)"),
        ("profile", "profile_s", "pandas describe + value_counts"),
    ]:
        print(f"{op:<28}{ours[op]:>14.4f}{peer[peer_key]:>12.4f}{peer[peer_key] / ours[op]:>9.2f}  {peer_name}")
    fp = size / ours["fingerprint_float64"] / 1e9
    sha = size / ours["raw_sha256"] / 1e9
    print(f"fingerprint float64: {fp:.2f} GB/s; raw sha256 (same run, Rust): {sha:.2f} GB/s; "
          f"ratio {fp / sha:.2f}; python hashlib: {peer['sha256_bytes_per_s'] / 1e9:.2f} GB/s")


if __name__ == "__main__":
    main()
