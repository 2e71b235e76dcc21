//! The `mlops` command: the SDK's lifecycle from the shell.
//!
//! Exit codes: 0 success, 1 failure (an error, or a validation that found violations),
//! 2 usage error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod model;
use mlops::data::fingerprint::{file_hash, fingerprint_stream};
use mlops::data::ingest::{ReadOptions, read_path, write_csv_path};
use mlops::data::profile::{ProfileOptions, profile_stream};
use mlops::data::schema::{InferOptions, TableSchema, validate};
use mlops::data::synth::{ChurnConfig, ChurnGenerator};

pub(crate) type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// mlops: a machine-learning model's production life, from one binary.
#[derive(Debug, Parser)]
#[command(
    name = "mlops",
    version,
    about,
    after_help = "Examples:\n  mlops data generate --rows 100000 --seed 7 customers.parquet\n  mlops data validate customers.parquet --write-schema schema.json\n  mlops data validate live.csv --schema schema.json --json\n  mlops data profile customers.parquet\n  mlops data fingerprint customers.csv --json\n  mlops train --data customers.parquet --target churned --positive yes --registry reg --name churn --alias champion\n  mlops registry list --registry reg churn\n  mlops registry verify --registry reg\n  mlops reproduce churn@1 --registry reg\n  mlops serve churn@champion --registry reg --addr 127.0.0.1:8080\n  mlops score churn@champion --registry reg --input live.csv --output scored.parquet\n  mlops drift churn@champion live.parquet --registry reg --json drift.json --html drift.html"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect, check and generate data files (CSV or Parquet).
    #[command(subcommand)]
    Data(DataCommand),
    /// Train a binary classifier on a file, evaluate it on held-out rows, log the run and
    /// register the version (with its dataset snapshot and lineage).
    Train(model::TrainArgs),
    /// Inspect and manage a registry: list, show, promote, rollback, verify, audit, card, gc.
    #[command(subcommand)]
    Registry(model::RegistryCommand),
    /// Retrain a registered version from its dataset snapshot and spec; exit 0 when the new
    /// bundle's hash equals the stored one.
    Reproduce(model::ReproduceArgs),
    /// Serve a registered model over HTTP (Open Inference Protocol v2 + a JSON records route),
    /// following its alias: when the alias moves, the new version is swapped in atomically.
    #[cfg(feature = "http")]
    Serve(model::ServeArgs),
    /// Score a CSV/Parquet file with a registered model into Parquet (streaming, bounded memory).
    Score(model::ScoreArgs),
    /// Drift between a reference (file or registered model) and current data; exit 1 on drift.
    Drift(model::DriftArgs),
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Per-column statistics: counts, nulls, moments, quantiles, top categories.
    Profile {
        #[command(flatten)]
        input: Input,
        /// Categories kept per column before the rest go to "other".
        #[arg(long, default_value_t = 100)]
        max_categories: usize,
    },
    /// Check a file against a schema (given, or inferred from the file itself).
    ///
    /// Exits with 1 when there are violations.
    Validate {
        #[command(flatten)]
        input: Input,
        /// A schema as JSON (as written by --write-schema).
        #[arg(long, value_name = "SCHEMA.json")]
        schema: Option<PathBuf>,
        /// Write the schema used (inferred or given) as JSON to this file.
        #[arg(long, value_name = "OUT.json")]
        write_schema: Option<PathBuf>,
        /// Text columns with at most this many distinct values get a category set when inferring.
        #[arg(long, default_value_t = 50)]
        max_categories: usize,
    },
    /// The logical sha256 of a table (independent of format and batching) and the file's sha256.
    Fingerprint {
        #[command(flatten)]
        input: Input,
    },
    /// Write a seeded synthetic customer-churn table (Parquet or CSV, by extension).
    Generate {
        /// Output file: .parquet or .csv.
        output: PathBuf,
        /// Number of rows.
        #[arg(long, default_value_t = 10_000)]
        rows: u64,
        /// Seed of every random draw.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Share of nulls in the nullable columns.
        #[arg(long, default_value_t = 0.02)]
        null_rate: f64,
    },
}

#[derive(Debug, Args)]
struct Input {
    /// A CSV (.csv, .tsv) or Parquet (.parquet, .pq) file.
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(1)
        }
    }
}

fn open(path: &Path) -> Res<mlops::data::BatchStream> {
    Ok(read_path(path, &ReadOptions::default())?)
}

pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> Res<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn run(cli: Cli) -> Res<ExitCode> {
    let cmd = match cli.command {
        Command::Data(cmd) => cmd,
        Command::Train(args) => return model::train(args),
        Command::Registry(cmd) => return model::registry(cmd),
        Command::Reproduce(args) => return model::reproduce(args),
        Command::Drift(args) => return model::drift(args),
        Command::Score(args) => return model::score(args),
        #[cfg(feature = "http")]
        Command::Serve(args) => return model::serve(args),
    };
    let mut out = std::io::stdout().lock();
    match cmd {
        DataCommand::Profile {
            input,
            max_categories,
        } => {
            let options = ProfileOptions {
                max_categories,
                ..ProfileOptions::default()
            };
            options.check()?;
            let profile = profile_stream(open(&input.file)?, &options)?;
            if input.json {
                print_json(&profile)?;
            } else {
                writeln!(out, "{}", profile.summary())?;
            }
        }
        DataCommand::Validate {
            input,
            schema,
            write_schema,
            max_categories,
        } => {
            let schema = match schema {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read schema {}: {e}", path.display()))?;
                    let schema: TableSchema = serde_json::from_str(&text)
                        .map_err(|e| format!("invalid schema {}: {e}", path.display()))?;
                    schema.check()?;
                    schema
                }
                None => TableSchema::infer(
                    open(&input.file)?,
                    &InferOptions::default().max_categories(max_categories),
                )?,
            };
            if let Some(path) = write_schema {
                std::fs::write(&path, serde_json::to_string_pretty(&schema)?)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            let report = validate(&schema, open(&input.file)?)?;
            if input.json {
                print_json(&report)?;
            } else {
                writeln!(out, "{report}")?;
            }
            if !report.is_valid() {
                return Ok(ExitCode::from(1));
            }
        }
        DataCommand::Fingerprint { input } => {
            let fingerprint = fingerprint_stream(open(&input.file)?)?;
            let file = file_hash(&input.file)?;
            if input.json {
                print_json(&serde_json::json!({
                    "file": input.file,
                    "fingerprint": fingerprint.hash,
                    "rows": fingerprint.rows,
                    "columns": fingerprint.columns,
                    "file_sha256": file,
                }))?;
            } else {
                writeln!(
                    out,
                    "fingerprint {}  ({} rows, {} columns)\nfile sha256 {}",
                    fingerprint.hash, fingerprint.rows, fingerprint.columns, file
                )?;
            }
        }
        DataCommand::Generate {
            output,
            rows,
            seed,
            null_rate,
        } => {
            let generator = ChurnGenerator::new(ChurnConfig {
                rows,
                seed,
                null_rate,
                ..ChurnConfig::default()
            })?;
            let ext = output
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            let written = match ext.as_deref() {
                Some("parquet" | "pq") => generator.write_parquet(&output, 65_536)?,
                Some("csv") => write_csv_path(&output, generator.batches(65_536)?)?,
                _ => {
                    return Err(format!(
                        "cannot tell the format of {}: use a .parquet or .csv extension",
                        output.display()
                    )
                    .into());
                }
            };
            writeln!(out, "wrote {written} rows to {}", output.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
