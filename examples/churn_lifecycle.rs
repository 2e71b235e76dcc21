//! The churn lifecycle: the README's main job.
//!
//! Today it runs the data stage end to end on generated data: generate customers, write them as
//! Parquet and CSV, infer and validate a schema, fingerprint both files (the same logical table
//! gives the same hash), profile, split (stratified, seeded), fit the preprocessing pipeline,
//! then generate a drifted "live" month and show what validation and the drift tests (against the
//! stored training profile) see, writing a JSON drift report.
//! Training, the registry, serving and the closed retraining loop join it as their crates land.
//!
//! Run: `cargo run --release --example churn_lifecycle -- [--rows N] [--seed S] [--out DIR]`

use std::path::PathBuf;
use std::time::Instant;

use mlops::data::BatchStream;
use mlops::data::fingerprint::fingerprint_stream;
use mlops::data::ingest::{
    CsvOptions, ParquetOptions, read_csv_path, read_parquet_path, write_csv_path,
};
use mlops::data::profile::{ProfileOptions, profile_stream};
use mlops::data::schema::{InferOptions, TableSchema, validate, validate_batch};
use mlops::data::split::{SplitRatios, label_values, take_rows, train_val_test_split};
use mlops::data::synth::{
    self, CategoryMix, ChurnConfig, ChurnGenerator, ConceptDrift, CovariateShift, DriftSpec,
};
use mlops::data::transform::ImputeStrategy;
use mlops::monitor::{DatasetDriftOptions, DriftConfig, DriftReport, drift_against_profile};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    rows: u64,
    seed: u64,
    out: PathBuf,
}

fn parse_args() -> Res<Args> {
    let mut args = Args {
        rows: 200_000,
        seed: 7,
        out: PathBuf::from("target/churn_lifecycle"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => args.rows = value()?.parse()?,
            "--seed" => args.seed = value()?.parse()?,
            "--out" => args.out = PathBuf::from(value()?),
            "-h" | "--help" => {
                println!(
                    "churn_lifecycle [--rows N (200000)] [--seed S (7)] [--out DIR (target/churn_lifecycle)]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if args.rows < 100 {
        return Err("--rows must be at least 100".into());
    }
    Ok(args)
}

fn step(n: usize, title: &str) {
    println!("\n[{n}] {title}");
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let args = parse_args()?;
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)?;
    println!(
        "mlops-rs churn lifecycle: {} customers, seed {}, output in {}",
        args.rows,
        args.seed,
        args.out.display()
    );

    step(1, "generate customer data");
    let t = Instant::now();
    let generator = ChurnGenerator::new(ChurnConfig {
        rows: args.rows,
        seed: args.seed,
        ..ChurnConfig::default()
    })?;
    let parquet = args.out.join("customers.parquet");
    let csv = args.out.join("customers.csv");
    generator.write_parquet(&parquet, 65_536)?;
    write_csv_path(&csv, generator.batches(65_536)?)?;
    println!(
        "    wrote {} ({} KiB) and {} ({} KiB) in {:.2?}",
        parquet.display(),
        std::fs::metadata(&parquet)?.len() / 1024,
        csv.display(),
        std::fs::metadata(&csv)?.len() / 1024,
        t.elapsed()
    );

    step(2, "infer a schema and validate the data against it");
    let read = || read_parquet_path(&parquet, &ParquetOptions::default());
    let schema = TableSchema::infer(read()?, &InferOptions::default())?;
    let report = validate(&schema, read()?)?;
    println!(
        "    {} columns inferred; validation of {} rows: {}",
        schema.columns.len(),
        report.rows,
        if report.is_valid() {
            "no violations"
        } else {
            "VIOLATIONS"
        }
    );

    step(3, "fingerprint: one logical table, two file formats");
    let fp_parquet = fingerprint_stream(read()?)?;
    let fp_csv = fingerprint_stream(read_csv_path(&csv, &CsvOptions::default())?)?;
    println!(
        "    parquet {}  ({} rows)",
        fp_parquet.hash, fp_parquet.rows
    );
    println!("    csv     {}  ({} rows)", fp_csv.hash, fp_csv.rows);
    println!(
        "    {}",
        if fp_parquet.hash == fp_csv.hash {
            "identical: the fingerprint ignores format, compression and batching"
        } else {
            "DIFFERENT (types inferred from CSV differ from the Parquet schema)"
        }
    );

    step(4, "profile (mergeable statistics for later drift checks)");
    let profile = profile_stream(read()?, &ProfileOptions::default())?;
    for name in ["tenure_months", "monthly_charges", "plan", "churned"] {
        let Some(col) = profile.column(name) else {
            continue;
        };
        if let Some(n) = col.as_numeric() {
            println!(
                "    {name:<16} mean {:>9.3}  std {:>9.3}  p50 {:>9.3}  nulls {}",
                n.mean().unwrap_or(f64::NAN),
                n.std_population().unwrap_or(f64::NAN),
                n.quantile(0.5).unwrap_or(f64::NAN),
                n.nulls()
            );
        } else if let Some(c) = col.as_categorical() {
            let top: Vec<String> = c.top(4).iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("    {name:<16} {}", top.join("  "));
        }
    }

    step(
        5,
        "split train / validation / test (stratified by the label, seeded)",
    );
    let table = generator.to_batch()?;
    let labels = label_values(&table, synth::LABEL_COLUMN)?;
    let ratios = SplitRatios::new(0.6, 0.2, 0.2)?;
    let split = train_val_test_split(table.num_rows(), &ratios, args.seed, Some(&labels))?;
    let positive_rate = |idx: &[usize]| {
        idx.iter()
            .filter(|&&i| labels.get(i).is_some_and(|l| l == synth::POSITIVE_LABEL))
            .count() as f64
            / idx.len().max(1) as f64
    };
    for (name, idx) in [
        ("train", &split.train),
        ("validation", &split.validation),
        ("test", &split.test),
    ] {
        println!(
            "    {name:<10} {:>8} rows, churn rate {:.3}",
            idx.len(),
            positive_rate(idx)
        );
    }
    let train = take_rows(&table, &split.train)?;
    let test = take_rows(&table, &split.test)?;

    step(6, "fit the preprocessing pipeline on the training rows");
    let t = Instant::now();
    let fitted = synth::churn_pipeline(ImputeStrategy::Median).fit(BatchStream::from_batches(
        train.schema(),
        vec![train.clone()],
    ))?;
    let x_train = fitted.transform(&train)?;
    let x_test = fitted.transform(&test)?;
    let bytes = fitted.to_bytes()?;
    println!(
        "    {} input columns -> {} features; train {:?}, test {:?}; fit + transform in {:.2?}",
        fitted.input_columns().len(),
        fitted.feature_names().len(),
        x_train.data.dim(),
        x_test.data.dim(),
        t.elapsed()
    );
    println!(
        "    fitted pipeline: {} bytes, sha256 {}",
        bytes.len(),
        mlops::core::hash_bytes(&bytes)
    );

    step(7, "a drifted live month: validation and drift tests");
    let live = ChurnGenerator::new(ChurnConfig {
        rows: (args.rows / 4).max(1_000),
        seed: args.seed + 1,
        null_rate: 0.02,
        drift: DriftSpec {
            covariate_shift: vec![CovariateShift {
                column: "monthly_charges".into(),
                shift_std: 0.8,
                scale: 1.0,
            }],
            category_mix: vec![CategoryMix {
                column: "contract".into(),
                weights: vec![
                    ("month-to-month".into(), 0.8),
                    ("one-year".into(), 0.1),
                    ("two-year".into(), 0.1),
                ],
            }],
            concept: Some(ConceptDrift {
                column: "region".into(),
                value: "north".into(),
                strength: 1.0,
            }),
        },
    })?
    .to_batch()?;
    let live_report = validate_batch(&schema, &live, 0);
    println!("    validation against the training schema:");
    for line in live_report.to_string().lines().take(8) {
        println!("      {line}");
    }
    // The reference is the stored training profile: no training rows are needed to check drift.
    let options = DatasetDriftOptions {
        exclude: vec![synth::ID_COLUMN.into(), synth::LABEL_COLUMN.into()],
        ..DatasetDriftOptions::default()
    };
    let live_stream = BatchStream::from_batches(live.schema(), vec![live.clone()]);
    let result = drift_against_profile(&profile, live_stream, &DriftConfig::default(), &options)?;
    let report_path = args.out.join("drift_report.json");
    std::fs::write(
        &report_path,
        DriftReport::from_stream_drift(&result, "churn_lifecycle example").to_json()?,
    )?;
    let drift = &result.drift;
    println!(
        "    drift against the training profile: {} of {} columns drifted (share {:.2}) -> dataset {}",
        drift.n_drifted,
        drift.columns.len(),
        drift.share_drifted,
        if drift.drifted { "DRIFTED" } else { "stable" }
    );
    for c in drift.columns.iter().filter(|c| c.result.drifted) {
        println!(
            "      {:<20} {:?} statistic {:.4}",
            c.column, c.result.test, c.result.statistic
        );
    }
    println!("    JSON drift report: {}", report_path.display());

    println!(
        "\ndone in {:.2?}. Next stages (training, registry, serving, retraining) arrive with their crates.",
        started.elapsed()
    );
    Ok(())
}
