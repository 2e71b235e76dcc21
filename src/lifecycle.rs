//! The lifecycle steps that span crates: train from a file and register the result with its
//! dataset snapshot, run and lineage; load a registered bundle; reproduce a version bit for bit.

use std::path::{Path, PathBuf};

use mlops_data::ingest::{ReadOptions, read_path};
use mlops_registry::{ModelMetadata, ModelVersion, Registry, RunRecord, VersionRef};
use mlops_train::{ModelBundle, TrainOutcome, TrainSpec, TrainingReport};
use serde::{Deserialize, Serialize};

use crate::Error;

/// What [`train_and_register`] did.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The registered version.
    pub version: ModelVersion,
    /// The run id the report was logged under.
    pub run: String,
    /// The training outcome (bundle, report, holdout).
    pub outcome: TrainOutcome,
}

/// Reads a whole CSV or Parquet file into one batch.
///
/// # Errors
/// Ingest errors naming the file.
pub fn read_table(path: &Path) -> Result<mlops_data::arrow::RecordBatch, Error> {
    Ok(read_path(path, &ReadOptions::default())?.collect_batch()?)
}

/// A default pipeline for a table: numeric columns imputed with the median and standardised;
/// text columns with a category set (at most `max_categories` values in the inferred schema)
/// imputed with the most frequent value and one-hot encoded, unseen categories ignored; the
/// label, boolean columns and high-cardinality text columns (ids, free text) left out.
pub fn auto_pipeline(
    schema: &mlops_data::schema::TableSchema,
    label: &str,
) -> mlops_data::pipeline::Pipeline {
    use mlops_data::schema::ColumnKind;
    use mlops_data::transform::{ImputeStrategy, Step, UnknownCategory};
    let mut numeric = Vec::new();
    let mut categorical = Vec::new();
    for c in &schema.columns {
        if c.name == label {
            continue;
        }
        match c.kind {
            ColumnKind::Float | ColumnKind::Integer => numeric.push(c.name.clone()),
            ColumnKind::Categorical if c.categories.is_some() => categorical.push(c.name.clone()),
            _ => {}
        }
    }
    let mut p = mlops_data::pipeline::Pipeline::new();
    if !numeric.is_empty() {
        p = p.group(
            "num",
            numeric,
            [
                Step::impute(ImputeStrategy::Median),
                Step::standard_scaler(),
            ],
        );
    }
    if !categorical.is_empty() {
        p = p.group(
            "cat",
            categorical,
            [
                Step::impute(ImputeStrategy::MostFrequent),
                Step::one_hot(UnknownCategory::Ignore),
            ],
        );
    }
    p
}

/// The run record the registry keeps for a training report.
pub fn run_record(experiment: &str, report: &TrainingReport) -> Result<RunRecord, Error> {
    let s = &report.summary;
    let mut run = RunRecord::new(experiment)?;
    for (k, v) in &s.params {
        run = run.with_param(k.clone(), v.clone());
    }
    run = run
        .with_param("estimator", s.estimator.clone())
        .with_param("seed", s.seed.to_string())
        .with_param("rows.train", s.rows.train.to_string())
        .with_param("rows.validation", s.rows.validation.to_string())
        .with_param("rows.test", s.rows.test.to_string())
        .with_param("converged", s.diagnostics.converged.to_string());
    for (k, v) in &report.metrics {
        run = run.with_metric(k.clone(), *v);
    }
    for (k, v) in &report.durations_ms {
        run = run.with_metric(format!("duration_ms.{k}"), *v);
    }
    let env = &report.environment;
    run = run
        .with_environment("rustc", env.rustc.clone())
        .with_environment("os", env.os.clone())
        .with_environment("arch", env.arch.clone());
    for (k, v) in &env.crates {
        run = run.with_environment(format!("crate.{k}"), v.clone());
    }
    if let Some(code) = &s.code {
        run = run.with_code_version(format!(
            "{}{}",
            code.commit,
            if code.dirty { "+dirty" } else { "" }
        ));
    }
    for d in &s.datasets {
        run = run.with_dataset(d.fingerprint.hash);
    }
    Ok(run)
}

/// A model name the registry accepts, checked up front so that a bad name stores nothing.
fn check_model_name(name: &str) -> Result<(), Error> {
    mlops_core::Name::new(name).map_err(|source| mlops_registry::Error::InvalidName {
        what: "model",
        source,
    })?;
    Ok(())
}

/// Trains `spec` on the file at `data`, and records everything in `registry`: the file as a
/// dataset snapshot keyed by its logical fingerprint, the report as a run, and the bundle as a
/// new version of `name` with metrics, params, signature and lineage (run → dataset).
///
/// # Errors
/// Ingest, training and registry errors. An invalid model name is
/// [`mlops_registry::Error::InvalidName`], found before anything is read, trained or stored.
#[tracing::instrument(name = "train_and_register", skip_all, fields(model = name))]
pub fn train_and_register(
    registry: &Registry,
    name: &str,
    spec: &TrainSpec,
    data: &Path,
    reason: &str,
) -> Result<Registered, Error> {
    check_model_name(name)?;
    let table = read_table(data)?;
    let outcome = spec.train(&table)?;
    register_outcome(registry, name, outcome, Some(data), reason)
}

/// Records an outcome of [`TrainSpec::train`] (see [`train_and_register`]); `data`, when given,
/// is stored as the dataset snapshot.
///
/// # Errors
/// Registry errors. An invalid model name is [`mlops_registry::Error::InvalidName`], found
/// before anything is stored (no dataset snapshot or run is left behind).
pub fn register_outcome(
    registry: &Registry,
    name: &str,
    outcome: TrainOutcome,
    data: Option<&Path>,
    reason: &str,
) -> Result<Registered, Error> {
    check_model_name(name)?;
    let summary = &outcome.bundle.training;
    if let Some(path) = data {
        for d in &summary.datasets {
            let label = path
                .file_name()
                .and_then(|f| f.to_str())
                .filter(|f| mlops_core::Name::new(*f).is_ok());
            registry.add_dataset_file(d.fingerprint.hash, label, path, reason)?;
        }
    }
    let run = registry.log_run(&run_record(name, &outcome.report)?, reason)?;
    let mut meta = ModelMetadata::default().with_description(format!(
        "{} predicting {}={:?} (threshold {})",
        summary.estimator,
        outcome.bundle.label.column,
        outcome.bundle.label.positive,
        outcome.bundle.threshold
    ));
    for (k, v) in &outcome.bundle.metrics {
        meta = meta.with_metric(k.clone(), *v);
    }
    for (k, v) in &summary.params {
        meta = meta.with_param(k.clone(), v.clone());
    }
    meta = meta
        .with_param("estimator", summary.estimator.clone())
        .with_param("seed", summary.seed.to_string());
    meta.signature = serde_json::to_value(&outcome.bundle.signature).ok();
    meta.lineage.run_id = Some(run.run.clone());
    meta.lineage.dataset_fingerprints = summary
        .datasets
        .iter()
        .map(|d| d.fingerprint.hash)
        .collect();
    let bytes = outcome.bundle.to_bytes()?;
    let version = registry.register(name, bytes, meta, reason)?;
    Ok(Registered {
        version,
        run: run.run.to_string(),
        outcome,
    })
}

/// Loads and decodes a registered bundle (verified against its content hash by the registry).
///
/// # Errors
/// Registry errors (unknown model/version/alias, corrupted blob) and bundle decoding errors.
pub fn load_bundle(
    registry: &Registry,
    name: &str,
    which: VersionRef<'_>,
) -> Result<(ModelVersion, ModelBundle), Error> {
    let (version, bytes) = registry.load(name, which)?;
    Ok((version, ModelBundle::from_bytes(&bytes)?))
}

/// The result of [`reproduce`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reproduction {
    /// The model.
    pub model: String,
    /// The version reproduced.
    pub version: u64,
    /// Hash of the stored bundle.
    pub stored: mlops_core::ContentHash,
    /// Hash of the retrained bundle.
    pub retrained: mlops_core::ContentHash,
    /// Whether they are equal.
    pub identical: bool,
    /// The code version the stored bundle recorded.
    pub stored_code: Option<mlops_train::CodeVersion>,
    /// The code version of the caller's checkout, when given.
    pub current_code: Option<mlops_train::CodeVersion>,
    /// Whether both code versions are known, equal and clean: then `identical` must hold.
    pub same_code: bool,
    /// The parts of the bundle that differ (empty when identical), e.g. `model`, `metrics`.
    pub differences: Vec<String>,
}

/// Names of the parts in which two bundles differ.
pub fn bundle_differences(a: &ModelBundle, b: &ModelBundle) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |name: &str, same: bool| {
        if !same {
            out.push(name.to_string());
        }
    };
    check("signature", a.signature == b.signature);
    check("label", a.label == b.label);
    check("threshold", a.threshold.to_bits() == b.threshold.to_bits());
    check("pipeline", a.pipeline == b.pipeline);
    check("model", a.model == b.model);
    check(
        "reference_profile",
        a.reference_profile == b.reference_profile,
    );
    check("metrics", a.metrics == b.metrics);
    let (ta, tb) = (&a.training, &b.training);
    check(
        "training.estimator",
        ta.estimator == tb.estimator && ta.params == tb.params,
    );
    check("training.datasets", ta.datasets == tb.datasets);
    check("training.rows", ta.rows == tb.rows);
    check("training.diagnostics", ta.diagnostics == tb.diagnostics);
    check("training.selection", ta.selection == tb.selection);
    check("training.spec", ta.spec == tb.spec);
    check("training.code", ta.code == tb.code);
    check(
        "training.versions",
        ta.mlops_version == tb.mlops_version && ta.linfa_version == tb.linfa_version,
    );
    out
}

/// Retrains a registered version from its stored dataset snapshot with the spec stored in its
/// bundle (recording the stored code version, so the hashes compare what was computed), and
/// compares the new bundle's hash with the stored one. `current_code` (for example
/// [`CodeVersion::detect`](mlops_train::CodeVersion::detect)) is reported beside the stored one:
/// when they are equal and clean, the hashes must be equal.
///
/// # Errors
/// [`Error::NotReproducible`] when the bundle has no spec or its dataset was not snapshotted;
/// registry, ingest and training errors.
pub fn reproduce(
    registry: &Registry,
    name: &str,
    which: VersionRef<'_>,
    current_code: Option<mlops_train::CodeVersion>,
    scratch: &Path,
) -> Result<Reproduction, Error> {
    let (version, bundle) = load_bundle(registry, name, which)?;
    let not = |reason: &str| Error::NotReproducible {
        model: name.to_string(),
        version: version.version,
        reason: reason.to_string(),
    };
    let mut spec = bundle
        .training
        .spec
        .clone()
        .ok_or_else(|| not("the bundle records no training spec"))?;
    let dataset = bundle
        .training
        .datasets
        .first()
        .ok_or_else(|| not("the bundle records no dataset"))?;
    let snapshot = registry
        .dataset(&dataset.fingerprint.hash)
        .map_err(|_| not("its dataset snapshot is not in the registry"))?;
    let mut bytes = Vec::new();
    registry.load_dataset_to(&snapshot.fingerprint, &mut bytes)?;
    let ext = if bytes.starts_with(b"PAR1") {
        "parquet"
    } else {
        "csv"
    };
    let path: PathBuf = scratch.join(format!("reproduce-{}-{}.{ext}", name, version.version));
    std::fs::write(&path, &bytes).map_err(|e| Error::Io {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let table = read_table(&path);
    let _ = std::fs::remove_file(&path);
    let table = table?;
    let stored_code = bundle.training.code.clone();
    spec.config.code = stored_code.clone();
    let retrained = spec.train(&table)?.bundle;
    let retrained_hash = retrained.content_hash()?;
    Ok(Reproduction {
        model: name.to_string(),
        version: version.version,
        stored: version.blob,
        retrained: retrained_hash,
        identical: retrained_hash == version.blob,
        differences: bundle_differences(&bundle, &retrained),
        same_code: matches!((&stored_code, &current_code), (Some(a), Some(b)) if a == b && !a.dirty),
        stored_code,
        current_code,
    })
}
