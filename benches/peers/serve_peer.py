#!/usr/bin/env python3
"""FastAPI peer of the `http_bench_server` example (mlops-serve), for `benches/http_load.sh`.

Trains a scikit-learn Pipeline(ColumnTransformer(median imputation + StandardScaler on the
numeric columns, most-frequent imputation + OneHotEncoder on the categorical columns),
LogisticRegression) on the same churn Parquet file the Rust example writes, and serves it with
uvicorn (one worker) on the same route and body as the Rust server's records route:

    POST /v1/models/churn/predict   {"records": [{column: value, ...}, ...]}
    -> {"predictions": [{"request_id", "model", "version", "label", "probability"}]}

Usage: python3 benches/peers/serve_peer.py PATH/TO/churn.parquet [--port 18081]
Requires: pip install fastapi uvicorn scikit-learn pandas pyarrow
"""
import sys
import uuid

import pandas as pd
import pyarrow.parquet as pq
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

LABEL = "churned"
POSITIVE = "yes"
ID = "customer_id"
MODEL = "churn"


def build(path):
    df = pq.read_table(path).to_pandas()
    features = [c for c in df.columns if c not in (LABEL, ID)]
    num_cols = [c for c in features if df[c].dtype.kind in "if"]
    cat_cols = [c for c in features if c not in num_cols]
    pre = ColumnTransformer(
        [
            ("num", Pipeline([("imp", SimpleImputer(strategy="median")), ("sc", StandardScaler())]), num_cols),
            (
                "cat",
                Pipeline(
                    [
                        ("imp", SimpleImputer(strategy="most_frequent")),
                        ("oh", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                cat_cols,
            ),
        ]
    )
    model = Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=1000))])
    y = (df[LABEL].astype(str) == POSITIVE).astype(int)
    model.fit(df[features], y)
    return model, features, num_cols


def make_app(model, features, num_cols):
    app = FastAPI()
    pos = list(model.classes_).index(1)

    @app.get("/v2/health/ready")
    def ready():
        return {"ready": True}

    @app.post("/v1/models/churn/predict")
    async def predict(request: Request):
        body = await request.json()
        records = body["records"] if isinstance(body, dict) else body
        try:
            frame = pd.DataFrame.from_records(records, columns=features)
            frame[num_cols] = frame[num_cols].astype(float)
            proba = model.predict_proba(frame)[:, pos]
        except Exception as e:  # a bad request, as the Rust server's 4xx
            raise HTTPException(status_code=422, detail=str(e))
        return {
            "predictions": [
                {
                    "request_id": str(uuid.uuid4()),
                    "model": MODEL,
                    "version": 1,
                    "label": POSITIVE if p >= 0.5 else "no",
                    "probability": float(p),
                }
                for p in proba
            ]
        }

    return app


def main():
    path = sys.argv[1]
    port = 18081
    if "--port" in sys.argv:
        port = int(sys.argv[sys.argv.index("--port") + 1])
    model, features, num_cols = build(path)
    uvicorn.run(make_app(model, features, num_cols), host="127.0.0.1", port=port, workers=1, log_level="warning")


if __name__ == "__main__":
    main()
