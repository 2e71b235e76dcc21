#!/usr/bin/env python3
"""MLflow peer of the `mlflow_peer` registry benchmark (crates/mlops-registry/benches/registry.rs).

One repetition does what a training job and a server do with a registry, on a local MLflow
set-up (sqlite backend store and artifact directory in a temp dir, no tracking server):

    log_model (sklearn LogisticRegression on 26 features, in a run)
    register_model
    set_registered_model_alias(name, "champion", version)
    load_model("models:/name@champion")

and the medians over the repetitions (after warm-up) are printed as JSON, with the size of the
logged model directory (the Rust bench registers a bundle of about that size).

    pip install mlflow scikit-learn
    python3 benches/peers/registry_peer.py [--reps 20] [--warmup 2]

`--pip-requirements` passes explicit requirements to log_model, which skips MLflow's
requirement inference (a faster, less common configuration); both are worth reporting.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--pip-requirements", action="store_true")
    args = parser.parse_args()

    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)

    import mlflow
    import mlflow.sklearn
    import numpy as np
    import sklearn
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 26))
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] + rng.normal(scale=0.5, size=2000) > 0).astype(int)
    model = LogisticRegression(max_iter=500).fit(x, y)

    with tempfile.TemporaryDirectory(prefix="mlflow-peer-") as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        artifacts = os.path.join(tmp, "artifacts")
        exp = mlflow.create_experiment("peer", artifact_location=f"file://{artifacts}")
        mlflow.set_experiment(experiment_id=exp)
        client = MlflowClient()
        kwargs = {}
        if args.pip_requirements:
            kwargs["pip_requirements"] = [f"scikit-learn=={sklearn.__version__}"]

        timings = {"log_model": [], "register_model": [], "set_alias": [], "load_by_alias": [], "total": []}
        model_dir_bytes = None
        for rep in range(args.warmup + args.reps):
            t0 = time.perf_counter()
            with mlflow.start_run():
                info = mlflow.sklearn.log_model(model, name="model", **kwargs)
            t1 = time.perf_counter()
            mv = mlflow.register_model(info.model_uri, "churn")
            t2 = time.perf_counter()
            client.set_registered_model_alias("churn", "champion", mv.version)
            t3 = time.perf_counter()
            loaded = mlflow.sklearn.load_model("models:/churn@champion")
            t4 = time.perf_counter()
            assert loaded.coef_.shape == (1, 26)
            if model_dir_bytes is None:
                local = mlflow.artifacts.download_artifacts(info.model_uri, dst_path=os.path.join(tmp, "dl"))
                model_dir_bytes = sum(
                    os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(local) for f in fs
                )
            if rep >= args.warmup:
                for k, v in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                    v_ms = v * 1e3
                    timings[k].append(v_ms)

    out = {
        "tool": "mlflow",
        "mlflow_version": mlflow.__version__,
        "sklearn_version": sklearn.__version__,
        "python": sys.version.split()[0],
        "backend": "sqlite + local artifact dir",
        "pip_requirements_given": args.pip_requirements,
        "reps": args.reps,
        "model_dir_bytes": model_dir_bytes,
        "median_ms": {k: round(statistics.median(v), 3) for k, v in timings.items()},
        "min_ms": {k: round(min(v), 3) for k, v in timings.items()},
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
