#!/usr/bin/env bash
# HTTP load benchmark: the mlops-rs server (example `http_bench_server` of mlops-serve) against a FastAPI + uvicorn
# peer (benches/peers/serve_peer.py) serving the same kind of scikit-learn pipeline trained on
# the same Parquet file, both hit by wrk with the same one-row JSON body on the same route.
#
# Usage: bash benches/http_load.sh [DURATION=10s] [CONNECTIONS=16] [THREADS=2]
# Env:   WORKERS (server runtime threads, default: cores), RUST_PORT (18080), PY_PORT (18081).
# Traffic goes to 127.0.0.1 only; each wrk run is bounded by DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
CONNECTIONS=${2:-16}
THREADS=${3:-2}
RUST_PORT=${RUST_PORT:-18080}
PY_PORT=${PY_PORT:-18081}
WORKERS=${WORKERS:-$(nproc)}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
python3 -c "import fastapi, uvicorn, sklearn, pandas, pyarrow" 2>/dev/null ||
    pip install -q fastapi uvicorn scikit-learn pandas pyarrow

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release -q -p mlops-serve --features http --example http_bench_server
BIN="${CARGO_TARGET_DIR:-target}/release/examples/http_bench_server"
"$BIN" --addr "127.0.0.1:$RUST_PORT" --workers "$WORKERS" --out "$WORK" > "$WORK/rust.log" 2>&1 &
PIDS+=($!)

wait_ready() { # url, log
    for _ in $(seq 1 300); do
        curl -sf "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "server at $1 did not become ready:" >&2; cat "$2" >&2; exit 1
}
wait_ready "http://127.0.0.1:$RUST_PORT/v2/health/ready" "$WORK/rust.log"
python3 benches/peers/serve_peer.py "$WORK/churn.parquet" --port "$PY_PORT" > "$WORK/py.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$PY_PORT/v2/health/ready" "$WORK/py.log"

cat > "$WORK/post.lua" <<'LUA'
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
    local errors = summary.errors.connect + summary.errors.read + summary.errors.write
        + summary.errors.status + summary.errors.timeout
    io.write(string.format("RESULT %.1f %.3f %.3f %.3f %d %d\n",
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        latency:percentile(99.9) / 1000, summary.requests, errors))
end
LUA

ROUTE=/v1/models/churn/predict
echo "one-row body: $(cat "$WORK/body.json" | head -c 200)..."
echo "rust:    $(curl -s -X POST -H 'Content-Type: application/json' --data @"$WORK/body.json" "http://127.0.0.1:$RUST_PORT$ROUTE")"
echo "fastapi: $(curl -s -X POST -H 'Content-Type: application/json' --data @"$WORK/body.json" "http://127.0.0.1:$PY_PORT$ROUTE")"

run() { # port
    BODY_FILE="$WORK/body.json" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        -s "$WORK/post.lua" "http://127.0.0.1:$1$ROUTE" | grep '^RESULT' | cut -d' ' -f2-
}
# A short warm-up of each, then the measured runs.
BODY_FILE="$WORK/body.json" wrk -t1 -c4 -d2s -s "$WORK/post.lua" "http://127.0.0.1:$RUST_PORT$ROUTE" >/dev/null
BODY_FILE="$WORK/body.json" wrk -t1 -c4 -d2s -s "$WORK/post.lua" "http://127.0.0.1:$PY_PORT$ROUTE" >/dev/null
read -r R_RPS R_P50 R_P99 R_P999 R_N R_ERR <<< "$(run "$RUST_PORT")"
read -r P_RPS P_P50 P_P99 P_P999 P_N P_ERR <<< "$(run "$PY_PORT")"
# Server-side view from our /metrics histogram: the bucket bound that holds p50 / p99 of the
# time spent inside the server (excludes client and kernel queueing).
SERVER_SIDE=$(curl -s "http://127.0.0.1:$RUST_PORT/metrics" | python3 -c '
import sys
b = []
for line in sys.stdin:
    if line.startswith("mlops_http_request_duration_seconds_bucket{route=\"/v1/models/{name}/predict\""):
        le = line.split("le=\"")[1].split("\"")[0]
        b.append((float("inf") if le == "+Inf" else float(le), int(line.rsplit(" ", 1)[1])))
total = b[-1][1] if b else 0
q = lambda p: next((f"<= {le * 1000:g} ms" for le, c in b if c >= p * total), "n/a")
print(f"in-server latency (histogram buckets): p50 {q(0.5)}, p99 {q(0.99)}, over {total} requests")
')

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, POST $ROUTE (one row), server runtime threads: $WORKERS, uvicorn workers: 1"
printf "%-22s %12s %10s %10s %10s %10s %8s\n" server "req/s" "p50 ms" "p99 ms" "p99.9 ms" requests errors
printf "%-22s %12s %10s %10s %10s %10s %8s\n" "mlops-rs (axum)" "$R_RPS" "$R_P50" "$R_P99" "$R_P999" "$R_N" "$R_ERR"
printf "%-22s %12s %10s %10s %10s %10s %8s\n" "FastAPI + sklearn" "$P_RPS" "$P_P50" "$P_P99" "$P_P999" "$P_N" "$P_ERR"
python3 -c "print(f'throughput ratio: {float(\"$R_RPS\") / float(\"$P_RPS\"):.1f}x')"
echo "$SERVER_SIDE"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wrk, both servers and anything else share them)"
