//! A JSON drift report with a stable, versioned shape, and a self-contained HTML page
//! ([`DriftReport::to_html`]).
//!
//! [`DriftReport`] serialises as follows (`version` is always [`REPORT_VERSION`]; fields are
//! never removed or renamed within a version; `generated_at` is whatever the caller passed, so
//! the same inputs always give the same bytes):
//!
//! ```json
//! {
//!   "version": "mlops.drift-report/v1",
//!   "generated_at": "2026-11-27T12:00:00Z",
//!   "dataset": {
//!     "n_columns": 2, "n_drifted": 1, "share_drifted": 0.5, "threshold": 0.5, "drifted": true,
//!     "n_reference_rows": 100000, "n_current_rows": 100000
//!   },
//!   "columns": [
//!     {
//!       "column": "age",
//!       "kind": "numeric",
//!       "test": "wasserstein_normed",
//!       "statistic": 0.42,
//!       "p_value": null,
//!       "threshold": 0.1,
//!       "drifted": true,
//!       "n_reference": 100000,
//!       "n_current": 100000,
//!       "distribution": {
//!         "kind": "numeric",
//!         "edges": [18.0, 25.2, 32.4, 39.6, 46.8, 54.0, 61.2, 68.4, 75.6, 82.8, 90.0],
//!         "reference": [9000, 12000, 15000, 14000, 13000, 12000, 10000, 8000, 5000, 2000],
//!         "current": [2000, 5000, 9000, 12000, 15000, 16000, 15000, 13000, 9000, 4000]
//!       }
//!     },
//!     {
//!       "column": "plan",
//!       "kind": "categorical",
//!       "test": "jensen_shannon",
//!       "statistic": 0.01,
//!       "p_value": null,
//!       "threshold": 0.1,
//!       "drifted": false,
//!       "n_reference": 100000,
//!       "n_current": 100000,
//!       "distribution": {
//!         "kind": "categorical",
//!         "reference": { "basic": 0.5, "premium": 0.5 },
//!         "current": { "basic": 0.49, "premium": 0.51 }
//!       }
//!     }
//!   ]
//! }
//! ```
//!
//! - `test` is a [`TestKind`] in snake_case (`kolmogorov_smirnov`, `chi_square`, `z_test`,
//!   `wasserstein_normed`, `jensen_shannon`, `psi`, `l_infinity`); `p_value` is `null` for
//!   distance tests; `drifted` is `p_value < threshold` for p-value tests and
//!   `statistic >= threshold` otherwise.
//! - `distribution` is `null` when the report was built from a bare [`DatasetDrift`]; numeric
//!   histograms have shared `edges` (bins `[e_i, e_{i+1})`, the last closed) and counts of the
//!   data the test ran on (the reservoir sample, or the profile's sketch estimate for the
//!   reference); categorical distributions give each category's share.
//! - `dataset.n_reference_rows` / `dataset.n_current_rows` (added compatibly within v1) are the
//!   rows read from each input (the profile's row count for a profile reference); they are
//!   absent when the report was built from a bare [`DatasetDrift`], and readers of v1 must
//!   accept their absence.
//! - A non-finite `statistic` (an infinite χ² when the current data has a category the
//!   reference lacks, say) is written as `null` and read back as NaN, so such a report does not
//!   round-trip bit for bit; every finite number round-trips exactly.

use serde::{Deserialize, Serialize};

use crate::auto::{ColumnKind, DatasetDrift};
use crate::dataset::{ColumnDistribution, StreamDrift};
use crate::drift::TestKind;
use crate::error::{Error, Result};

mod html;

pub use html::MAX_CHART_CATEGORIES;

/// The `version` of every report this crate writes.
pub const REPORT_VERSION: &str = "mlops.drift-report/v1";

/// The dataset-level part of a [`DriftReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// Columns tested.
    pub n_columns: usize,
    /// Columns that drifted.
    pub n_drifted: usize,
    /// `n_drifted / n_columns`.
    pub share_drifted: f64,
    /// Share threshold of the dataset verdict.
    pub threshold: f64,
    /// The dataset verdict.
    pub drifted: bool,
    /// Rows in the reference data, when known (omitted from the JSON otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_reference_rows: Option<u64>,
    /// Rows in the current data, when known (omitted from the JSON otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_current_rows: Option<u64>,
}

/// One column of a [`DriftReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnReport {
    /// Column name.
    pub column: String,
    /// Numeric or categorical.
    pub kind: ColumnKind,
    /// The test that ran.
    pub test: TestKind,
    /// Its statistic (`null` in JSON when not finite; read back as NaN).
    #[serde(with = "finite_or_null")]
    pub statistic: f64,
    /// Its p-value (hypothesis tests only).
    pub p_value: Option<f64>,
    /// The threshold of the verdict.
    pub threshold: f64,
    /// The verdict.
    pub drifted: bool,
    /// Reference values seen.
    pub n_reference: u64,
    /// Current values seen.
    pub n_current: u64,
    /// Histogram or category shares, when known.
    pub distribution: Option<ColumnDistribution>,
}

/// A versioned drift report (see the [module documentation](self) for the JSON shape).
///
/// ```
/// use mlops_monitor::{ColumnData, DriftConfig, DriftReport};
/// let a: Vec<f64> = (0..100).map(f64::from).collect();
/// let drift = DriftConfig::default().test_dataset([("x", ColumnData::Numeric(&a), ColumnData::Numeric(&a))])?;
/// let report = DriftReport::from_dataset_drift(&drift, "2026-11-27T12:00:00Z");
/// let json = report.to_json()?;
/// assert!(json.contains("\"version\": \"mlops.drift-report/v1\""));
/// assert_eq!(DriftReport::from_json(&json)?, report);
/// # Ok::<(), mlops_monitor::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Always [`REPORT_VERSION`].
    pub version: String,
    /// Caller-supplied generation time (e.g. RFC 3339); no clock is read.
    pub generated_at: String,
    /// Dataset verdict.
    pub dataset: DatasetSummary,
    /// Per-column results, in test order.
    pub columns: Vec<ColumnReport>,
}

impl DriftReport {
    /// A report of verdicts without distributions.
    pub fn from_dataset_drift(drift: &DatasetDrift, generated_at: impl Into<String>) -> Self {
        Self::build(drift, &[], generated_at.into())
    }

    /// A report with the histograms and category shares of [`StreamDrift::distributions`].
    pub fn from_stream_drift(drift: &StreamDrift, generated_at: impl Into<String>) -> Self {
        let mut r = Self::build(&drift.drift, &drift.distributions, generated_at.into());
        r.dataset.n_reference_rows = Some(drift.n_reference_rows);
        r.dataset.n_current_rows = Some(drift.n_current_rows);
        r
    }

    fn build(drift: &DatasetDrift, dists: &[ColumnDistribution], generated_at: String) -> Self {
        let columns = drift
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| ColumnReport {
                column: c.column.clone(),
                kind: c.kind,
                test: c.result.test,
                statistic: c.result.statistic,
                p_value: c.result.p_value,
                threshold: c.result.threshold,
                drifted: c.result.drifted,
                n_reference: c.n_reference,
                n_current: c.n_current,
                distribution: dists.get(i).cloned(),
            })
            .collect();
        Self {
            version: REPORT_VERSION.to_owned(),
            generated_at,
            dataset: DatasetSummary {
                n_columns: drift.columns.len(),
                n_drifted: drift.n_drifted,
                share_drifted: drift.share_drifted,
                threshold: drift.threshold,
                drifted: drift.drifted,
                n_reference_rows: None,
                n_current_rows: None,
            },
            columns,
        }
    }

    /// Pretty-printed JSON.
    ///
    /// # Errors
    /// [`Error::Json`] if serialisation fails.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Json {
            message: e.to_string(),
        })
    }

    /// Parses a report and checks its version.
    ///
    /// # Errors
    /// [`Error::Json`] for malformed JSON or a version other than [`REPORT_VERSION`].
    pub fn from_json(json: &str) -> Result<Self> {
        let r: Self = serde_json::from_str(json).map_err(|e| Error::Json {
            message: e.to_string(),
        })?;
        if r.version != REPORT_VERSION {
            return Err(Error::Json {
                message: format!(
                    "unsupported report version {:?}, expected {REPORT_VERSION:?}",
                    r.version
                ),
            });
        }
        Ok(r)
    }
}

mod finite_or_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}
