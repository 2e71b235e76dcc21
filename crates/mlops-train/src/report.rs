//! Training reports as plain serialisable data.
//!
//! [`TrainingSummary`] is the deterministic part — estimator, params, seed, dataset
//! fingerprints, row counts, convergence, the library and code version — and goes inside the
//! [`ModelBundle`](crate::bundle::ModelBundle), so the same data, config and seed give the same
//! bundle bytes. [`TrainingReport`] adds what varies between runs (durations, the machine's
//! rustc/OS) and is what the registry persists as a run.

use std::collections::BTreeMap;
use std::path::Path;

use mlops_data::fingerprint::Fingerprint;
use serde::{Deserialize, Serialize};

use crate::estimator::FitDiagnostics;

/// Format tag of [`TrainingReport`] JSON.
pub const REPORT_FORMAT: &str = "mlops.training-report/v1";

/// The linfa version this crate trains with (checked against `Cargo.lock` by a test).
pub const LINFA_VERSION: &str = "0.8.1";

/// A dataset that took part in training.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRef {
    /// Its role, e.g. `"training-input"`.
    pub role: String,
    /// Its logical fingerprint.
    pub fingerprint: Fingerprint,
}

/// Row counts of the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowCounts {
    /// Rows fitted on.
    pub train: usize,
    /// Rows used for model selection.
    pub validation: usize,
    /// Rows held out for the final metrics.
    pub test: usize,
}

/// The version of the code that trained: a git commit and whether the checkout had local
/// changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeVersion {
    /// The commit id (`git rev-parse HEAD`).
    pub commit: String,
    /// Whether `git status --porcelain` listed changes.
    pub dirty: bool,
}

impl CodeVersion {
    /// Detects the code version of the git checkout containing `dir`; `None` outside a checkout
    /// or without `git`.
    pub fn detect(dir: &Path) -> Option<Self> {
        let run = |args: &[&str]| {
            std::process::Command::new("git")
                .args(args)
                .current_dir(dir)
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        let commit = run(&["rev-parse", "HEAD"])?;
        if commit.is_empty() {
            return None;
        }
        let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
            .map(|s| !s.is_empty())
            .unwrap_or(true);
        Some(Self { commit, dirty })
    }
}

/// The deterministic part of a training report (stored inside the bundle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// The chosen estimator's name.
    pub estimator: String,
    /// Its hyper-parameters.
    pub params: BTreeMap<String, String>,
    /// The seed of every random choice.
    pub seed: u64,
    /// Datasets used.
    pub datasets: Vec<DatasetRef>,
    /// Rows per split part.
    pub rows: RowCounts,
    /// How the final fit went.
    pub diagnostics: FitDiagnostics,
    /// How the estimator was chosen, when several were compared.
    pub selection: Option<crate::select::Selection>,
    /// How to reproduce the bundle, when trained through a [`TrainSpec`](crate::trainer::TrainSpec).
    pub spec: Option<crate::trainer::TrainSpec>,
    /// Version of mlops-train.
    pub mlops_version: String,
    /// Version of linfa.
    pub linfa_version: String,
    /// The code version, when known.
    pub code: Option<CodeVersion>,
}

/// Where training ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// `rustc --version` of the compiler that built this library.
    pub rustc: String,
    /// Operating system (`std::env::consts::OS`).
    pub os: String,
    /// CPU architecture (`std::env::consts::ARCH`).
    pub arch: String,
    /// Crate versions (`mlops-train`, `linfa`, `linfa-logistic`, `linfa-trees`).
    pub crates: BTreeMap<String, String>,
}

impl Environment {
    /// The current environment.
    pub fn current() -> Self {
        let crates = BTreeMap::from([
            (
                "mlops-train".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            ("linfa".to_string(), LINFA_VERSION.to_string()),
            ("linfa-logistic".to_string(), LINFA_VERSION.to_string()),
            ("linfa-trees".to_string(), LINFA_VERSION.to_string()),
        ]);
        Self {
            rustc: env!("MLOPS_RUSTC_VERSION").to_string(),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            crates,
        }
    }
}

/// A full training report: the summary, metrics, durations and environment. Plain data, JSON
/// with [`TrainingReport::to_json`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingReport {
    /// Always [`REPORT_FORMAT`].
    pub format: String,
    /// The deterministic summary (also inside the bundle).
    pub summary: TrainingSummary,
    /// Test metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Wall-clock durations per stage, in milliseconds.
    pub durations_ms: BTreeMap<String, f64>,
    /// Where it ran.
    pub environment: Environment,
}

impl TrainingReport {
    /// Pretty JSON.
    pub fn to_json(&self) -> crate::Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| crate::Error::Encode {
            what: "training report",
            message: e.to_string(),
        })
    }
}
