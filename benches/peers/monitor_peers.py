#!/usr/bin/env python3
"""Python peers of `crates/mlops-monitor/benches/drift.rs`, timed on the same data files, and
the ratios against the criterion medians (higher ratio = mlops-rs faster).

The Rust bench writes the data to $MLOPS_MONITOR_BENCH_DIR (default /tmp/mlops-monitor-bench/):
  ref_1m.f64, cur_1m.f64     1M little-endian float64 each  -> scipy ks_2samp,
                             scipy wasserstein_distance, a numpy PSI (10 reference-quantile bins)
  stream_100k.f64            100k float64                   -> river ADWIN, update per element
  churn_{ref,cur}_100k.parquet  26 feature columns          -> Evidently DataDriftPreset report

Usage (from the repository root):
    cargo bench -p mlops-monitor --bench drift     # writes the data and the criterion medians
    python3 benches/peers/monitor_peers.py         # peers + ratios
On a busy machine compare CPU time on both sides instead of wall time:
    MLOPS_BENCH_CPU=1 cargo bench -p mlops-monitor --bench drift
    MLOPS_BENCH_CPU=1 python3 benches/peers/monitor_peers.py
    EVIDENTLY_PYTHON=/path/to/venv/bin/python python3 benches/peers/monitor_peers.py
Requires: pip install numpy scipy river pyarrow; Evidently (pip install evidently) is optional
and runs in a separate process (EVIDENTLY_PYTHON, default this interpreter) so that its peak
memory is its own. Evidently 0.7 needs pandas < 3: a venv with
`pip install evidently "pandas<3" pyarrow` works.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
data_dir = os.environ.get("MLOPS_MONITOR_BENCH_DIR", "/tmp/mlops-monitor-bench")
ID_COLUMN, LABEL_COLUMN = "customer_id", "churned"


def timed(fn, runs):
    """Median seconds over `runs` calls after one warm-up call, as {"wall": .., "cpu": ..}
    (cpu = time.process_time), and the last result."""
    out = fn()
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu)}, out


def vm_hwm_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def numpy_psi(ref, cur, bins=10, eps=1e-4):
    import numpy as np

    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    k = len(edges) + 1
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=k) / len(ref)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=k) / len(cur)
    r = np.where(r == 0, eps, r)
    c = np.where(c == 0, eps, c)
    return float(np.sum((r - c) * np.log(r / c)))


def run_numeric_peers():
    import numpy as np
    from river.drift import ADWIN
    from scipy import stats

    x = np.fromfile(os.path.join(data_dir, "ref_1m.f64"), dtype="<f8")
    y = np.fromfile(os.path.join(data_dir, "cur_1m.f64"), dtype="<f8")
    s = np.fromfile(os.path.join(data_dir, "stream_100k.f64"), dtype="<f8").tolist()
    out = {}
    out["ks_2samp"], ks = timed(lambda: stats.ks_2samp(x, y), 7)
    out["wasserstein_distance"], w = timed(lambda: stats.wasserstein_distance(x, y), 7)
    out["psi_10_bins"], psi = timed(lambda: numpy_psi(x, y), 7)

    def adwin():
        a = ADWIN()
        n = 0
        for v in s:
            a.update(v)
            if a.drift_detected:
                n += 1
        return n

    out["adwin_update_100k"], drifts = timed(adwin, 3)
    out["values"] = {
        "ks_statistic": float(ks.statistic),
        "ks_p_value": float(ks.pvalue),
        "wasserstein": float(w),
        "psi": psi,
        "adwin_drifts": drifts,
    }
    return out


def evidently_child():
    """Runs in its own process: loads the tables, then times the report and measures memory."""
    import tracemalloc

    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref = pd.read_parquet(os.path.join(data_dir, "churn_ref_100k.parquet"))
    cur = pd.read_parquet(os.path.join(data_dir, "churn_cur_100k.parquet"))
    features = [c for c in ref.columns if c not in (ID_COLUMN, LABEL_COLUMN)]
    numerical = [c for c in features if pd.api.types.is_numeric_dtype(ref[c])]
    categorical = [c for c in features if c not in numerical]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)

    def run():
        r = Dataset.from_pandas(ref[features], data_definition=definition)
        c = Dataset.from_pandas(cur[features], data_definition=definition)
        return Report([DataDriftPreset()]).run(c, r)

    baseline = vm_hwm_mib()
    t = time.perf_counter()
    snapshot = run()  # first run: includes Evidently's lazy set-up, measured separately
    first = time.perf_counter() - t
    after_first = vm_hwm_mib()
    median, snapshot = timed(run, 3)
    tracemalloc.start()
    run()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    drifted = None
    try:
        for m in snapshot.dict().get("metrics", []):
            name = str(m.get("metric_name", m.get("metric_id", "")))
            if "DriftedColumnsCount" in name:
                drifted = m.get("value")
                break
    except Exception as e:  # the snapshot layout is Evidently's business
        drifted = f"unknown ({e})"
    import evidently

    print(
        json.dumps(
            {
                "evidently_version": evidently.__version__,
                "columns": len(features),
                "first_run_s": first,
                "median_s": median,  # {"wall": .., "cpu": ..}
                "peak_rss_mib": vm_hwm_mib(),
                "rss_after_load_mib": baseline,
                "peak_rss_increase_first_run_mib": after_first - baseline,
                "tracemalloc_peak_mib": traced_peak / 2**20,
                "drifted_columns": drifted,
            }
        )
    )


def run_evidently():
    python = os.environ.get("EVIDENTLY_PYTHON", sys.executable)
    p = subprocess.run(
        [python, os.path.abspath(__file__), "--evidently-child"],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        return {"skipped": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def criterion_median_s(group, name):
    path = os.path.join(target, "criterion", group, name, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"] / 1e9
    except OSError:
        return None


def main():
    if "--evidently-child" in sys.argv:
        evidently_child()
        return
    clock = "cpu" if os.environ.get("MLOPS_BENCH_CPU", "0") not in ("", "0") else "wall"
    peers = run_numeric_peers()
    ev = run_evidently()
    print(json.dumps({"numeric": peers, "evidently": ev}, indent=2))
    print(f"\nclock: {clock} time (criterion medians from {os.path.join(target, 'criterion')})")
    rows = [
        ("KS 1M vs 1M", "drift_1m_vs_1m", "ks_2samp", peers["ks_2samp"][clock], "scipy.stats.ks_2samp"),
        ("Wasserstein 1M vs 1M", "drift_1m_vs_1m", "wasserstein_distance",
         peers["wasserstein_distance"][clock], "scipy.stats.wasserstein_distance"),
        ("PSI 1M vs 1M", "drift_1m_vs_1m", "psi_10_bins", peers["psi_10_bins"][clock],
         "numpy quantile+searchsorted"),
        ("ADWIN 100k updates", "adwin_100k", "update", peers["adwin_update_100k"][clock], "river.drift.ADWIN"),
    ]
    if "median_s" in ev:
        rows.append(("dataset drift 26 cols 100k", "dataset_drift_26_cols_100k_vs_100k", "from_parquet",
                     ev["median_s"][clock], f"Evidently {ev['evidently_version']} DataDriftPreset"))
    print(f"\n{'operation':<30}{'mlops-rs (s)':>14}{'peer (s)':>12}{'ratio':>10}  peer")
    for label, group, name, peer_s, peer_name in rows:
        ours = criterion_median_s(group, name)
        if ours is None:
            print(f"{label:<30}{'—':>14}{peer_s:>12.4f}{'—':>10}  {peer_name} (no criterion result)")
        else:
            print(f"{label:<30}{ours:>14.4f}{peer_s:>12.4f}{peer_s / ours:>10.1f}  {peer_name}")
    if "skipped" in ev:
        print(f"Evidently skipped: {ev['skipped']}")


if __name__ == "__main__":
    main()
