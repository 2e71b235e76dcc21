//! Automatic choice of drift test per column and the dataset verdict, following Evidently's
//! defaults.
//!
//! [`DriftConfig::default`] encodes Evidently's `get_default_stattest` rules, where `n_unique` is
//! the number of distinct values over both samples and "small" means the reference has at most
//! [`DriftConfig::small_reference_max_rows`] (1000) rows:
//!
//! | column | reference ≤ 1000 rows | larger reference |
//! |---|---|---|
//! | numeric, `n_unique > 5` | KS, drift if `p < 0.05` | normalised Wasserstein, drift if `≥ 0.1` |
//! | numeric, `n_unique ≤ 5` | chi-square (Z-test when `≤ 2` values), `p < 0.05` | Jensen–Shannon on value shares, `≥ 0.1` |
//! | categorical | chi-square (Z-test when `≤ 2` categories), `p < 0.05` | Jensen–Shannon, `≥ 0.1` |
//!
//! Every threshold is a public field, and [`DriftConfig::overrides`] forces a test per column.
//! The dataset drifts when the share of drifted columns is `≥` [`DriftConfig::dataset_drift_share`]
//! (0.5), Evidently's `DatasetDriftMetric` rule.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::drift::{self, TestKind, TestResult};
use crate::error::{Error, Result, Sample};

/// The kind of a column's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Numbers (`&[f64]`).
    Numeric,
    /// Category counts.
    Categorical,
}

impl std::fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
        })
    }
}

/// One sample of one column: numbers, or category counts.
#[derive(Debug, Clone, Copy)]
pub enum ColumnData<'a> {
    /// A numeric sample.
    Numeric(&'a [f64]),
    /// Category → count.
    Categorical(&'a BTreeMap<String, u64>),
}

impl ColumnData<'_> {
    /// The kind of data.
    pub fn kind(&self) -> ColumnKind {
        match self {
            ColumnData::Numeric(_) => ColumnKind::Numeric,
            ColumnData::Categorical(_) => ColumnKind::Categorical,
        }
    }

    /// Number of observations.
    pub fn len(&self) -> u64 {
        match self {
            ColumnData::Numeric(x) => x.len() as u64,
            ColumnData::Categorical(c) => c.values().sum(),
        }
    }

    /// Whether there are no observations.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A number usable as a category key (total order; `-0.0` and `0.0` are one value).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NumKey(pub(crate) f64);

impl PartialEq for NumKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for NumKey {}
impl PartialOrd for NumKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for NumKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0 + 0.0).total_cmp(&(other.0 + 0.0))
    }
}

fn value_counts(x: &[f64], sample: Sample) -> Result<BTreeMap<NumKey, u64>> {
    if x.is_empty() {
        return Err(Error::EmptySample { sample });
    }
    let mut m = BTreeMap::new();
    for (index, &v) in x.iter().enumerate() {
        if v.is_nan() {
            return Err(Error::NanInSample { sample, index });
        }
        *m.entry(NumKey(v)).or_insert(0) += 1;
    }
    Ok(m)
}

/// Distinct values over both samples, stopping early past `cap`.
fn n_unique_numeric(a: &[f64], b: &[f64], cap: usize) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    for &v in a.iter().chain(b) {
        if !v.is_nan() {
            seen.insert(NumKey(v));
            if seen.len() > cap {
                break;
            }
        }
    }
    seen.len()
}

fn n_unique_categorical(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> usize {
    let mut keys: Vec<&String> = a
        .iter()
        .chain(b.iter())
        .filter(|(_, c)| **c > 0)
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    keys.dedup();
    keys.len()
}

/// Which tests to run and how to judge them. `Default` is Evidently's default (see the module
/// documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriftConfig {
    /// A reference with at most this many rows is "small" and gets a hypothesis test (1000).
    pub small_reference_max_rows: u64,
    /// Numeric columns with at most this many distinct values (over both samples) are treated as
    /// categorical (5).
    pub numeric_as_categorical_max_unique: usize,
    /// Significance level of the KS test (0.05).
    pub ks_alpha: f64,
    /// Significance level of the chi-square test (0.05).
    pub chi_square_alpha: f64,
    /// Significance level of the Z-test (0.05).
    pub z_alpha: f64,
    /// Threshold on the normalised Wasserstein distance (0.1).
    pub wasserstein_threshold: f64,
    /// Threshold on the Jensen–Shannon distance (0.1).
    pub jensen_shannon_threshold: f64,
    /// Threshold on PSI (0.1).
    pub psi_threshold: f64,
    /// Threshold on the L∞ distance (0.1).
    pub linf_threshold: f64,
    /// Reference-quantile bins for numeric PSI (10).
    pub psi_bins: usize,
    /// Equal-width bins for numeric Jensen–Shannon (30).
    pub jensen_shannon_bins: usize,
    /// The dataset drifts when `drifted columns / columns ≥` this share (0.5).
    pub dataset_drift_share: f64,
    /// Per-column forced test, by column name.
    pub overrides: BTreeMap<String, TestKind>,
}

impl Default for DriftConfig {
    fn default() -> Self {
        Self {
            small_reference_max_rows: 1000,
            numeric_as_categorical_max_unique: 5,
            ks_alpha: 0.05,
            chi_square_alpha: 0.05,
            z_alpha: 0.05,
            wasserstein_threshold: 0.1,
            jensen_shannon_threshold: 0.1,
            psi_threshold: 0.1,
            linf_threshold: 0.1,
            psi_bins: drift::PSI_DEFAULT_BINS,
            jensen_shannon_bins: drift::JS_DEFAULT_BINS,
            dataset_drift_share: 0.5,
            overrides: BTreeMap::new(),
        }
    }
}

/// The drift verdict for one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// Column name.
    pub column: String,
    /// Kind of the column's data.
    pub kind: ColumnKind,
    /// Rows in the reference sample.
    pub n_reference: u64,
    /// Rows in the current sample.
    pub n_current: u64,
    /// The test that ran and its outcome.
    pub result: TestResult,
}

impl ColumnDrift {
    /// Whether this column drifted.
    pub fn drifted(&self) -> bool {
        self.result.drifted
    }
}

/// The drift verdict for a set of columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    /// Per-column results, in the order given.
    pub columns: Vec<ColumnDrift>,
    /// Number of drifted columns.
    pub n_drifted: usize,
    /// `n_drifted / columns.len()` (0 when there are no columns).
    pub share_drifted: f64,
    /// The share threshold used.
    pub threshold: f64,
    /// `share_drifted >= threshold` (false when there are no columns).
    pub drifted: bool,
}

impl DriftConfig {
    /// Threshold (significance level or distance) this configuration uses for `test`.
    pub fn threshold_for(&self, test: TestKind) -> f64 {
        match test {
            TestKind::KolmogorovSmirnov => self.ks_alpha,
            TestKind::ChiSquare => self.chi_square_alpha,
            TestKind::ZTest => self.z_alpha,
            TestKind::WassersteinNormed => self.wasserstein_threshold,
            TestKind::JensenShannon => self.jensen_shannon_threshold,
            TestKind::Psi => self.psi_threshold,
            TestKind::LInfinity => self.linf_threshold,
        }
    }

    /// The test Evidently's rules pick for this pair of samples (ignoring overrides).
    ///
    /// # Errors
    /// [`Error::ColumnKindMismatch`] (with an empty column name) when the kinds differ.
    pub fn choose(&self, reference: ColumnData<'_>, current: ColumnData<'_>) -> Result<TestKind> {
        let small = reference.len() <= self.small_reference_max_rows;
        let n_unique = match (reference, current) {
            (ColumnData::Numeric(a), ColumnData::Numeric(b)) => {
                let cap = self.numeric_as_categorical_max_unique;
                let u = n_unique_numeric(a, b, cap);
                if u > cap {
                    return Ok(if small {
                        TestKind::KolmogorovSmirnov
                    } else {
                        TestKind::WassersteinNormed
                    });
                }
                u
            }
            (ColumnData::Categorical(a), ColumnData::Categorical(b)) => n_unique_categorical(a, b),
            (r, c) => {
                return Err(Error::ColumnKindMismatch {
                    column: String::new(),
                    reference: r.kind(),
                    current: c.kind(),
                });
            }
        };
        Ok(if !small {
            TestKind::JensenShannon
        } else if n_unique > 2 {
            TestKind::ChiSquare
        } else {
            TestKind::ZTest
        })
    }

    /// Run one test on one column's samples.
    fn run(
        &self,
        test: TestKind,
        column: &str,
        reference: ColumnData<'_>,
        current: ColumnData<'_>,
    ) -> Result<TestResult> {
        let t = self.threshold_for(test);
        match (reference, current) {
            (ColumnData::Numeric(a), ColumnData::Numeric(b)) => match test {
                TestKind::KolmogorovSmirnov => drift::ks_test(a, b, t),
                TestKind::WassersteinNormed => drift::wasserstein_test(a, b, t),
                TestKind::Psi => drift::psi_test(a, b, self.psi_bins, t),
                TestKind::JensenShannon => {
                    let cap = self.numeric_as_categorical_max_unique;
                    if n_unique_numeric(a, b, cap) <= cap {
                        let (ra, cb) = (
                            value_counts(a, Sample::Reference)?,
                            value_counts(b, Sample::Current)?,
                        );
                        drift::jensen_shannon_test(&ra, &cb, t)
                    } else {
                        drift::jensen_shannon_numeric_test(a, b, self.jensen_shannon_bins, t)
                    }
                }
                TestKind::ChiSquare | TestKind::ZTest | TestKind::LInfinity => {
                    let (ra, cb) = (
                        value_counts(a, Sample::Reference)?,
                        value_counts(b, Sample::Current)?,
                    );
                    match test {
                        TestKind::ChiSquare => drift::chi_square_test(&ra, &cb, t),
                        TestKind::ZTest => drift::z_test(&ra, &cb, t),
                        _ => drift::linf_test(&ra, &cb, t),
                    }
                }
            },
            (ColumnData::Categorical(a), ColumnData::Categorical(b)) => match test {
                TestKind::ChiSquare => drift::chi_square_test(a, b, t),
                TestKind::ZTest => drift::z_test(a, b, t),
                TestKind::JensenShannon => drift::jensen_shannon_test(a, b, t),
                TestKind::Psi => drift::psi_categorical_test(a, b, t),
                TestKind::LInfinity => drift::linf_test(a, b, t),
                TestKind::KolmogorovSmirnov | TestKind::WassersteinNormed => {
                    Err(Error::IncompatibleTest {
                        column: column.to_owned(),
                        test,
                        kind: ColumnKind::Categorical,
                    })
                }
            },
            (r, c) => Err(Error::ColumnKindMismatch {
                column: column.to_owned(),
                reference: r.kind(),
                current: c.kind(),
            }),
        }
    }

    /// Test one column: the override for `column` if any, otherwise the automatic choice.
    ///
    /// # Errors
    /// [`Error::Column`] wrapping the test's error (empty sample, NaN, …),
    /// [`Error::ColumnKindMismatch`], [`Error::IncompatibleTest`].
    pub fn test_column(
        &self,
        column: &str,
        reference: ColumnData<'_>,
        current: ColumnData<'_>,
    ) -> Result<ColumnDrift> {
        let wrap = |e: Error| match e {
            Error::ColumnKindMismatch {
                reference, current, ..
            } => Error::ColumnKindMismatch {
                column: column.to_owned(),
                reference,
                current,
            },
            e @ (Error::IncompatibleTest { .. } | Error::Column { .. }) => e,
            e => Error::Column {
                column: column.to_owned(),
                source: Box::new(e),
            },
        };
        let test = match self.overrides.get(column) {
            Some(&t) => t,
            None => self.choose(reference, current).map_err(wrap)?,
        };
        let result = self.run(test, column, reference, current).map_err(wrap)?;
        Ok(ColumnDrift {
            column: column.to_owned(),
            kind: reference.kind(),
            n_reference: reference.len(),
            n_current: current.len(),
            result,
        })
    }

    /// Test every column and give the dataset verdict.
    ///
    /// # Errors
    /// The first column error (see [`DriftConfig::test_column`]), and
    /// [`Error::InvalidParameter`] when `dataset_drift_share` is not in `(0, 1]`.
    ///
    /// ```
    /// use mlops_monitor::{ColumnData, DriftConfig};
    /// let a: Vec<f64> = (0..200).map(|i| i as f64).collect();
    /// let b: Vec<f64> = (0..200).map(|i| i as f64 + 100.0).collect();
    /// let report = DriftConfig::default().test_dataset([
    ///     ("same", ColumnData::Numeric(&a), ColumnData::Numeric(&a)),
    ///     ("shifted", ColumnData::Numeric(&a), ColumnData::Numeric(&b)),
    /// ])?;
    /// assert_eq!(report.n_drifted, 1);
    /// assert!(report.drifted); // 1/2 >= 0.5
    /// # Ok::<(), mlops_monitor::Error>(())
    /// ```
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn test_dataset<'a, I>(&self, columns: I) -> Result<DatasetDrift>
    where
        I: IntoIterator<Item = (&'a str, ColumnData<'a>, ColumnData<'a>)>,
    {
        let share = self.dataset_drift_share;
        if !(share > 0.0 && share <= 1.0) {
            return Err(Error::InvalidParameter {
                name: "dataset_drift_share",
                value: share,
                reason: "must be in (0, 1]",
            });
        }
        let columns = columns
            .into_iter()
            .map(|(name, r, c)| self.test_column(name, r, c))
            .collect::<Result<Vec<_>>>()?;
        self.verdict(columns)
    }

    /// The dataset verdict over already tested columns.
    pub(crate) fn verdict(&self, columns: Vec<ColumnDrift>) -> Result<DatasetDrift> {
        let share = self.dataset_drift_share;
        if !(share > 0.0 && share <= 1.0) {
            return Err(Error::InvalidParameter {
                name: "dataset_drift_share",
                value: share,
                reason: "must be in (0, 1]",
            });
        }
        let n_drifted = columns.iter().filter(|c| c.drifted()).count();
        let share_drifted = if columns.is_empty() {
            0.0
        } else {
            n_drifted as f64 / columns.len() as f64
        };
        Ok(DatasetDrift {
            drifted: !columns.is_empty() && share_drifted >= share,
            columns,
            n_drifted,
            share_drifted,
            threshold: share,
        })
    }
}
