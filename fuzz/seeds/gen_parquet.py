"""Writes the pyarrow-made Parquet seeds of the `parquet_ingest` fuzz target.

Run from the repository root: `python3 fuzz/seeds/gen_parquet.py` (needs pyarrow). Several
compressions (including ones this build cannot decode: gzip, lz4, brotli), page formats, row
group sizes and column types (including types mlops-data does not support) on a few rows.
"""
import datetime
import decimal
import os

import pyarrow as pa
import pyarrow.parquet as pq

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "parquet_ingest")

def basic():
    return pa.table({
        "i64": pa.array([1, None, -3, 2**62, 0], pa.int64()),
        "f64": pa.array([0.5, float("nan"), None, float("inf"), -0.0], pa.float64()),
        "flag": pa.array([True, False, None, True, False]),
        "plan": pa.array(["gold", "basic", None, "gold", "näive ✓"]),
    })

def wide_types():
    n = 4
    return pa.table({
        "i8": pa.array([1, -2, None, 127], pa.int8()),
        "i16": pa.array([1, -2, None, 32767], pa.int16()),
        "i32": pa.array([1, -2, None, 2**31 - 1], pa.int32()),
        "u8": pa.array([1, 2, None, 255], pa.uint8()),
        "u16": pa.array([1, 2, None, 65535], pa.uint16()),
        "u32": pa.array([1, 2, None, 2**32 - 1], pa.uint32()),
        "u64": pa.array([1, 2, None, 2**64 - 1], pa.uint64()),
        "f32": pa.array([1.5, None, -2.25, 3.0e38], pa.float32()),
        "large": pa.array(["a", "bb", None, ""], pa.large_string()),
        "dict": pa.array(["x", "y", "x", None]).dictionary_encode(),
        "bin": pa.array([b"\x00", b"\xff", None, b""], pa.binary()),
        "date": pa.array([datetime.date(2020, 1, 1)] * n, pa.date32()),
        "ts": pa.array([datetime.datetime(2020, 1, 1, 12)] * n, pa.timestamp("ms", tz="UTC")),
        "dec": pa.array([decimal.Decimal("1.25"), None, decimal.Decimal("-3.50"), decimal.Decimal("0")], pa.decimal128(9, 2)),
        "list": pa.array([[1, 2], [], None, [3]], pa.list_(pa.int64())),
        "struct": pa.array([{"a": 1}, {"a": None}, None, {"a": 4}], pa.struct([("a", pa.int64())])),
        "nulls": pa.array([None] * n, pa.null()),
    })

def main():
    os.makedirs(OUT, exist_ok=True)
    t = basic()
    for codec in ["none", "snappy", "gzip", "zstd", "lz4", "brotli"]:
        pq.write_table(t, os.path.join(OUT, f"seed-pyarrow-{codec}.parquet"), compression=codec)
    pq.write_table(t, os.path.join(OUT, "seed-pyarrow-v2-pages-groups-of-2.parquet"),
                   compression="snappy", data_page_version="2.0", row_group_size=2,
                   use_dictionary=False, write_statistics=False)
    pq.write_table(wide_types(), os.path.join(OUT, "seed-pyarrow-types.parquet"), compression="none")
    pq.write_table(t.slice(0, 0), os.path.join(OUT, "seed-pyarrow-empty.parquet"), compression="none")

if __name__ == "__main__":
    main()
