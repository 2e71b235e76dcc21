"""Peer timing for benches/metrics.rs: scikit-learn's roc_auc_score on 1M scores.

Same distribution as the Rust bench (30 % positives, scores U(0,1) + 0.2 * label, seeded numpy);
prints the median of 5 timed runs (after one warm-up) in milliseconds.
"""

import statistics
import time

import numpy as np
import sklearn
from sklearn.metrics import roc_auc_score

rng = np.random.default_rng(42)
n = 1_000_000
y = rng.random(n) < 0.3
s = rng.random(n) + 0.2 * y
tied = np.round(s * 100.0) / 100.0

for name, scores in (("roc_auc_1m", s), ("roc_auc_1m_ties", tied)):
    roc_auc_score(y, scores)  # warm-up
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        auc = roc_auc_score(y, scores)
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"sklearn {sklearn.__version__} {name}: median {statistics.median(times):.1f} ms over 5 runs (auc={auc:.6f})")
