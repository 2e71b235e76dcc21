//! mlops-data in one screen: generate a table, write CSV, infer and validate a schema, profile,
//! fingerprint, fit a pipeline. Run: `cargo run --example data_quickstart`
use mlops::data::BatchStream;
use mlops::data::fingerprint::fingerprint_stream;
use mlops::data::ingest::{ReadOptions, read_path, write_csv_path};
use mlops::data::profile::{ProfileOptions, profile_stream};
use mlops::data::schema::{InferOptions, TableSchema, validate};
use mlops::data::synth;
use mlops::data::transform::ImputeStrategy;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("customers.csv");
    let table = synth::churn_table(5_000, 1)?;
    write_csv_path(
        &csv,
        BatchStream::from_batches(table.schema(), vec![table.clone()]),
    )?;
    let open = || read_path(&csv, &ReadOptions::default());
    let schema = TableSchema::infer(open()?, &InferOptions::default())?;
    println!(
        "schema: {} columns; validation: {}",
        schema.columns.len(),
        validate(&schema, open()?)?
    );
    let profile = profile_stream(open()?, &ProfileOptions::default())?;
    println!(
        "{}",
        profile
            .summary()
            .lines()
            .take(4)
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!("fingerprint: {}", fingerprint_stream(open()?)?);
    let fitted = synth::churn_pipeline(ImputeStrategy::Median).fit(open()?)?;
    let x = fitted.transform_stream(open()?)?;
    println!(
        "pipeline: {} inputs -> {:?} feature matrix",
        fitted.input_columns().len(),
        x.data.dim()
    );
    Ok(())
}
