//! The churn lifecycle: the README's main job, a model's whole production life in one process.
//!
//! 1. generate customer data (Parquet + CSV), validate and profile it, fingerprint both files;
//! 2. train candidates (logistic regression with a small L2 search, decision trees), select the
//!    best on validation rows, register it with its dataset snapshot, run and lineage, promote it;
//! 3. serve it in-process behind a deployment that follows the `champion` alias;
//! 4. stream two months of live traffic — a calm one, then one with data drift and a concept
//!    change — with labels arriving after the predictions;
//! 5. after each month a retrain policy decides from the evidence (drift against the training
//!    profile, accuracy and AUC of the joined outcomes, an ADWIN detector on the error stream);
//!    when it fires, a challenger is trained on fresh data, compared with the champion on one
//!    holdout with DeLong's test, registered, and promoted only if it wins;
//! 6. show the audit trail (hash chain verified), reproduce the champion bit for bit, write the
//!    HTML drift report and the model card, and print a summary.
//!
//! Run: `cargo run --release --example churn_lifecycle -- [--rows N] [--seed S] [--out DIR]`

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlops::data::arrow::RecordBatch;
use mlops::data::fingerprint::fingerprint_stream;
use mlops::data::ingest::{
    CsvOptions, ParquetOptions, read_csv_path, read_parquet_path, write_csv_path,
};
use mlops::data::profile::{ProfileOptions, profile_stream};
use mlops::data::schema::{InferOptions, TableSchema, validate};
use mlops::data::synth::{
    self, CategoryMix, ChurnConfig, ChurnGenerator, ConceptDrift, CovariateShift, DriftSpec,
};
use mlops::data::transform::ImputeStrategy;
use mlops::lifecycle;
use mlops::monitor::performance::Metric;
use mlops::monitor::{DatasetDriftOptions, DriftReport, RetrainPolicy};
use mlops::registry::{Registry, VersionRef};
use mlops::retrain::{LoopConfig, RetrainLoop};
use mlops::serve::Deployment;
use mlops::serve::events::{ChannelSink, LabelJoiner};
use mlops::serve::records_from_batch;
use mlops::train::{
    CodeVersion, DecisionTree, EstimatorSpec, LogisticRegression, TrainConfig, TrainSpec,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    rows: u64,
    seed: u64,
    out: PathBuf,
}

fn parse_args() -> Res<Args> {
    let mut args = Args {
        rows: 50_000,
        seed: 7,
        out: PathBuf::from("target/churn_lifecycle"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => args.rows = value()?.parse()?,
            "--seed" => args.seed = value()?.parse()?,
            "--out" => args.out = PathBuf::from(value()?),
            "-h" | "--help" => {
                println!(
                    "churn_lifecycle [--rows N (50000)] [--seed S (7)] [--out DIR (target/churn_lifecycle)]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if args.rows < 2_000 {
        return Err("--rows must be at least 2000".into());
    }
    Ok(args)
}

fn step(n: usize, title: &str) {
    println!("\n[{n}] {title}");
}

/// A one-line progress bar on a terminal; a few plain lines otherwise.
struct Progress {
    label: &'static str,
    total: u64,
    tty: bool,
    last: u64,
}

impl Progress {
    fn new(label: &'static str, total: u64) -> Self {
        Self {
            label,
            total: total.max(1),
            tty: std::io::stderr().is_terminal(),
            last: 0,
        }
    }
    fn set(&mut self, done: u64) {
        let pct = done * 100 / self.total;
        if self.tty {
            let filled = (pct / 4) as usize;
            eprint!(
                "\r    {} [{}{}] {done}/{} ",
                self.label,
                "=".repeat(filled),
                " ".repeat(25 - filled.min(25)),
                self.total
            );
            if done >= self.total {
                eprintln!();
            }
        } else if pct >= self.last + 50 || done >= self.total {
            self.last = pct;
            eprintln!("    {} {pct}%", self.label);
        }
        let _ = std::io::stderr().flush();
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn world(rows: u64, seed: u64, drift: DriftSpec) -> Res<RecordBatch> {
    Ok(ChurnGenerator::new(ChurnConfig {
        rows,
        seed,
        null_rate: 0.02,
        drift,
    })?
    .to_batch()?)
}

/// The changed world of month 2: pricier plans, more month-to-month contracts, and in the
/// north long-standing customers now churn more.
fn drifted() -> DriftSpec {
    DriftSpec {
        covariate_shift: vec![CovariateShift {
            column: "monthly_charges".into(),
            shift_std: 0.8,
            scale: 1.0,
        }],
        category_mix: vec![CategoryMix {
            column: "contract".into(),
            weights: vec![
                ("month-to-month".into(), 0.8),
                ("one-year".into(), 0.1),
                ("two-year".into(), 0.1),
            ],
        }],
        concept: Some(ConceptDrift {
            column: "region".into(),
            value: "north".into(),
            strength: 2.5,
        }),
    }
}

fn spec(seed: u64) -> TrainSpec {
    let mut config = TrainConfig::new(
        synth::LABEL_COLUMN,
        synth::POSITIVE_LABEL,
        synth::churn_pipeline(ImputeStrategy::Median),
    )
    .seed(seed);
    config.code = std::env::current_dir()
        .ok()
        .and_then(|d| CodeVersion::detect(&d));
    TrainSpec {
        config,
        estimators: vec![
            EstimatorSpec::Logistic(LogisticRegression::new().l2(0.1)),
            EstimatorSpec::Logistic(LogisticRegression::new().l2(1.0)),
            EstimatorSpec::Logistic(LogisticRegression::new().l2(10.0)),
            EstimatorSpec::Tree(DecisionTree::new().max_depth(Some(6))),
            EstimatorSpec::Tree(DecisionTree::new().max_depth(Some(8))),
        ],
    }
}

struct MonthResult {
    requests: u64,
    failed: u64,
    accuracy: f64,
    roc_auc: Option<f64>,
    versions: std::collections::BTreeSet<u64>,
    micros: f64,
}

/// Serves one month of traffic through the deployment; labels arrive after the predictions and
/// are joined by request id; the retraining loop sees the inputs and the joined outcomes.
fn serve_month(
    deployment: &Deployment,
    events: &std::sync::mpsc::Receiver<mlops::core::event::PredictionEvent>,
    joiner: &mut LabelJoiner,
    lp: &mut RetrainLoop<'_>,
    traffic: &RecordBatch,
    month: &str,
) -> Res<MonthResult> {
    let records = records_from_batch(traffic)?;
    let (truth, _) =
        mlops::train::trainer::binary_labels(traffic, synth::LABEL_COLUMN, synth::POSITIVE_LABEL)?;
    let mut progress = Progress::new("requests", records.len() as u64);
    let mut failed = 0u64;
    let mut versions = std::collections::BTreeSet::new();
    let t = Instant::now();
    let mut ids = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let key = format!("{month}-{i}");
        match deployment.predict(record, Some(&key)) {
            Ok(p) => {
                versions.insert(p.version);
                ids.push(Some(p.request_id));
            }
            Err(_) => {
                failed += 1;
                ids.push(None);
            }
        }
        if i % 1000 == 999 {
            progress.set(i as u64 + 1);
        }
    }
    let micros = t.elapsed().as_secs_f64() * 1e6 / records.len().max(1) as f64;
    progress.set(records.len() as u64);
    for event in events.try_iter() {
        joiner.add_prediction(&event);
    }
    lp.observe_inputs(traffic.clone());
    // The labels arrive later: join them by request id and feed the outcomes to the loop.
    let now = mlops::core::event::now_ms();
    for (id, &positive) in ids.iter().zip(&truth) {
        let Some(id) = id else { continue };
        let outcome = mlops::core::event::OutcomeEvent {
            request_id: id.clone(),
            time_ms: now,
            positive,
        };
        if let Some(j) = joiner.add_outcome(&outcome) {
            let (p, y) = j.pair();
            lp.observe_outcome(now, p, y)?;
        }
    }
    let m = lp.performance().metrics();
    Ok(MonthResult {
        requests: records.len() as u64,
        failed,
        accuracy: m.accuracy.unwrap_or(f64::NAN),
        roc_auc: lp.performance().roc_auc(),
        versions,
        micros,
    })
}

fn run() -> Res<()> {
    let args = parse_args()?;
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)?;
    let registry_dir = args.out.join("registry");
    if registry_dir.exists() {
        std::fs::remove_dir_all(&registry_dir)?;
    }
    println!(
        "mlops-rs churn lifecycle: {} customers, seed {}, output in {}",
        args.rows,
        args.seed,
        args.out.display()
    );

    step(
        1,
        "generate customer data, validate, fingerprint and profile it",
    );
    let t = Instant::now();
    let generator = ChurnGenerator::new(ChurnConfig {
        rows: args.rows,
        seed: args.seed,
        ..ChurnConfig::default()
    })?;
    let parquet = args.out.join("customers.parquet");
    let csv = args.out.join("customers.csv");
    generator.write_parquet(&parquet, 65_536)?;
    write_csv_path(&csv, generator.batches(65_536)?)?;
    let read = || read_parquet_path(&parquet, &ParquetOptions::default());
    let schema = TableSchema::infer(read()?, &InferOptions::default())?;
    let report = validate(&schema, read()?)?;
    let fp_parquet = fingerprint_stream(read()?)?;
    let fp_csv = fingerprint_stream(read_csv_path(&csv, &CsvOptions::default())?)?;
    let profile = profile_stream(read()?, &ProfileOptions::default())?;
    let churn_rate = profile
        .column(synth::LABEL_COLUMN)
        .and_then(|c| c.as_categorical())
        .map(|c| {
            c.top(2)
                .iter()
                .find(|(k, _)| *k == synth::POSITIVE_LABEL)
                .map_or(0.0, |(_, v)| *v as f64 / args.rows as f64)
        })
        .unwrap_or(f64::NAN);
    println!(
        "    {} rows × {} columns in {:.2?}; validation: {}; churn rate {:.3}",
        report.rows,
        schema.columns.len(),
        t.elapsed(),
        if report.is_valid() {
            "no violations"
        } else {
            "VIOLATIONS"
        },
        churn_rate
    );
    println!(
        "    fingerprint {} — Parquet and CSV {}",
        fp_parquet.hash,
        if fp_parquet.hash == fp_csv.hash {
            "agree"
        } else {
            "DIFFER"
        }
    );

    step(
        2,
        "train candidates, select on validation rows, register and promote",
    );
    let t = Instant::now();
    let registry = Arc::new(Registry::open(&registry_dir)?);
    let model = "churn";
    let v1 = lifecycle::train_and_register(
        &registry,
        model,
        &spec(args.seed),
        &parquet,
        "initial training",
    )?;
    let b1 = &v1.outcome.bundle;
    if let Some(sel) = &b1.training.selection {
        for c in &sel.candidates {
            println!("    {:<62} validation AUC {:.4}", c.label, c.score);
        }
        println!("    -> {}", sel.reason);
    }
    println!(
        "    registered {model}@{} in {:.2?}: test AUC {:.4}, accuracy {:.4} on {} held-out rows",
        v1.version.version,
        t.elapsed(),
        b1.metrics.get("roc_auc").copied().unwrap_or(f64::NAN),
        b1.metrics.get("accuracy").copied().unwrap_or(f64::NAN),
        b1.training.rows.test
    );
    registry.set_alias(model, "champion", v1.version.version, None, "first model")?;
    let champion_auc = b1.metrics.get("roc_auc").copied().unwrap_or(0.8);
    let champion_accuracy = b1.metrics.get("accuracy").copied().unwrap_or(0.8);

    step(3, "serve in-process, following the champion alias");
    let deployment = Arc::new(Deployment::from_registry(
        &registry,
        model,
        VersionRef::Alias("champion"),
    )?);
    let (sink, events) = ChannelSink::new(1 << 20);
    deployment.add_sink(Arc::new(sink));
    let follower = deployment.follow_alias(
        Arc::clone(&registry),
        model,
        "champion",
        Duration::from_millis(50),
    )?;
    let mut joiner = LabelJoiner::new(1 << 20);
    let mut config = LoopConfig::new(model);
    config.policy = RetrainPolicy::any([
        RetrainPolicy::metric_below(Metric::Accuracy, champion_accuracy - 0.03, 500),
        RetrainPolicy::metric_below(Metric::RocAuc, champion_auc - 0.03, 500),
        RetrainPolicy::drifted_share(0.1),
    ]);
    config.drift_options = DatasetDriftOptions {
        exclude: vec![synth::ID_COLUMN.into(), synth::LABEL_COLUMN.into()],
        ..DatasetDriftOptions::default()
    };
    let mut lp = RetrainLoop::new(&registry, config)?;
    println!(
        "    serving {model}@{}; policy: accuracy < {:.3} or AUC < {:.3} over ≥500 outcomes, or ≥10% of columns drifted",
        deployment.current().version(),
        champion_accuracy - 0.03,
        champion_auc - 0.03
    );

    let month_rows = (args.rows / 2).max(1_000);
    let mut summary = Vec::new();
    let mut final_drift = None;
    for (month, drift) in [("month 1", DriftSpec::default()), ("month 2", drifted())] {
        let n = if month == "month 1" { 4 } else { 5 };
        step(
            n,
            &format!("{month}: live traffic ({month_rows} requests), labels arrive later"),
        );
        let seed = args.seed + if month == "month 1" { 100 } else { 200 };
        let traffic = world(month_rows, seed, drift.clone())?;
        let r = serve_month(&deployment, &events, &mut joiner, &mut lp, &traffic, month)?;
        println!(
            "    {} requests, {} failed, {:.1} µs each; served by version(s) {:?}",
            r.requests, r.failed, r.micros, r.versions
        );
        println!(
            "    joined outcomes: accuracy {:.4}, AUC {}",
            r.accuracy,
            r.roc_auc.map_or("-".to_string(), |a| format!("{a:.4}"))
        );
        let (decision, run) = lp.decide()?;
        if let Some(d) = lp.last_drift() {
            let cols: Vec<&str> = d
                .drift
                .columns
                .iter()
                .filter(|c| c.drifted())
                .map(|c| c.column.as_str())
                .collect();
            println!(
                "    drift vs training profile: {} of {} columns ({})",
                d.drift.n_drifted,
                d.drift.columns.len(),
                if cols.is_empty() {
                    "none".to_string()
                } else {
                    cols.join(", ")
                }
            );
            final_drift = Some(d.clone());
        }
        println!(
            "    policy: {} — {}",
            if decision.retrain { "RETRAIN" } else { "keep" },
            decision.reason
        );
        let mut line = format!(
            "{month}: acc {:.3}, auc {}, decision {}",
            r.accuracy,
            r.roc_auc.map_or("-".to_string(), |a| format!("{a:.3}")),
            if decision.retrain { "retrain" } else { "keep" }
        );
        if decision.retrain {
            let t = Instant::now();
            let fresh = world(args.rows, seed + 1, drift.clone())?;
            let holdout = world(month_rows, seed + 2, drift.clone())?;
            let round = lp.retrain(&spec(seed), &fresh, &holdout, &run)?;
            println!(
                "    challenger {model}@{} vs champion @{} on {} holdout rows: AUC {:.4} vs {:.4}, DeLong p = {:.2e} -> {} ({:.2?})",
                round.challenger,
                round.champion,
                holdout.num_rows(),
                round.challenger_auc,
                round.champion_auc,
                round.p_value,
                if round.promoted {
                    "PROMOTED"
                } else {
                    "champion kept"
                },
                t.elapsed()
            );
            line.push_str(&format!(
                ", challenger v{} auc {:.3} vs {:.3} -> {}",
                round.challenger,
                round.challenger_auc,
                round.champion_auc,
                if round.promoted {
                    "promoted"
                } else {
                    "kept champion"
                }
            ));
            // The deployment follows the alias: wait for the swap.
            let target = lp.champion().0;
            let deadline = Instant::now() + Duration::from_secs(5);
            while deployment.current().version() != target && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            println!(
                "    deployment now serves {model}@{} (alias followed, {} reload(s))",
                deployment.current().version(),
                follower.reloads()
            );
        }
        summary.push(line);
    }

    step(
        6,
        "after the swap: the changed world, served by the new champion",
    );
    let after = world(month_rows, args.seed + 300, drifted())?;
    let probe = deployment.current();
    let p_new = probe.bundle().predict_proba(&after)?;
    let (y_after, _) =
        mlops::train::trainer::binary_labels(&after, synth::LABEL_COLUMN, synth::POSITIVE_LABEL)?;
    let (_, first) = lifecycle::load_bundle(&registry, model, VersionRef::Number(1))?;
    let p_old = first.predict_proba(&after)?;
    println!(
        "    fresh drifted month: AUC of v1 {:.4}, of the serving v{} {:.4}",
        mlops::train::metrics::roc_auc(&y_after, &p_old)?,
        probe.version(),
        mlops::train::metrics::roc_auc(&y_after, &p_new)?
    );

    step(7, "audit trail, verification, reproduction, reports");
    let events_log = registry.events()?;
    for e in events_log.iter().rev().take(8).rev() {
        println!(
            "    #{:<3} {:<16} {:<10} {}",
            e.seq,
            e.action.kind(),
            e.target,
            e.reason.chars().take(80).collect::<String>()
        );
    }
    let verify = registry.verify()?;
    println!(
        "    {} events; hash chain and blobs verified: {}",
        events_log.len(),
        if verify.is_ok() { "OK" } else { "FAILED" }
    );
    let scratch = args.out.join("scratch");
    std::fs::create_dir_all(&scratch)?;
    let repro = lifecycle::reproduce(
        &registry,
        model,
        VersionRef::Number(1),
        std::env::current_dir()
            .ok()
            .and_then(|d| CodeVersion::detect(&d)),
        &scratch,
    )?;
    println!(
        "    reproduce {model}@1 from its dataset snapshot: {}",
        if repro.identical {
            format!("bit-identical bundle ({})", repro.stored)
        } else {
            format!(
                "DIFFERENT ({} vs {}; differs in {})",
                repro.stored,
                repro.retrained,
                repro.differences.join(", ")
            )
        }
    );
    let card = registry.model_card(model, VersionRef::Alias("champion"))?;
    let card_path = args.out.join("model_card.md");
    std::fs::write(&card_path, card)?;
    if let Some(d) = &final_drift {
        let report = DriftReport::from_stream_drift(d, "churn_lifecycle month 2");
        std::fs::write(args.out.join("drift_report.json"), report.to_json()?)?;
        std::fs::write(args.out.join("drift_report.html"), report.to_html())?;
    }
    println!(
        "    wrote {}, {} and {}",
        card_path.display(),
        args.out.join("drift_report.html").display(),
        args.out.join("drift_report.json").display()
    );
    drop(follower);

    println!("\nsummary");
    println!(
        "  v1: test AUC {:.4}, accuracy {:.4}",
        champion_auc, champion_accuracy
    );
    for line in &summary {
        println!("  {line}");
    }
    println!(
        "  champion now {model}@{}; {} audit events, chain {}; reproduction {}",
        lp.champion().0,
        events_log.len(),
        if verify.is_ok() { "valid" } else { "INVALID" },
        if repro.identical {
            "bit-identical"
        } else {
            "DIFFERENT"
        }
    );
    println!("  done in {:.2?}", started.elapsed());
    if !verify.is_ok() || !repro.identical {
        return Err("lifecycle checks failed".into());
    }
    Ok(())
}
