//! Time and peak memory of one 26-column dataset drift check over the bench's churn Parquet
//! files (write them first with `cargo bench -p mlops-monitor --bench drift`):
//!
//! `cargo run -p mlops-monitor --release --example dataset_drift_memory`
//!
//! Prints the wall time of read + drift, the process's peak resident set (`VmHWM`) before and
//! after, and writes `report.json` / `report.html` next to the data, so the HTML page of a real
//! report can be looked at. Linux only for the memory figures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Instant;

use mlops_data::ingest::{ParquetOptions, read_parquet_path};
use mlops_data::synth::{ID_COLUMN, LABEL_COLUMN};
use mlops_monitor::DriftConfig;
use mlops_monitor::dataset::{DatasetDriftOptions, drift_between_streams};
use mlops_monitor::report::DriftReport;

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::var_os("MLOPS_MONITOR_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/mlops-monitor-bench"));
    let (r, c) = (
        dir.join("churn_ref_100k.parquet"),
        dir.join("churn_cur_100k.parquet"),
    );
    if !r.exists() || !c.exists() {
        return Err(format!(
            "{} not found: run `cargo bench -p mlops-monitor --bench drift` first",
            r.display()
        )
        .into());
    }
    let before = status_kib("VmHWM:");
    let options = DatasetDriftOptions {
        exclude: vec![ID_COLUMN.to_owned(), LABEL_COLUMN.to_owned()],
        ..DatasetDriftOptions::default()
    };
    let t = Instant::now();
    let out = drift_between_streams(
        read_parquet_path(&r, &ParquetOptions::default())?,
        read_parquet_path(&c, &ParquetOptions::default())?,
        &DriftConfig::default(),
        &options,
    )?;
    let elapsed = t.elapsed();
    let after = status_kib("VmHWM:");
    let report = DriftReport::from_stream_drift(&out, "bench");
    std::fs::write(dir.join("report.json"), report.to_json()?)?;
    std::fs::write(dir.join("report.html"), report.to_html())?;
    println!(
        "columns {}, drifted {} ({:.3}), drifted columns: {:?}",
        out.drift.columns.len(),
        out.drift.n_drifted,
        out.drift.share_drifted,
        out.drift
            .columns
            .iter()
            .filter(|c| c.drifted())
            .map(|c| c.column.as_str())
            .collect::<Vec<_>>()
    );
    println!("read + drift: {:.1} ms", elapsed.as_secs_f64() * 1e3);
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "peak RSS: {:.1} MiB before, {:.1} MiB after (+{:.1} MiB)",
            b as f64 / 1024.0,
            a as f64 / 1024.0,
            a.saturating_sub(b) as f64 / 1024.0
        );
    }
    Ok(())
}
