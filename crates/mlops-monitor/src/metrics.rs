//! Prometheus text exposition (format 0.0.4) of drift and performance results.
//!
//! Metrics written (all gauges):
//!
//! | metric | labels | value |
//! |---|---|---|
//! | `mlops_drift_score` | `column`, `test` | the test statistic |
//! | `mlops_drift_p_value` | `column`, `test` | the p-value (hypothesis tests only) |
//! | `mlops_drift_detected` | `column`, `test` | 1 if the column drifted, else 0 |
//! | `mlops_dataset_drift_share` | — | share of drifted columns |
//! | `mlops_dataset_drift_detected` | — | 1 if the dataset drifted, else 0 |
//! | `mlops_performance_metric` | `metric` | each defined metric |
//! | `mlops_performance_samples` | — | outcomes in the window |
//! | `mlops_performance_alert` | — | 1 if the status is an alert, else 0 |
//!
//! `test` is Evidently's short name of the [`TestKind`](crate::drift::TestKind): `ks`,
//! `chisquare`, `z`, `wasserstein`, `jensenshannon`, `psi`, `linf`. Every sample also carries the caller's constant labels (for example
//! `model="churn"`), which come first in sorted order. Label values are escaped (`\` → `\\`,
//! `"` → `\"`, newline → `\n`); metric and label names are validated (`[a-zA-Z_:][a-zA-Z0-9_:]*`
//! and `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`). Values use the shortest round-trip
//! form, `NaN`, `+Inf` and `-Inf`.
//!
//! ```
//! use mlops_monitor::metrics::Exposition;
//! let mut e = Exposition::new();
//! e.gauge("mlops_x", "An example.", &[(vec![("column", "a\"b")], 1.5)])?;
//! assert_eq!(
//!     e.finish(),
//!     "# HELP mlops_x An example.\n# TYPE mlops_x gauge\nmlops_x{column=\"a\\\"b\"} 1.5\n"
//! );
//! # Ok::<(), mlops_monitor::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::auto::DatasetDrift;
use crate::error::{Error, Result};
use crate::performance::{PerformanceStatus, StatusLevel};
use crate::report::DriftReport;

/// Whether `name` is a valid Prometheus metric name.
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `name` is a valid Prometheus label name (names starting with `__` are reserved).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    !name.starts_with("__") && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Escapes a label value: backslash, double quote and newline.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn escape_help(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Formats a sample value: `NaN`, `+Inf`, `-Inf`, integers without a fraction, otherwise
/// Rust's shortest round-trip representation.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

/// A sample: label pairs and a value.
pub type LabeledValue<'a> = (Vec<(&'a str, &'a str)>, f64);

/// A Prometheus text exposition being written. Write each metric family once per exposition
/// (Prometheus rejects repeated families): one [`Exposition::drift`] or [`Exposition::report`]
/// and one [`Exposition::performance`] at most.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    out: String,
    const_labels: BTreeMap<String, String>,
}

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Self::default()
    }

    /// An exposition whose every sample carries `labels` (e.g. `model`, `version`).
    ///
    /// # Errors
    /// [`Error::InvalidMetricName`] for an invalid label name.
    pub fn with_const_labels(labels: BTreeMap<String, String>) -> Result<Self> {
        for k in labels.keys() {
            if !is_valid_label_name(k) {
                return Err(Error::InvalidMetricName {
                    what: "label",
                    name: k.clone(),
                });
            }
        }
        Ok(Self {
            out: String::new(),
            const_labels: labels,
        })
    }

    /// Writes one gauge family: `# HELP`, `# TYPE` and its samples (no samples: only the header).
    ///
    /// # Errors
    /// [`Error::InvalidMetricName`] for an invalid metric or label name; nothing is written then.
    pub fn gauge(&mut self, name: &str, help: &str, samples: &[LabeledValue<'_>]) -> Result<()> {
        if !is_valid_metric_name(name) {
            return Err(Error::InvalidMetricName {
                what: "metric",
                name: name.to_owned(),
            });
        }
        for (labels, _) in samples {
            for (k, _) in labels {
                if !is_valid_label_name(k) {
                    return Err(Error::InvalidMetricName {
                        what: "label",
                        name: (*k).to_owned(),
                    });
                }
            }
        }
        let mut s = String::new();
        let _ = writeln!(s, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(s, "# TYPE {name} gauge");
        for (labels, value) in samples {
            s.push_str(name);
            let all: Vec<(&str, &str)> = self
                .const_labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(labels.iter().copied())
                .collect();
            if !all.is_empty() {
                s.push('{');
                for (i, (k, v)) in all.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    let _ = write!(s, "{k}=\"{}\"", escape_label_value(v));
                }
                s.push('}');
            }
            let _ = writeln!(s, " {}", format_value(*value));
        }
        self.out.push_str(&s);
        Ok(())
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }

    /// Writes the drift metrics of a [`DatasetDrift`].
    ///
    /// # Errors
    /// Never for the built-in names; [`Error::InvalidMetricName`] is kept for symmetry.
    pub fn drift(&mut self, drift: &DatasetDrift) -> Result<()> {
        let rows: Vec<DriftRow<'_>> = drift
            .columns
            .iter()
            .map(|c| DriftRow {
                column: &c.column,
                test: test_label(c.result.test),
                statistic: c.result.statistic,
                p_value: c.result.p_value,
                drifted: c.result.drifted,
            })
            .collect();
        self.drift_rows(&rows, drift.share_drifted, drift.drifted)
    }

    /// Writes the drift metrics of a [`DriftReport`] (the same as for its [`DatasetDrift`]).
    ///
    /// # Errors
    /// As [`Exposition::drift`].
    pub fn report(&mut self, report: &DriftReport) -> Result<()> {
        let rows: Vec<DriftRow<'_>> = report
            .columns
            .iter()
            .map(|c| DriftRow {
                column: &c.column,
                test: test_label(c.test),
                statistic: c.statistic,
                p_value: c.p_value,
                drifted: c.drifted,
            })
            .collect();
        self.drift_rows(&rows, report.dataset.share_drifted, report.dataset.drifted)
    }

    fn drift_rows(&mut self, rows: &[DriftRow<'_>], share: f64, drifted: bool) -> Result<()> {
        fn labels<'a>(r: &DriftRow<'a>) -> Vec<(&'a str, &'a str)> {
            vec![("column", r.column), ("test", r.test)]
        }
        let scores: Vec<LabeledValue<'_>> = rows.iter().map(|r| (labels(r), r.statistic)).collect();
        self.gauge(
            "mlops_drift_score",
            "Drift test statistic per column.",
            &scores,
        )?;
        let p: Vec<LabeledValue<'_>> = rows
            .iter()
            .filter_map(|r| r.p_value.map(|p| (labels(r), p)))
            .collect();
        if !p.is_empty() {
            self.gauge(
                "mlops_drift_p_value",
                "Drift test p-value per column (hypothesis tests).",
                &p,
            )?;
        }
        let d: Vec<LabeledValue<'_>> = rows
            .iter()
            .map(|r| (labels(r), if r.drifted { 1.0 } else { 0.0 }))
            .collect();
        self.gauge(
            "mlops_drift_detected",
            "1 if the column drifted, else 0.",
            &d,
        )?;
        self.gauge(
            "mlops_dataset_drift_share",
            "Share of drifted columns.",
            &[(vec![], share)],
        )?;
        self.gauge(
            "mlops_dataset_drift_detected",
            "1 if the dataset drifted, else 0.",
            &[(vec![], if drifted { 1.0 } else { 0.0 })],
        )
    }

    /// Writes the performance metrics of a [`PerformanceStatus`].
    ///
    /// # Errors
    /// As [`Exposition::drift`].
    pub fn performance(&mut self, status: &PerformanceStatus) -> Result<()> {
        let defined = status.metrics.defined();
        let samples: Vec<LabeledValue<'_>> = defined
            .iter()
            .map(|(m, v)| (vec![("metric", m.name())], *v))
            .collect();
        self.gauge(
            "mlops_performance_metric",
            "Model performance metric over the monitoring window.",
            &samples,
        )?;
        self.gauge(
            "mlops_performance_samples",
            "Labelled outcomes in the monitoring window.",
            &[(vec![], status.metrics.n as f64)],
        )?;
        self.gauge(
            "mlops_performance_alert",
            "1 if a performance threshold is violated, else 0.",
            &[(
                vec![],
                if status.level == StatusLevel::Alert {
                    1.0
                } else {
                    0.0
                },
            )],
        )
    }
}

struct DriftRow<'a> {
    column: &'a str,
    test: &'static str,
    statistic: f64,
    p_value: Option<f64>,
    drifted: bool,
}

fn test_label(t: crate::drift::TestKind) -> &'static str {
    use crate::drift::TestKind as T;
    match t {
        T::KolmogorovSmirnov => "ks",
        T::ChiSquare => "chisquare",
        T::ZTest => "z",
        T::WassersteinNormed => "wasserstein",
        T::JensenShannon => "jensenshannon",
        T::Psi => "psi",
        T::LInfinity => "linf",
    }
}

/// Renders a [`DatasetDrift`] (convenience for [`Exposition::drift`]).
///
/// # Errors
/// As [`Exposition::drift`].
pub fn render_drift(drift: &DatasetDrift) -> Result<String> {
    let mut e = Exposition::new();
    e.drift(drift)?;
    Ok(e.finish())
}

/// Renders a [`DriftReport`].
///
/// # Errors
/// As [`Exposition::drift`].
pub fn render_report(report: &DriftReport) -> Result<String> {
    let mut e = Exposition::new();
    e.report(report)?;
    Ok(e.finish())
}

/// Renders a [`PerformanceStatus`].
///
/// # Errors
/// As [`Exposition::drift`].
pub fn render_performance(status: &PerformanceStatus) -> Result<String> {
    let mut e = Exposition::new();
    e.performance(status)?;
    Ok(e.finish())
}
