//! mlops-registry in one screen: versions, aliases with compare-and-set, rollback, runs, the
//! hash-chained audit log and its verification. Run: `cargo run --example registry_quickstart`
use mlops::registry::{ModelMetadata, Registry, RunRecord, VersionRef};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let registry = Registry::open(dir.path())?; // or Registry::in_memory(), or S3 with the `s3` feature
    let run = registry.log_run(
        &RunRecord::new("churn")?.with_metric("auc", 0.83),
        "trained",
    )?;
    for (i, auc) in [0.83, 0.85].iter().enumerate() {
        let mut meta = ModelMetadata::default().with_metric("auc", *auc);
        meta.lineage.run_id = Some(run.run.clone());
        let v = registry.register(
            "churn",
            format!("bundle bytes {i}").into_bytes(),
            meta,
            "trained",
        )?;
        println!("registered churn@{} ({})", v.version, v.blob);
    }
    registry.set_alias("churn", "champion", 1, None, "first")?;
    registry.set_alias("churn", "champion", 2, Some(1), "better AUC")?; // fails if someone moved it
    let back = registry.rollback("churn", "champion", 2, "regression in production")?;
    let (v, bytes) = registry.load("churn", VersionRef::Alias("champion"))?; // verified against sha256
    println!(
        "champion is v{} ({} bytes) after rolling back to {back}",
        v.version,
        bytes.len()
    );
    let mut audit = Vec::new();
    registry.export_jsonl(&mut audit)?;
    println!(
        "{} audit events; verify: {}",
        String::from_utf8(audit)?.lines().count(),
        registry.verify()?.is_ok()
    );
    println!(
        "{}",
        registry
            .model_card("churn", VersionRef::Alias("champion"))?
            .lines()
            .take(6)
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}
