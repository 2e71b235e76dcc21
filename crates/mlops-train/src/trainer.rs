//! One call from a table to a [`ModelBundle`]: labels, a stratified train/validation/test split,
//! the pipeline fitted on the training rows, candidates compared on the validation rows, test
//! metrics, the signature, the reference profile, fingerprints and the report.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use mlops_data::BatchStream;
use mlops_data::arrow::RecordBatch;
use mlops_data::pipeline::Pipeline;
use mlops_data::profile::{ProfileOptions, profile_batch};
use mlops_data::schema::{InferOptions, TableSchema};
use mlops_data::split::{SplitRatios, label_values, take_rows, train_val_test_split};
use serde::{Deserialize, Serialize};

use crate::bundle::{LabelSpec, ModelBundle};
use crate::error::{Class, Error, Result};
use crate::estimator::{DecisionTree, LogisticRegression, TrainingSet};
use crate::metrics::BinaryMetrics;
use crate::report::{
    CodeVersion, DatasetRef, Environment, LINFA_VERSION, REPORT_FORMAT, RowCounts, TrainingReport,
    TrainingSummary,
};
use crate::select::{Candidate, Selection, SelectionMetric, select_on_validation};

/// How to train. Serialisable: a [`TrainSpec`] (this plus the estimators) is stored inside every
/// bundle trained through it, so the bundle says how to reproduce itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The label column.
    pub label: String,
    /// The label value that means "positive" (compared as text: `"yes"`, `"1"`, `"true"`).
    pub positive: String,
    /// The preprocessing pipeline (fitted on the training rows only).
    pub pipeline: Pipeline,
    /// Train/validation/test ratios (default 0.7/0.15/0.15, stratified on the label).
    pub split: SplitRatios,
    /// Seed of the split (and of anything else random).
    pub seed: u64,
    /// Metric that selects among candidates on the validation rows (default ROC-AUC).
    pub metric: SelectionMetric,
    /// Decision threshold on P(positive) (default 0.5).
    pub threshold: f64,
    /// Schema inference options for the signature.
    pub infer: InferOptions,
    /// Whether the signature records the numeric ranges seen in training (default `false`:
    /// live data may legitimately leave the training range; declare hard domains yourself).
    pub signature_ranges: bool,
    /// Profile options for the reference profile.
    pub profile: ProfileOptions,
    /// The code version to record (see [`CodeVersion::detect`]).
    pub code: Option<CodeVersion>,
}

impl TrainConfig {
    /// A configuration with defaults for everything but the label and the pipeline.
    pub fn new(label: impl Into<String>, positive: impl Into<String>, pipeline: Pipeline) -> Self {
        Self {
            label: label.into(),
            positive: positive.into(),
            pipeline,
            split: SplitRatios {
                train: 0.7,
                validation: 0.15,
                test: 0.15,
            },
            seed: 0,
            metric: SelectionMetric::RocAuc,
            threshold: 0.5,
            infer: InferOptions::default(),
            signature_ranges: false,
            profile: ProfileOptions::default(),
            code: None,
        }
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets the split ratios.
    pub fn split(mut self, split: SplitRatios) -> Self {
        self.split = split;
        self
    }
    /// Sets the selection metric.
    pub fn metric(mut self, metric: SelectionMetric) -> Self {
        self.metric = metric;
        self
    }
    /// Sets the code version recorded in the bundle.
    pub fn code(mut self, code: Option<CodeVersion>) -> Self {
        self.code = code;
        self
    }
}

/// A built-in estimator's parameters, as data (custom [`Estimator`](crate::Estimator)s cannot
/// be stored in a spec; train them with [`train`] directly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EstimatorSpec {
    /// A logistic regression.
    Logistic(LogisticRegression),
    /// A decision tree.
    Tree(DecisionTree),
}

impl EstimatorSpec {
    /// The checked estimator as a candidate.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for invalid parameters.
    pub fn candidate(&self) -> Result<Candidate> {
        Ok(match self {
            EstimatorSpec::Logistic(p) => Candidate::new(Box::new(p.check()?)),
            EstimatorSpec::Tree(p) => Candidate::new(Box::new(p.check()?)),
        })
    }
}

/// Everything needed to retrain a bundle bit for bit from its dataset: the configuration and
/// the candidate estimators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    /// The configuration (label, pipeline, split, seed, ...).
    pub config: TrainConfig,
    /// The candidates, in preference order (ties go to the earlier one).
    pub estimators: Vec<EstimatorSpec>,
}

impl TrainSpec {
    /// Trains with [`train`] and records this spec in the bundle and report.
    ///
    /// # Errors
    /// As [`train`]; [`Error::NoCandidates`] without estimators.
    pub fn train(&self, data: &RecordBatch) -> Result<TrainOutcome> {
        let candidates = self
            .estimators
            .iter()
            .map(EstimatorSpec::candidate)
            .collect::<Result<Vec<_>>>()?;
        let mut out = train(&self.config, data, &candidates)?;
        out.bundle.training.spec = Some(self.clone());
        out.report.summary.spec = Some(self.clone());
        Ok(out)
    }
}

/// The held-out test rows' labels and the chosen model's probabilities (for champion vs
/// challenger comparisons on the same rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    /// Row indices of the test part in the input table.
    pub rows: Vec<usize>,
    /// Their labels.
    pub y: Vec<bool>,
    /// The chosen model's P(positive).
    pub probabilities: Vec<f64>,
}

/// What [`train`] returns.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The bundle (deterministic for the same data, config and seed).
    pub bundle: ModelBundle,
    /// The full report (with durations and environment) for the registry's run.
    pub report: TrainingReport,
    /// The test rows and scores.
    pub holdout: Holdout,
    /// Full test metrics.
    pub test_metrics: BinaryMetrics,
}

/// Binary labels of `column`: `true` where the value (as text) equals `positive`.
///
/// # Errors
/// [`Error::MissingLabelColumn`], [`Error::BadLabel`] (null or a third class, naming the row),
/// [`Error::PositiveLabelAbsent`], [`Error::SingleClassTraining`], [`Error::EmptyTrainingSet`].
pub fn binary_labels(
    batch: &RecordBatch,
    column: &str,
    positive: &str,
) -> Result<(Vec<bool>, String)> {
    let values = match label_values(batch, column) {
        Ok(v) => v,
        Err(mlops_data::Error::MissingColumn { available, .. }) => {
            return Err(Error::MissingLabelColumn {
                column: column.to_string(),
                available: available.join(", "),
            });
        }
        Err(mlops_data::Error::NullValue { row, .. }) => {
            return Err(Error::BadLabel {
                column: column.to_string(),
                row: row as usize,
                reason: "the label is null".to_string(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    if values.is_empty() {
        return Err(Error::EmptyTrainingSet {
            what: "input table".to_string(),
        });
    }
    // Distinct values in order of first appearance (stops caring after the third).
    let mut distinct: Vec<(&str, usize)> = Vec::new();
    for (row, v) in values.iter().enumerate() {
        if distinct.len() < 3 && !distinct.iter().any(|(d, _)| *d == v.as_str()) {
            distinct.push((v.as_str(), row));
        }
    }
    if !distinct.iter().any(|(d, _)| *d == positive) {
        let found: BTreeSet<&str> = distinct.iter().map(|(d, _)| *d).collect();
        return Err(Error::PositiveLabelAbsent {
            column: column.to_string(),
            positive: positive.to_string(),
            found: found.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    let others: Vec<(&str, usize)> = distinct
        .iter()
        .copied()
        .filter(|(d, _)| *d != positive)
        .collect();
    if let Some((third, row)) = others.get(1) {
        return Err(Error::BadLabel {
            column: column.to_string(),
            row: *row,
            reason: format!(
                "a third class {third:?} besides {positive:?} and {:?}: a binary target has two",
                others[0].0
            ),
        });
    }
    let Some((negative, _)) = others.first().copied() else {
        return Err(Error::SingleClassTraining {
            what: format!("label column {column:?}"),
            present: Class::Positive,
            rows: values.len(),
        });
    };
    let negative = negative.to_string();
    Ok((values.iter().map(|v| v == positive).collect(), negative))
}

fn project(batch: &RecordBatch, columns: &[&str]) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut idx = Vec::with_capacity(columns.len());
    for c in columns {
        idx.push(
            schema
                .index_of(c)
                .map_err(|_| mlops_data::Error::MissingColumn {
                    column: (*c).to_string(),
                    available: schema.fields().iter().map(|f| f.name().clone()).collect(),
                })?,
        );
    }
    Ok(batch.project(&idx).map_err(mlops_data::Error::from)?)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Metrics of a [`BinaryMetrics`] as a name → value map (undefined ones left out).
pub fn metrics_map(m: &BinaryMetrics) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::from([
        ("accuracy".to_string(), m.accuracy),
        ("balanced_accuracy".to_string(), m.balanced_accuracy),
        ("precision".to_string(), m.precision),
        ("recall".to_string(), m.recall),
        ("f1".to_string(), m.f1),
        ("log_loss".to_string(), m.log_loss),
        ("brier".to_string(), m.brier),
        ("rows".to_string(), m.n as f64),
        (
            "positive_rate".to_string(),
            m.n_positive as f64 / m.n.max(1) as f64,
        ),
    ]);
    if let Some(v) = m.roc_auc {
        out.insert("roc_auc".to_string(), v);
    }
    if let Some(v) = m.average_precision {
        out.insert("average_precision".to_string(), v);
    }
    out
}

/// Trains on a stream (collected into memory first).
pub fn train_stream(
    config: &TrainConfig,
    stream: BatchStream,
    candidates: &[Candidate],
) -> Result<TrainOutcome> {
    train(config, &stream.collect_batch()?, candidates)
}

/// Trains: see the [module docs](self). With one candidate it is fitted on the training rows;
/// with several, each is fitted on the training rows and the best on the validation rows (by
/// `config.metric`) is kept. The bundle's metrics are on the test rows.
///
/// # Errors
/// Label errors (see [`binary_labels`]), a pipeline that reads the label column (a target
/// leak), split/pipeline/profile errors, fit errors, or a test part without both classes.
#[tracing::instrument(name = "train", skip_all, fields(rows = data.num_rows(), seed = config.seed))]
pub fn train(
    config: &TrainConfig,
    data: &RecordBatch,
    candidates: &[Candidate],
) -> Result<TrainOutcome> {
    let total = Instant::now();
    let mut durations = BTreeMap::new();
    if candidates.is_empty() {
        return Err(Error::NoCandidates { what: "train" });
    }
    if !(0.0..=1.0).contains(&config.threshold) {
        return Err(Error::InvalidThreshold {
            value: config.threshold,
        });
    }
    let (y, negative) = binary_labels(data, &config.label, &config.positive)?;

    let t = Instant::now();
    let split = train_val_test_split(data.num_rows(), &config.split, config.seed, Some(&y))?;
    let pick = |rows: &[usize]| -> Vec<bool> {
        rows.iter()
            .map(|&r| y.get(r).copied().unwrap_or(false))
            .collect()
    };
    let (y_train, y_val, y_test) = (
        pick(&split.train),
        pick(&split.validation),
        pick(&split.test),
    );
    let train_rows = take_rows(data, &split.train)?;
    let val_rows = take_rows(data, &split.validation)?;
    let test_rows = take_rows(data, &split.test)?;
    durations.insert("split".to_string(), ms(t));

    let t = Instant::now();
    let pipeline = config.pipeline.fit(BatchStream::from_batches(
        train_rows.schema(),
        vec![train_rows.clone()],
    ))?;
    let inputs: Vec<&str> = pipeline.input_columns();
    if inputs.contains(&config.label.as_str()) {
        return Err(mlops_data::Error::InvalidParam {
            param: "pipeline",
            reason: format!(
                "the label column {:?} is a pipeline input (target leak)",
                config.label
            ),
        }
        .into());
    }
    durations.insert("pipeline_fit".to_string(), ms(t));

    let t = Instant::now();
    let x_train = pipeline.transform(&train_rows)?;
    let x_val = pipeline.transform(&val_rows)?;
    let x_test = pipeline.transform(&test_rows)?;
    durations.insert("transform".to_string(), ms(t));

    let names = pipeline.feature_names().to_vec();
    let train_set = TrainingSet::new(x_train.data.view(), &y_train, &names)?;
    let t = Instant::now();
    let (selection, fitted): (Option<Selection>, _) = if candidates.len() > 1 {
        let val_set = TrainingSet {
            x: x_val.data.view(),
            y: &y_val,
            feature_names: &names,
        };
        let (sel, fitted) = select_on_validation(candidates, &train_set, &val_set, config.metric)?;
        (Some(sel), fitted)
    } else {
        let c = &candidates[0];
        (None, c.estimator.fit(&train_set)?)
    };
    durations.insert("model_fit".to_string(), ms(t));
    let chosen = match &selection {
        Some(s) => candidates.get(s.best).unwrap_or(&candidates[0]),
        None => &candidates[0],
    };

    let t = Instant::now();
    if y_test.is_empty() {
        return Err(Error::EmptyTrainingSet {
            what: "test part (raise the test ratio)".to_string(),
        });
    }
    let p_test = fitted.model.predict_proba(x_test.data.view())?;
    let test_metrics = BinaryMetrics::compute(&y_test, &p_test, config.threshold)?;
    let metrics = metrics_map(&test_metrics);
    durations.insert("evaluate".to_string(), ms(t));

    let t = Instant::now();
    let inputs_batch = project(data, &inputs)?;
    let mut signature = TableSchema::infer(
        BatchStream::from_batches(inputs_batch.schema(), vec![inputs_batch.clone()]),
        &config.infer,
    )?;
    for c in &mut signature.columns {
        // The pipeline imputes (or rejects) nulls itself; the signature does not forbid them
        // just because the training sample had none.
        c.nullable = true;
        if !config.signature_ranges {
            c.range = None;
        }
    }
    signature.allow_extra_columns = true;
    let train_inputs = project(&train_rows, &inputs)?;
    let reference_profile = profile_batch(&train_inputs, &config.profile)?;
    let fingerprint =
        mlops_data::fingerprint::fingerprint_batches(&data.schema(), std::slice::from_ref(data))?;
    durations.insert("signature_profile_fingerprint".to_string(), ms(t));

    let summary = TrainingSummary {
        estimator: chosen.estimator.name().to_string(),
        params: chosen.estimator.params(),
        seed: config.seed,
        datasets: vec![DatasetRef {
            role: "training-input".to_string(),
            fingerprint,
        }],
        rows: RowCounts {
            train: split.train.len(),
            validation: split.validation.len(),
            test: split.test.len(),
        },
        diagnostics: fitted.diagnostics.clone(),
        selection,
        spec: None,
        mlops_version: env!("CARGO_PKG_VERSION").to_string(),
        linfa_version: LINFA_VERSION.to_string(),
        code: config.code.clone(),
    };
    let bundle = ModelBundle {
        signature,
        label: LabelSpec {
            column: config.label.clone(),
            positive: config.positive.clone(),
            negative,
        },
        threshold: config.threshold,
        pipeline,
        model: fitted.model,
        reference_profile,
        metrics: metrics.clone(),
        training: summary.clone(),
    };
    bundle.check()?;
    durations.insert("total".to_string(), ms(total));
    let report = TrainingReport {
        format: REPORT_FORMAT.to_string(),
        summary,
        metrics,
        durations_ms: durations,
        environment: Environment::current(),
    };
    Ok(TrainOutcome {
        bundle,
        report,
        holdout: Holdout {
            rows: split.test,
            y: y_test,
            probabilities: p_test,
        },
        test_metrics,
    })
}
