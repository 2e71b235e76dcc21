//! Batch drift tests between a reference sample and a current sample.
//!
//! Numeric tests take plain `&[f64]` samples; categorical tests take category → count maps
//! (`BTreeMap<K, u64>`, any ordered key). Every test returns a [`TestResult`] with the statistic,
//! the p-value when the test has one, the threshold it was judged against and the verdict.
//!
//! | test | function | statistic | drifted when | agrees with |
//! |---|---|---|---|---|
//! | Kolmogorov–Smirnov | [`ks_test`] | `D` | `p < alpha` | `scipy.stats.ks_2samp` (exact and asymptotic) |
//! | chi-square | [`chi_square_test`] | Pearson χ² | `p < alpha` | `scipy.stats.chisquare(cur, ref_share * n_cur)` (Evidently) |
//! | two-proportion Z | [`z_test`] | `z` | `p < alpha` | Evidently's `z` stat test |
//! | normalised Wasserstein | [`wasserstein_test`] | `W1 / max(std_ref, 0.001)` | `≥ threshold` | `scipy.stats.wasserstein_distance` / `np.std` (Evidently) |
//! | Jensen–Shannon distance | [`jensen_shannon_test`], [`jensen_shannon_numeric_test`] | distance, natural log | `≥ threshold` | `scipy.spatial.distance.jensenshannon` |
//! | PSI | [`psi_test`], [`psi_categorical_test`] | population stability index | `≥ threshold` | numpy, rule documented on [`psi_test`] |
//! | L∞ | [`linf_test`] | `max |p_ref - p_cur|` | `≥ threshold` | Evidently's `linf` |
//!
//! The golden vectors in `tests/fixtures/drift/` are produced by `gen.py` with scipy and numpy.

mod categorical;
mod kolmogorov;
mod ks;
mod numeric;
mod sort;

pub(crate) use kolmogorov::kstwo_sf as kolmogorov_sf;
pub(crate) use sort::sort_f64;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Sample};

pub use categorical::{
    chi_square_test, jensen_shannon_test, linf_test, psi_categorical_test, z_test,
};
pub use ks::{KS_MAX_EXACT_N, Ks2Sample, KsMethod, ks_2samp, ks_test};
pub use numeric::{
    JS_DEFAULT_BINS, PSI_DEFAULT_BINS, PSI_EPSILON, WASSERSTEIN_STD_FLOOR,
    jensen_shannon_numeric_test, psi_test, wasserstein_distance, wasserstein_test,
};

/// The statistical test behind a [`TestResult`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TestKind {
    /// Two-sample Kolmogorov–Smirnov (numeric; p-value).
    KolmogorovSmirnov,
    /// Pearson chi-square goodness of fit of current counts to reference shares (categorical; p-value).
    ChiSquare,
    /// Two-proportion Z-test (binary categorical; p-value).
    ZTest,
    /// Wasserstein-1 distance divided by the reference standard deviation (numeric; distance).
    WassersteinNormed,
    /// Jensen–Shannon distance, natural logarithm (categorical or binned numeric; distance).
    JensenShannon,
    /// Population stability index (binned numeric or categorical; distance).
    Psi,
    /// L-infinity distance between category shares (categorical; distance).
    LInfinity,
}

impl TestKind {
    /// Whether the verdict comes from a p-value (`p < threshold`) rather than a distance
    /// (`statistic ≥ threshold`).
    pub fn uses_p_value(self) -> bool {
        matches!(
            self,
            TestKind::KolmogorovSmirnov | TestKind::ChiSquare | TestKind::ZTest
        )
    }
}

/// The outcome of one drift test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Which test produced this.
    pub test: TestKind,
    /// The test statistic (for distance tests, the distance itself).
    pub statistic: f64,
    /// The p-value, for hypothesis tests.
    pub p_value: Option<f64>,
    /// The threshold the verdict used: the significance level for p-value tests, the distance
    /// threshold otherwise.
    pub threshold: f64,
    /// `p_value < threshold` for p-value tests, `statistic >= threshold` for distances
    /// (Evidently's conventions).
    pub drifted: bool,
}

impl TestResult {
    pub(crate) fn from_p_value(test: TestKind, statistic: f64, p_value: f64, alpha: f64) -> Self {
        Self {
            test,
            statistic,
            p_value: Some(p_value),
            threshold: alpha,
            drifted: p_value < alpha,
        }
    }

    pub(crate) fn from_distance(test: TestKind, statistic: f64, threshold: f64) -> Self {
        Self {
            test,
            statistic,
            p_value: None,
            threshold,
            drifted: statistic >= threshold,
        }
    }
}

pub(crate) fn check_alpha(alpha: f64) -> Result<()> {
    if alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "alpha",
            value: alpha,
            reason: "must be in (0, 1)",
        })
    }
}

pub(crate) fn check_threshold(threshold: f64) -> Result<()> {
    if threshold.is_finite() && threshold >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "threshold",
            value: threshold,
            reason: "must be finite and non-negative",
        })
    }
}

/// Copy, validate and sort a sample (radix sort for large samples, `O(n)` when already
/// sorted). NaN is always rejected; infinities only when `allow_inf` is false.
pub(crate) fn sorted_finite_or_inf(
    data: &[f64],
    sample: Sample,
    allow_inf: bool,
) -> Result<Vec<f64>> {
    validate(data, sample, allow_inf)?;
    Ok(sort::sorted_copy(data))
}

/// Rejects an empty sample and NaN (and infinities unless `allow_inf`), naming the first
/// offending index.
pub(crate) fn validate(data: &[f64], sample: Sample, allow_inf: bool) -> Result<()> {
    if data.is_empty() {
        return Err(Error::EmptySample { sample });
    }
    // One vectorisable pass for the common case.
    if data.iter().all(|v| v.is_finite()) {
        return Ok(());
    }
    if let Some(index) = data.iter().position(|v| v.is_nan()) {
        return Err(Error::NanInSample { sample, index });
    }
    if !allow_inf
        && let Some((index, &value)) = data.iter().enumerate().find(|(_, v)| v.is_infinite())
    {
        return Err(Error::NonFiniteInSample {
            sample,
            index,
            value,
        });
    }
    Ok(())
}

/// Neumaier-compensated sum, so long samples do not lose digits.
pub(crate) fn compensated_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut sum = 0.0_f64;
    let mut c = 0.0_f64;
    for x in values {
        let t = sum + x;
        if sum.abs() >= x.abs() {
            c += (sum - t) + x;
        } else {
            c += (x - t) + sum;
        }
        sum = t;
    }
    sum + c
}

/// `sum(p * ln(p / q))` with scipy's `rel_entr` conventions (`0` when `p == 0`, `+inf` when
/// `q == 0 < p`).
pub(crate) fn rel_entr_sum(p: &[f64], q: &[f64]) -> f64 {
    compensated_sum(p.iter().zip(q).map(|(&a, &b)| {
        if a == 0.0 {
            0.0
        } else if b > 0.0 {
            a * (a / b).ln()
        } else {
            f64::INFINITY
        }
    }))
}

/// Jensen–Shannon distance (natural log) between two probability vectors, as
/// `scipy.spatial.distance.jensenshannon(p, q)` (which first normalises each to sum 1).
pub(crate) fn js_distance(p: &[f64], q: &[f64]) -> f64 {
    let sp = compensated_sum(p.iter().copied());
    let sq = compensated_sum(q.iter().copied());
    let p: Vec<f64> = p.iter().map(|v| v / sp).collect();
    let q: Vec<f64> = q.iter().map(|v| v / sq).collect();
    let m: Vec<f64> = p.iter().zip(&q).map(|(a, b)| (a + b) / 2.0).collect();
    let js = (rel_entr_sum(&p, &m) + rel_entr_sum(&q, &m)) / 2.0;
    js.max(0.0).sqrt()
}

/// PSI `sum((r - c) ln(r / c))` over shares where zero shares were replaced by `eps`.
pub(crate) fn psi_from_shares(r: &[f64], c: &[f64], eps: f64) -> f64 {
    compensated_sum(r.iter().zip(c).map(|(&a, &b)| {
        let a = if a == 0.0 { eps } else { a };
        let b = if b == 0.0 { eps } else { b };
        (a - b) * (a / b).ln()
    }))
}
