//! The closed loop: watch the champion's inputs and outcomes, decide with a retrain policy,
//! retrain on fresh data with the same spec, compare challenger and champion on one holdout with
//! DeLong's test, register the challenger and promote it only when it wins. Every decision, with
//! its evidence, is logged to the registry (as a run, whose event is in the hash-chained audit
//! log), and every registration and alias move names that decision in its reason.
//!
//! The loop is fed, not wired: pass it the live inputs (`observe_inputs`) and the joined
//! outcomes (`observe_outcome`, e.g. from `mlops_serve`'s label joiner), then call
//! [`RetrainLoop::step`] when you want a decision (on a timer, every N outcomes, ...).

use mlops_data::BatchStream;
use mlops_data::arrow::RecordBatch;
use mlops_monitor::performance::{Metric, Window};
use mlops_monitor::{
    Adwin, DatasetDriftOptions, DriftConfig, DriftDetector, DriftStatus, Evidence, RetrainDecision,
    RetrainPolicy, StreamDrift, WindowedClassificationMonitor,
};
use mlops_registry::{Registry, RunRecord, VersionRef};
use mlops_train::compare::{PromotionDecision, challenger_better, delong};
use mlops_train::{ModelBundle, TrainSpec};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::lifecycle::{load_bundle, register_outcome};

/// How the loop decides and gates.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// The registered model.
    pub model: String,
    /// The alias that marks the champion (default `champion`).
    pub alias: String,
    /// When to retrain.
    pub policy: RetrainPolicy,
    /// Drift test configuration.
    pub drift: DriftConfig,
    /// Which columns and how much of the live data the drift check reads.
    pub drift_options: DatasetDriftOptions,
    /// Outcome window of the performance monitor (default the last 2 000).
    pub window: Window,
    /// Minimum ROC-AUC gain of the challenger (default 0.0).
    pub min_auc_gain: f64,
    /// Significance level of DeLong's test (default 0.05).
    pub alpha: f64,
    /// Actor name written to the audit log.
    pub actor: String,
    /// Most live input rows kept for the next drift check (default 50 000): when more arrive
    /// before a promotion clears them, the oldest are dropped, so a loop that keeps its
    /// champion for a long time holds bounded memory.
    pub max_live_rows: usize,
}

impl LoopConfig {
    /// Defaults for `model`: promote via `champion`, retrain when accuracy over the last 2 000
    /// outcomes falls below 0.90, or half of the columns drift, or ADWIN flags the error stream.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            alias: "champion".to_string(),
            policy: RetrainPolicy::any([
                RetrainPolicy::metric_below(Metric::Accuracy, 0.90, 500),
                RetrainPolicy::dataset_drift(),
                RetrainPolicy::detector("adwin_error"),
            ]),
            drift: DriftConfig::default(),
            drift_options: DatasetDriftOptions::default(),
            window: Window::Count(2_000),
            min_auc_gain: 0.0,
            alpha: 0.05,
            actor: "retrain-loop".to_string(),
            max_live_rows: 50_000,
        }
    }
}

/// What a retraining round did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundOutcome {
    /// The champion version before the round.
    pub champion: u64,
    /// The registered challenger version.
    pub challenger: u64,
    /// Champion ROC-AUC on the holdout.
    pub champion_auc: f64,
    /// Challenger ROC-AUC on the holdout.
    pub challenger_auc: f64,
    /// DeLong p-value of the difference.
    pub p_value: f64,
    /// The gate's decision.
    pub promotion: PromotionDecision,
    /// Whether the alias moved.
    pub promoted: bool,
    /// The run id of the logged decision.
    pub decision_run: String,
}

/// The retraining loop's state.
pub struct RetrainLoop<'r> {
    registry: &'r Registry,
    config: LoopConfig,
    champion: (u64, ModelBundle),
    performance: WindowedClassificationMonitor,
    error_detector: Adwin,
    live: Vec<RecordBatch>,
    live_rows: usize,
    labelled_since_training: u64,
    last_trained_ms: u64,
    last_drift: Option<StreamDrift>,
}

impl std::fmt::Debug for RetrainLoop<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetrainLoop")
            .field("model", &self.config.model)
            .field("champion", &self.champion.0)
            .field("live_rows", &self.live_rows)
            .finish()
    }
}

static SNAPSHOT_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl<'r> RetrainLoop<'r> {
    /// Starts a loop on the version `config.alias` points at.
    ///
    /// # Errors
    /// Registry and bundle errors (e.g. the alias does not exist), invalid config.
    pub fn new(registry: &'r Registry, config: LoopConfig) -> Result<Self, Error> {
        config.policy.check()?;
        let (v, bundle) = load_bundle(registry, &config.model, VersionRef::Alias(&config.alias))?;
        let performance = WindowedClassificationMonitor::new(config.window, bundle.threshold)?;
        Ok(Self {
            registry,
            champion: (v.version, bundle),
            performance,
            error_detector: Adwin::default(),
            live: Vec::new(),
            live_rows: 0,
            labelled_since_training: 0,
            last_trained_ms: v.registered_ms,
            last_drift: None,
            config,
        })
    }

    /// The champion's version and bundle.
    pub fn champion(&self) -> (u64, &ModelBundle) {
        (self.champion.0, &self.champion.1)
    }

    /// The latest drift check, if any.
    pub fn last_drift(&self) -> Option<&StreamDrift> {
        self.last_drift.as_ref()
    }

    /// The performance monitor over joined outcomes.
    pub fn performance(&self) -> &WindowedClassificationMonitor {
        &self.performance
    }

    /// Records live inputs (the rows the champion scored) for the next drift check. At most
    /// [`LoopConfig::max_live_rows`] of the newest rows are kept.
    pub fn observe_inputs(&mut self, batch: RecordBatch) {
        if batch.num_rows() == 0 {
            return;
        }
        self.live_rows += batch.num_rows();
        self.live.push(batch);
        let max = self.config.max_live_rows.max(1);
        while self.live_rows > max {
            let Some(first) = self.live.first() else {
                break;
            };
            let excess = self.live_rows - max;
            if first.num_rows() <= excess {
                self.live_rows -= first.num_rows();
                self.live.remove(0);
            } else {
                let kept = first.slice(excess, first.num_rows() - excess);
                self.live[0] = kept;
                self.live_rows -= excess;
            }
        }
    }

    /// How many live input rows are kept for the next drift check.
    pub fn live_rows(&self) -> usize {
        self.live_rows
    }

    /// Records one joined outcome: the champion's probability and the true label.
    ///
    /// # Errors
    /// A non-finite probability.
    pub fn observe_outcome(
        &mut self,
        timestamp_ms: u64,
        probability: f64,
        label: bool,
    ) -> Result<(), Error> {
        self.performance.observe(timestamp_ms, label, probability)?;
        let wrong = (probability >= self.champion.1.threshold) != label;
        self.error_detector.update(if wrong { 1.0 } else { 0.0 });
        self.labelled_since_training += 1;
        Ok(())
    }

    /// Builds the evidence (drift of the live inputs against the champion's training profile,
    /// the outcome window, the error-stream detector, volume, age), evaluates the policy and logs
    /// the decision with its evidence as a run. Returns the decision and its run id.
    ///
    /// # Errors
    /// Drift and registry errors.
    pub fn decide(&mut self) -> Result<(RetrainDecision, String), Error> {
        let mut evidence = Evidence::at(now_ms())
            .with_last_trained_ms(self.last_trained_ms)
            .with_new_labelled_rows(self.labelled_since_training)
            .with_performance(self.performance.metrics())
            .with_detector("adwin_error", &self.error_detector);
        if let Some(first) = self.live.first() {
            let stream = BatchStream::from_batches(first.schema(), self.live.clone());
            let drift = mlops_monitor::drift_against_profile(
                &self.champion.1.reference_profile,
                stream,
                &self.config.drift,
                &self.config.drift_options,
            )?;
            evidence = evidence.with_dataset_drift(&drift.drift);
            self.last_drift = Some(drift);
        }
        let decision = self.config.policy.evaluate(&evidence);
        let mut run = RunRecord::new(&format!("{}-decisions", self.config.model))?
            .with_param(
                "decision",
                if decision.retrain { "retrain" } else { "keep" },
            )
            .with_param("champion", self.champion.0.to_string())
            .with_param("live_rows", self.live_rows.to_string());
        for (i, t) in decision.triggers().into_iter().enumerate() {
            let key = format!("{i}.{}", t.trigger.name());
            run = run.with_param(format!("trigger.{key}"), truncate(&t.reason, 4000));
            run = run.with_param(format!("fired.{key}"), t.fired.to_string());
            if let Some(v) = t.observed.filter(|v| v.is_finite()) {
                run = run.with_metric(format!("observed.{key}"), v);
            }
            if let Some(v) = t.threshold.filter(|v| v.is_finite()) {
                run = run.with_metric(format!("threshold.{key}"), v);
            }
        }
        if let Some(d) = &self.last_drift {
            run = run.with_metric("drift.share_drifted", d.drift.share_drifted);
            for c in d.drift.columns.iter().filter(|c| c.drifted()) {
                run = run.with_param(format!("drifted.{}", c.column), "true");
            }
        }
        let summary = self.registry.log_run(
            &run,
            &truncate(&format!("retrain policy: {}", decision.reason), 4000),
        )?;
        Ok((decision, summary.run.to_string()))
    }

    /// Retrains with `spec` on `fresh` (stored as the challenger's dataset snapshot, so the
    /// version can be reproduced), scores champion and challenger on the same `holdout`
    /// (labels from the spec's label column), registers the challenger and promotes it (moves
    /// the alias, compare-and-set on the current champion) only when DeLong's test says it is
    /// better by at least `min_auc_gain` at `alpha`. `decision_run` names the decision that
    /// triggered the round (see [`RetrainLoop::decide`]).
    ///
    /// # Errors
    /// Training, comparison and registry errors; a concurrent alias move is a registry conflict
    /// error and nothing is promoted.
    pub fn retrain(
        &mut self,
        spec: &TrainSpec,
        fresh: &RecordBatch,
        holdout: &RecordBatch,
        decision_run: &str,
    ) -> Result<RoundOutcome, Error> {
        let outcome = spec.train(fresh)?;
        let challenger_bundle = outcome.bundle.clone();
        let (y, _) = mlops_train::trainer::binary_labels(
            holdout,
            &self.champion.1.label.column,
            &self.champion.1.label.positive,
        )?;
        let p_champion = self.champion.1.predict_proba(holdout)?;
        let p_challenger = challenger_bundle.predict_proba(holdout)?;
        let cmp = delong(&y, &p_champion, &p_challenger)?;
        let promotion = challenger_better(&cmp, self.config.min_auc_gain, self.config.alpha)?;
        let reason = format!(
            "challenger for decision run {decision_run}: holdout AUC {:.4} vs champion v{} {:.4} (DeLong p={:.3e}); gate: {:?}",
            cmp.auc_b, self.champion.0, cmp.auc_a, cmp.p_value, promotion.reason
        );
        // The fresh data becomes the challenger's dataset snapshot (as Parquet; the fingerprint is
        // format-independent), so `lifecycle::reproduce` can retrain it bit for bit later.
        let snapshot = std::env::temp_dir().join(format!(
            "mlops-retrain-{}-{}.parquet",
            std::process::id(),
            SNAPSHOT_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        mlops_data::ingest::write_parquet_path(
            &snapshot,
            BatchStream::from_batches(fresh.schema(), vec![fresh.clone()]),
            &mlops_data::ingest::ParquetWriteOptions::default(),
        )?;
        let registered = register_outcome(
            self.registry,
            &self.config.model,
            outcome,
            Some(&snapshot),
            &truncate(&reason, 4000),
        );
        let _ = std::fs::remove_file(&snapshot);
        let registered = registered?;
        let challenger = registered.version.version;
        let mut promoted = false;
        if promotion.promote {
            self.registry.set_alias(
                &self.config.model,
                &self.config.alias,
                challenger,
                Some(self.champion.0),
                &truncate(&format!("promoted: {reason}"), 4000),
            )?;
            promoted = true;
        }
        let result = RoundOutcome {
            champion: self.champion.0,
            challenger,
            champion_auc: cmp.auc_a,
            challenger_auc: cmp.auc_b,
            p_value: cmp.p_value,
            promotion,
            promoted,
            decision_run: decision_run.to_string(),
        };
        if promoted {
            self.champion = (challenger, challenger_bundle);
            self.performance =
                WindowedClassificationMonitor::new(self.config.window, self.champion.1.threshold)?;
            self.error_detector = Adwin::default();
            self.live.clear();
            self.live_rows = 0;
            self.last_drift = None;
        }
        self.labelled_since_training = 0;
        self.last_trained_ms = now_ms();
        Ok(result)
    }

    /// Whether the error-stream detector currently reports drift.
    pub fn error_drift(&self) -> bool {
        self.error_detector.status() == DriftStatus::Drift
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
