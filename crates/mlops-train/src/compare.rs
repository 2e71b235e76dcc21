//! Champion vs challenger on the same holdout.
//!
//! - [`delong`]: DeLong's test for two correlated ROC-AUCs, in the fast `O(n log n)` form of
//!   Sun & Xu (2014) that builds the structural components from midranks.
//! - [`paired_bootstrap`]: a seeded, stratified, paired bootstrap of the difference of any metric.
//! - [`challenger_better`]: the promotion rule, returning its reason as data.
//!
//! Every difference is **challenger minus champion** (`b − a`), so a positive difference favours
//! the challenger.
//!
//! ```
//! use mlops_train::compare::{challenger_better, delong};
//! let y = [false, false, false, true, true, true];
//! let champion = [0.1, 0.5, 0.3, 0.4, 0.6, 0.2];
//! let challenger = [0.1, 0.2, 0.3, 0.7, 0.6, 0.8];
//! let cmp = delong(&y, &champion, &challenger)?;
//! assert!(cmp.diff > 0.0);
//! let decision = challenger_better(&cmp, 0.01, 0.05)?;
//! println!("{:?}", decision.reason);
//! # Ok::<(), mlops_train::Error>(())
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::{check_aligned, check_finite, class_counts, order_key, percentile_linear};

/// `Φ⁻¹(0.975)`, the two-sided 95 % normal quantile.
const Z_975: f64 = 1.959_963_984_540_054;

/// Result of [`delong`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AucComparison {
    /// ROC-AUC of model a (the champion).
    pub auc_a: f64,
    /// ROC-AUC of model b (the challenger).
    pub auc_b: f64,
    /// `auc_b − auc_a`.
    pub diff: f64,
    /// Standard error of `diff` under DeLong's variance estimate.
    pub se: f64,
    /// `diff / se` (`0` when both are zero, `±inf` when only `se` is zero).
    pub z: f64,
    /// Two-sided p-value `2 (1 − Φ(|z|))` (`1` when `diff == se == 0`).
    pub p_value: f64,
    /// Normal 95 % confidence interval of `diff`: `diff ± 1.96 se`.
    pub ci95: (f64, f64),
}

/// 1-based midranks (tied values share the mean of their ranks).
fn midranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<(u64, usize)> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| (order_key(v), i))
        .collect();
    idx.sort_unstable();
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && idx[j].0 == idx[i].0 {
            j += 1;
        }
        let r = (i + 1 + j) as f64 / 2.0;
        for &(_, k) in &idx[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

/// Structural components of one model: `(auc, v10 over positives, v01 over negatives)`.
fn components(pos: &[f64], neg: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let (m, n) = (pos.len(), neg.len());
    let tx = midranks(pos);
    let ty = midranks(neg);
    let all: Vec<f64> = pos.iter().chain(neg).copied().collect();
    let tz = midranks(&all);
    let (tz_pos, tz_neg) = tz.split_at(m);
    let auc = tz_pos.iter().sum::<f64>() / m as f64 / n as f64 - (m as f64 + 1.0) / 2.0 / n as f64;
    let v10 = tz_pos
        .iter()
        .zip(&tx)
        .map(|(z, x)| (z - x) / n as f64)
        .collect();
    let v01 = tz_neg
        .iter()
        .zip(&ty)
        .map(|(z, y)| 1.0 - (z - y) / m as f64)
        .collect();
    (auc, v10, v01)
}

/// Sample covariance (ddof = 1) of two equally long series.
fn cov(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (n - 1.0)
}

/// Two-sided standard-normal tail probability `2 (1 − Φ(|z|))`.
fn two_sided_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// DeLong's test of `AUC(b) − AUC(a)` for two score vectors on the same rows.
///
/// Fast DeLong (Sun & Xu, 2014): midranks give the structural components
/// `V10(x_i) = (T_z(x_i) − T_x(x_i)) / n` and `V01(y_j) = 1 − (T_z(y_j) − T_y(y_j)) / m`;
/// `Var(diff) = (S10_aa + S10_bb − 2 S10_ab) / m + (S01_aa + S01_bb − 2 S01_ab) / n` with sample
/// covariances (ddof 1). `O(n log n)`.
///
/// Errors on empty or misaligned input, non-finite scores, and fewer than two rows of either class
/// ([`Error::TooFewPerClass`]; the covariances need two).
#[tracing::instrument(skip_all, fields(n = y_true.len()))]
pub fn delong(y_true: &[bool], scores_a: &[f64], scores_b: &[f64]) -> Result<AucComparison> {
    check_aligned("y_true", y_true, "scores_a", scores_a)?;
    check_aligned("y_true", y_true, "scores_b", scores_b)?;
    check_finite("scores_a", scores_a)?;
    check_finite("scores_b", scores_b)?;
    let (m, n) = class_counts(y_true);
    if m < 2 || n < 2 {
        return Err(Error::TooFewPerClass {
            test: "DeLong's test",
            min: 2,
            positives: m,
            negatives: n,
        });
    }
    let split = |s: &[f64]| {
        let mut pos = Vec::with_capacity(m);
        let mut neg = Vec::with_capacity(n);
        for (&y, &v) in y_true.iter().zip(s) {
            if y { pos.push(v) } else { neg.push(v) }
        }
        (pos, neg)
    };
    let (pa, na) = split(scores_a);
    let (pb, nb) = split(scores_b);
    let (auc_a, v10a, v01a) = components(&pa, &na);
    let (auc_b, v10b, v01b) = components(&pb, &nb);
    let s10 = cov(&v10a, &v10a) + cov(&v10b, &v10b) - 2.0 * cov(&v10a, &v10b);
    let s01 = cov(&v01a, &v01a) + cov(&v01b, &v01b) - 2.0 * cov(&v01a, &v01b);
    let var = (s10 / m as f64 + s01 / n as f64).max(0.0);
    let se = var.sqrt();
    let diff = auc_b - auc_a;
    let (z, p_value) = if se > 0.0 {
        let z = diff / se;
        (z, two_sided_p(z))
    } else if diff == 0.0 {
        (0.0, 1.0)
    } else {
        (diff.signum() * f64::INFINITY, 0.0)
    };
    Ok(AucComparison {
        auc_a,
        auc_b,
        diff,
        se,
        z,
        p_value,
        ci95: (diff - Z_975 * se, diff + Z_975 * se),
    })
}

/// Result of [`paired_bootstrap`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapComparison {
    /// Metric of model a (champion) on the full holdout.
    pub metric_a: f64,
    /// Metric of model b (challenger) on the full holdout.
    pub metric_b: f64,
    /// `metric_b − metric_a` on the full holdout.
    pub diff: f64,
    /// 2.5 % percentile of the resampled differences (numpy's linear interpolation).
    pub ci_low: f64,
    /// 97.5 % percentile of the resampled differences.
    pub ci_high: f64,
    /// Share of resamples whose difference is `<= 0`: a one-sided bootstrap p-value for
    /// "b is better than a" (ties count against the challenger).
    pub p_value: f64,
    /// Number of resamples drawn.
    pub n_resamples: usize,
}

/// Seeded paired bootstrap of `metric(b) − metric(a)`.
///
/// `metric(y_true, scores)` must be "higher is better"; for a loss pass its negation, e.g.
/// `|y: &[bool], s: &[f64]| log_loss(y, s).map(|v| -v)`. Each resample draws, with replacement and
/// the same row indices for both models (paired), as many positives from the positives and as
/// many negatives from the negatives as the holdout holds (stratified, so ranking metrics stay
/// defined). Rows are drawn with `ChaCha8Rng::seed_from_u64(seed)` and `gen_range` over `u64`,
/// so results are bit-identical across runs and platforms.
///
/// Errors on empty or misaligned input, non-finite scores, `n_resamples == 0`, any error of
/// `metric`, and a non-finite metric value ([`Error::NonFiniteScore`] with `what = "metric"`).
#[tracing::instrument(skip_all, fields(n = y_true.len(), n_resamples))]
pub fn paired_bootstrap<F>(
    y_true: &[bool],
    scores_a: &[f64],
    scores_b: &[f64],
    metric: F,
    n_resamples: usize,
    seed: u64,
) -> Result<BootstrapComparison>
where
    F: Fn(&[bool], &[f64]) -> Result<f64>,
{
    check_aligned("y_true", y_true, "scores_a", scores_a)?;
    check_aligned("y_true", y_true, "scores_b", scores_b)?;
    check_finite("scores_a", scores_a)?;
    check_finite("scores_b", scores_b)?;
    if n_resamples == 0 {
        return Err(Error::InvalidParameter {
            name: "n_resamples",
            value: 0.0,
            expected: "at least 1",
        });
    }
    let finite = |index: usize, v: f64| {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::NonFiniteScore {
                what: "metric",
                index,
                value: v,
            })
        }
    };
    let metric_a = finite(0, metric(y_true, scores_a)?)?;
    let metric_b = finite(0, metric(y_true, scores_b)?)?;
    let pos: Vec<usize> = (0..y_true.len()).filter(|&i| y_true[i]).collect();
    let neg: Vec<usize> = (0..y_true.len()).filter(|&i| !y_true[i]).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let len = y_true.len();
    let mut ys = Vec::with_capacity(len);
    let mut sa = Vec::with_capacity(len);
    let mut sb = Vec::with_capacity(len);
    let mut diffs = Vec::with_capacity(n_resamples);
    for r in 0..n_resamples {
        ys.clear();
        sa.clear();
        sb.clear();
        for class in [&pos, &neg] {
            for _ in 0..class.len() {
                let k = rng.gen_range(0..class.len() as u64) as usize;
                let i = class[k];
                ys.push(y_true[i]);
                sa.push(scores_a[i]);
                sb.push(scores_b[i]);
            }
        }
        let d = finite(r, metric(&ys, &sb)?)? - finite(r, metric(&ys, &sa)?)?;
        diffs.push(d);
    }
    let at_most_zero = diffs.iter().filter(|&&d| d <= 0.0).count();
    diffs.sort_unstable_by(f64::total_cmp);
    Ok(BootstrapComparison {
        metric_a,
        metric_b,
        diff: metric_b - metric_a,
        ci_low: percentile_linear(&diffs, 0.025),
        ci_high: percentile_linear(&diffs, 0.975),
        p_value: at_most_zero as f64 / n_resamples as f64,
        n_resamples,
    })
}

/// A comparison that [`challenger_better`] can judge.
pub trait Comparison {
    /// Challenger minus champion.
    fn diff(&self) -> f64;
    /// p-value of "the challenger is no better".
    fn p_value(&self) -> f64;
}

impl Comparison for AucComparison {
    fn diff(&self) -> f64 {
        self.diff
    }
    fn p_value(&self) -> f64 {
        self.p_value
    }
}

impl Comparison for BootstrapComparison {
    fn diff(&self) -> f64 {
        self.diff
    }
    fn p_value(&self) -> f64 {
        self.p_value
    }
}

/// Why [`challenger_better`] decided as it did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PromotionReason {
    /// The challenger is better by at least `min_effect` and significantly so.
    Better {
        /// Observed difference.
        diff: f64,
        /// Its p-value.
        p_value: f64,
    },
    /// The difference is below the required margin.
    EffectTooSmall {
        /// Observed difference.
        diff: f64,
        /// Required margin.
        min_effect: f64,
    },
    /// The difference is large enough but not significant at `alpha`.
    NotSignificant {
        /// Observed p-value.
        p_value: f64,
        /// Significance level.
        alpha: f64,
    },
}

/// The outcome of [`challenger_better`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PromotionDecision {
    /// Whether the challenger should replace the champion.
    pub promote: bool,
    /// Why.
    pub reason: PromotionReason,
}

/// Promotion rule: promote iff `diff >= min_effect` and `p_value < alpha`.
///
/// The size check comes first, so a negative or too-small difference is reported as
/// [`PromotionReason::EffectTooSmall`] whatever its p-value. With [`AucComparison`] the p-value is
/// two-sided, so the rule is conservative (one-sided level `alpha / 2`); with
/// [`BootstrapComparison`] it is the one-sided bootstrap share.
///
/// Errors with [`Error::InvalidParameter`] unless `min_effect` is finite and `>= 0` and
/// `0 < alpha < 1`.
pub fn challenger_better(
    comparison: &impl Comparison,
    min_effect: f64,
    alpha: f64,
) -> Result<PromotionDecision> {
    if !(min_effect.is_finite() && min_effect >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "min_effect",
            value: min_effect,
            expected: "finite and >= 0",
        });
    }
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(Error::InvalidParameter {
            name: "alpha",
            value: alpha,
            expected: "in (0, 1)",
        });
    }
    let (diff, p_value) = (comparison.diff(), comparison.p_value());
    // NaN fails both checks, so a broken comparison never promotes.
    let big_enough = diff >= min_effect;
    let significant = p_value < alpha;
    let reason = if !big_enough {
        PromotionReason::EffectTooSmall { diff, min_effect }
    } else if !significant {
        PromotionReason::NotSignificant { p_value, alpha }
    } else {
        PromotionReason::Better { diff, p_value }
    };
    Ok(PromotionDecision {
        promote: matches!(reason, PromotionReason::Better { .. }),
        reason,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::metrics::{log_loss, roc_auc};

    fn data(n: usize, seed: u64) -> (Vec<bool>, Vec<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let y: Vec<bool> = (0..n).map(|_| rng.r#gen::<f64>() < 0.4).collect();
        let a = y
            .iter()
            .map(|&t| (rng.r#gen::<f64>() + if t { 0.3 } else { 0.0 }) / 1.3)
            .collect();
        let b = y
            .iter()
            .map(|&t| (rng.r#gen::<f64>() + if t { 0.8 } else { 0.0 }) / 1.8)
            .collect();
        (y, a, b)
    }

    #[test]
    fn midranks_average_ties() {
        assert_eq!(midranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(midranks(&[0.0, -0.0]), vec![1.5, 1.5]);
    }

    #[test]
    fn delong_errors() {
        assert_eq!(
            delong(&[], &[], &[]),
            Err(Error::EmptyInput { what: "y_true" })
        );
        assert!(matches!(
            delong(&[true, false], &[0.1, 0.2], &[0.1]),
            Err(Error::LengthMismatch {
                right: "scores_b",
                right_len: 1,
                ..
            })
        ));
        assert!(matches!(
            delong(&[true, false], &[0.1, f64::NAN], &[0.1, 0.2]),
            Err(Error::NonFiniteScore {
                what: "scores_a",
                index: 1,
                ..
            })
        ));
        assert_eq!(
            delong(&[true, false, false], &[0.1, 0.2, 0.3], &[0.3, 0.2, 0.1]),
            Err(Error::TooFewPerClass {
                test: "DeLong's test",
                min: 2,
                positives: 1,
                negatives: 2
            })
        );
    }

    #[test]
    fn delong_identical_models_and_agreement_with_roc_auc() {
        let (y, a, b) = data(300, 1);
        let same = delong(&y, &a, &a).unwrap();
        assert_eq!(
            (same.diff, same.se, same.z, same.p_value),
            (0.0, 0.0, 0.0, 1.0)
        );
        let c = delong(&y, &a, &b).unwrap();
        assert!((c.auc_a - roc_auc(&y, &a).unwrap()).abs() < 1e-12);
        assert!((c.auc_b - roc_auc(&y, &b).unwrap()).abs() < 1e-12);
        assert!(c.diff > 0.0 && c.se > 0.0 && c.ci95.0 < c.diff && c.diff < c.ci95.1);
        // swapping the models flips the sign and keeps the p-value
        let s = delong(&y, &b, &a).unwrap();
        assert_eq!(s.diff, -c.diff);
        assert!((s.p_value - c.p_value).abs() < 1e-15);
    }

    #[test]
    fn bootstrap_is_deterministic_and_sane() {
        let (y, a, b) = data(200, 2);
        let r1 = paired_bootstrap(&y, &a, &b, roc_auc, 200, 7).unwrap();
        let r2 = paired_bootstrap(&y, &a, &b, roc_auc, 200, 7).unwrap();
        assert_eq!(r1, r2);
        let r3 = paired_bootstrap(&y, &a, &b, roc_auc, 200, 8).unwrap();
        assert_ne!(r1.ci_low, r3.ci_low);
        assert!(r1.ci_low <= r1.diff && r1.diff <= r1.ci_high);
        assert!(r1.diff > 0.0 && r1.p_value < 0.05);
        // identical models: every resampled difference is exactly 0, counted as "not better"
        let same = paired_bootstrap(&y, &a, &a, roc_auc, 50, 7).unwrap();
        assert_eq!(
            (same.diff, same.ci_low, same.ci_high, same.p_value),
            (0.0, 0.0, 0.0, 1.0)
        );
        // a loss, negated so that higher is better
        let neg_loss = |y: &[bool], s: &[f64]| log_loss(y, s).map(|v| -v);
        assert!(paired_bootstrap(&y, &a, &b, neg_loss, 20, 1).is_ok());
    }

    #[test]
    fn bootstrap_errors() {
        let (y, a, b) = data(20, 3);
        assert!(matches!(
            paired_bootstrap(&y, &a, &b, roc_auc, 0, 1),
            Err(Error::InvalidParameter {
                name: "n_resamples",
                ..
            })
        ));
        assert!(matches!(
            paired_bootstrap(&y, &a, &b[..3], roc_auc, 10, 1),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            paired_bootstrap(&[true, true], &[0.1, 0.2], &[0.2, 0.1], roc_auc, 10, 1),
            Err(Error::SingleClass { .. })
        ));
        assert!(matches!(
            paired_bootstrap(&y, &a, &b, |_: &[bool], _: &[f64]| Ok(f64::NAN), 10, 1),
            Err(Error::NonFiniteScore { what: "metric", .. })
        ));
        let mut bad = b.clone();
        bad[4] = f64::INFINITY;
        assert!(matches!(
            paired_bootstrap(&y, &a, &bad, roc_auc, 10, 1),
            Err(Error::NonFiniteScore {
                what: "scores_b",
                index: 4,
                ..
            })
        ));
    }

    #[test]
    fn promotion_rule() {
        let mk = |diff: f64, p_value: f64| BootstrapComparison {
            metric_a: 0.7,
            metric_b: 0.7 + diff,
            diff,
            ci_low: diff - 0.01,
            ci_high: diff + 0.01,
            p_value,
            n_resamples: 100,
        };
        let d = challenger_better(&mk(0.05, 0.01), 0.02, 0.05).unwrap();
        assert!(d.promote);
        assert_eq!(
            d.reason,
            PromotionReason::Better {
                diff: 0.05,
                p_value: 0.01
            }
        );
        let d = challenger_better(&mk(0.01, 0.01), 0.02, 0.05).unwrap();
        assert!(!d.promote);
        assert!(matches!(d.reason, PromotionReason::EffectTooSmall { .. }));
        let d = challenger_better(&mk(-0.05, 0.0), 0.0, 0.05).unwrap();
        assert!(matches!(d.reason, PromotionReason::EffectTooSmall { .. }));
        let d = challenger_better(&mk(0.05, 0.2), 0.02, 0.05).unwrap();
        assert_eq!(
            d.reason,
            PromotionReason::NotSignificant {
                p_value: 0.2,
                alpha: 0.05
            }
        );
        // a NaN comparison never promotes
        assert!(
            !challenger_better(&mk(f64::NAN, 0.0), 0.0, 0.05)
                .unwrap()
                .promote
        );
        assert!(
            !challenger_better(&mk(0.05, f64::NAN), 0.0, 0.05)
                .unwrap()
                .promote
        );
        for bad in [-0.1, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                challenger_better(&mk(0.05, 0.01), bad, 0.05),
                Err(Error::InvalidParameter {
                    name: "min_effect",
                    ..
                })
            ));
        }
        for bad in [0.0, 1.0, f64::NAN] {
            assert!(matches!(
                challenger_better(&mk(0.05, 0.01), 0.0, bad),
                Err(Error::InvalidParameter { name: "alpha", .. })
            ));
        }
        let (y, a, b) = data(400, 4);
        let c = delong(&y, &a, &b).unwrap();
        assert!(challenger_better(&c, 0.01, 0.05).unwrap().promote);
        let json = serde_json::to_string(&challenger_better(&c, 0.01, 0.05).unwrap()).unwrap();
        let back: PromotionDecision = serde_json::from_str(&json).unwrap();
        assert!(back.promote);
    }
}
