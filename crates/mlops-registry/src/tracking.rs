//! Runs (persisted training reports) and dataset snapshots, and the lineage that joins them
//! to model versions.

use std::collections::BTreeMap;

use mlops_core::{ContentHash, Name};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{MAX_FINGERPRINTS, MAX_VALUE_LEN, ModelVersion, check_text};

/// Largest run record accepted (its JSON, stored as a blob), in bytes.
pub const MAX_RUN_BYTES: u64 = 64 * 1024 * 1024;

/// One point of a step series (a loss curve, a metric per epoch, …).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The step (iteration, epoch, …).
    pub step: u64,
    /// The value; must be finite.
    pub value: f64,
}

/// A training report to persist as a run.
///
/// ```
/// use mlops_registry::{RunRecord, Step};
/// let run = RunRecord::new("churn-training")?
///     .with_param("max_depth", "6")
///     .with_metric("auc", 0.91)
///     .with_steps("loss", vec![Step { step: 0, value: 0.7 }, Step { step: 1, value: 0.5 }])
///     .with_code_version("git:1a2b3c");
/// assert_eq!(run.experiment.as_str(), "churn-training");
/// # Ok::<(), mlops_registry::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The experiment (a group of comparable runs).
    pub experiment: Name,
    /// Hyper-parameters and settings.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Final metrics; values must be finite.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Step series by name.
    #[serde(default)]
    pub steps: BTreeMap<String, Vec<Step>>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<Name, String>,
    /// Environment (library versions, host, …).
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Code version (commit id, package version, …).
    #[serde(default)]
    pub code_version: Option<String>,
    /// Fingerprints of the datasets used.
    #[serde(default)]
    pub dataset_fingerprints: Vec<ContentHash>,
}

impl RunRecord {
    /// An empty record for an experiment (the name is validated).
    pub fn new(experiment: &str) -> Result<Self> {
        Ok(Self {
            experiment: crate::error::name("experiment", experiment)?,
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            steps: BTreeMap::new(),
            tags: BTreeMap::new(),
            environment: BTreeMap::new(),
            code_version: None,
            dataset_fingerprints: Vec::new(),
        })
    }
    /// Adds a parameter.
    pub fn with_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }
    /// Adds a final metric.
    pub fn with_metric(mut self, key: impl Into<String>, value: f64) -> Self {
        self.metrics.insert(key.into(), value);
        self
    }
    /// Adds a step series.
    pub fn with_steps(mut self, key: impl Into<String>, steps: Vec<Step>) -> Self {
        self.steps.insert(key.into(), steps);
        self
    }
    /// Adds an environment entry.
    pub fn with_environment(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.environment.insert(key.into(), value.into());
        self
    }
    /// Sets the code version.
    pub fn with_code_version(mut self, version: impl Into<String>) -> Self {
        self.code_version = Some(version.into());
        self
    }
    /// Adds a dataset fingerprint.
    pub fn with_dataset(mut self, fingerprint: ContentHash) -> Self {
        self.dataset_fingerprints.push(fingerprint);
        self
    }

    /// Checks keys, finiteness and lengths.
    pub fn validate(&self) -> Result<()> {
        let key = |map: &str, k: &str| -> Result<()> {
            if k.is_empty() || k.len() > crate::MAX_KEY_LEN || k.chars().any(char::is_control) {
                return Err(Error::input(
                    format!("{map}[{k:?}]"),
                    "keys must be 1 to 128 bytes without control characters",
                ));
            }
            Ok(())
        };
        for (k, v) in &self.params {
            key("params", k)?;
            check_text(&format!("params[{k:?}]"), v, MAX_VALUE_LEN, false)?;
        }
        for (k, v) in &self.environment {
            key("environment", k)?;
            check_text(&format!("environment[{k:?}]"), v, MAX_VALUE_LEN, false)?;
        }
        for (k, v) in &self.tags {
            check_text(&format!("tags[{k:?}]"), v, MAX_VALUE_LEN, false)?;
        }
        for (k, v) in &self.metrics {
            key("metrics", k)?;
            if !v.is_finite() {
                return Err(Error::input(
                    format!("metrics[{k:?}]"),
                    format!("{v} is not finite"),
                ));
            }
        }
        for (k, series) in &self.steps {
            key("steps", k)?;
            if let Some(s) = series.iter().find(|s| !s.value.is_finite()) {
                return Err(Error::input(
                    format!("steps[{k:?}] at step {}", s.step),
                    format!("{} is not finite", s.value),
                ));
            }
        }
        if let Some(c) = &self.code_version {
            check_text("code_version", c, MAX_VALUE_LEN, false)?;
        }
        if self.dataset_fingerprints.len() > MAX_FINGERPRINTS {
            return Err(Error::input(
                "dataset_fingerprints",
                format!("more than {MAX_FINGERPRINTS} entries"),
            ));
        }
        Ok(())
    }
}

/// A logged run as recorded in the log (the full record is a blob: [`crate::Registry::get_run`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run id: `run-1`, `run-2`, … in log order, usable as [`crate::Lineage::run_id`].
    pub run: Name,
    /// The experiment.
    pub experiment: Name,
    /// The final metrics (copied into the event so runs compare without reading blobs).
    pub metrics: BTreeMap<String, f64>,
    /// sha256 of the stored record.
    pub blob: ContentHash,
    /// Size of the stored record.
    pub size: u64,
    /// When it was logged, unix milliseconds.
    pub logged_ms: u64,
    /// Who logged it.
    pub actor: String,
    /// Sequence number of its event.
    pub event_seq: u64,
}

/// A stored dataset snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetSnapshot {
    /// The dataset fingerprint it is keyed by.
    pub fingerprint: ContentHash,
    /// An optional human name.
    pub name: Option<Name>,
    /// sha256 of the stored file (equal to the fingerprint when the fingerprint is the file hash).
    pub blob: ContentHash,
    /// File size.
    pub size: u64,
    /// When it was added, unix milliseconds.
    pub added_ms: u64,
    /// Who added it.
    pub actor: String,
    /// Sequence number of its event.
    pub event_seq: u64,
}

/// Where a model version came from: its run and datasets, and which snapshots are stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineageReport {
    /// The model version.
    pub version: ModelVersion,
    /// Its run, if the version names one that this registry holds.
    pub run: Option<RunSummary>,
    /// Every dataset fingerprint named by the version or its run (sorted, once each), with
    /// its stored snapshot if there is one.
    pub datasets: Vec<(ContentHash, Option<DatasetSnapshot>)>,
}
