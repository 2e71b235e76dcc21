//! `mlops train`, `mlops registry ...`, `mlops reproduce` and `mlops drift`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use mlops::data::ingest::{ReadOptions, read_path};
use mlops::data::schema::{InferOptions, TableSchema};
use mlops::lifecycle;
use mlops::monitor::{DatasetDriftOptions, DriftConfig, DriftReport};
use mlops::registry::{Registry, VersionRef};
use mlops::train::select::SelectionMetric;
use mlops::train::{
    CodeVersion, DecisionTree, EstimatorSpec, LogisticRegression, TrainConfig, TrainSpec,
};

use crate::{Res, print_json};

/// Which estimators `mlops train` tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelChoice {
    /// L2 logistic regression (three strengths compared on the validation rows).
    Logistic,
    /// Decision tree (three depths compared on the validation rows).
    Tree,
    /// Both families; the best on the validation rows wins.
    Auto,
}

/// Arguments of `mlops train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training data: CSV or Parquet.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// The binary target column.
    #[arg(long, value_name = "COL")]
    pub target: String,
    /// The target value that means "positive" (default: the less frequent value).
    #[arg(long, value_name = "VALUE")]
    pub positive: Option<String>,
    /// Estimator family.
    #[arg(long, value_enum, default_value_t = ModelChoice::Auto)]
    pub model: ModelChoice,
    /// Seed of the split and of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The registry directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub registry: PathBuf,
    /// Model name in the registry.
    #[arg(long)]
    pub name: String,
    /// Also point this alias at the new version (e.g. champion).
    #[arg(long)]
    pub alias: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `mlops registry ...`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// List models, or the versions of one model.
    List {
        #[command(flatten)]
        reg: RegistryArg,
        /// A model name: list its versions.
        name: Option<String>,
    },
    /// Show one version (NAME, NAME@VERSION or NAME@ALIAS).
    Show {
        #[command(flatten)]
        reg: RegistryArg,
        /// NAME, NAME@VERSION or NAME@ALIAS.
        model: String,
    },
    /// Point an alias at a version: NAME@VERSION --alias champion.
    Promote {
        #[command(flatten)]
        reg: RegistryArg,
        /// NAME@VERSION.
        model: String,
        /// The alias to move.
        #[arg(long, default_value = "champion")]
        alias: String,
        /// Why (recorded in the audit log).
        #[arg(long, default_value = "promoted from the command line")]
        reason: String,
    },
    /// Move an alias back to the version it pointed at before.
    Rollback {
        #[command(flatten)]
        reg: RegistryArg,
        /// NAME.
        name: String,
        /// The alias to move back.
        #[arg(long, default_value = "champion")]
        alias: String,
        /// Why (recorded in the audit log).
        #[arg(long, default_value = "rolled back from the command line")]
        reason: String,
    },
    /// Prove the audit log's hash chain and every referenced blob are intact (exit 1 if not).
    Verify {
        #[command(flatten)]
        reg: RegistryArg,
    },
    /// Print the audit log as JSON lines.
    Audit {
        #[command(flatten)]
        reg: RegistryArg,
    },
    /// Print the Markdown model card of a version.
    Card {
        #[command(flatten)]
        reg: RegistryArg,
        /// NAME, NAME@VERSION or NAME@ALIAS.
        model: String,
    },
    /// Delete unreferenced leftovers older than the grace period.
    Gc {
        #[command(flatten)]
        reg: RegistryArg,
        /// Grace period in seconds.
        #[arg(long, default_value_t = 3600)]
        grace_secs: u64,
    },
}

/// The registry directory and output format.
#[derive(Debug, Args)]
pub struct RegistryArg {
    /// The registry directory.
    #[arg(long, value_name = "DIR")]
    pub registry: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `mlops drift`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Reference data (CSV/Parquet), or NAME@REF of a registered model with --registry (its
    /// training profile is the reference).
    pub reference: String,
    /// Current data (CSV/Parquet).
    pub current: PathBuf,
    /// Registry for a model reference.
    #[arg(long, value_name = "DIR")]
    pub registry: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Share of drifted columns that makes the dataset drifted.
    #[arg(long, default_value_t = 0.5)]
    pub share: f64,
}

/// Arguments of `mlops reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// NAME@VERSION (or NAME@ALIAS).
    pub model: String,
    /// The registry directory.
    #[arg(long, value_name = "DIR")]
    pub registry: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `mlops score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// NAME@ALIAS or NAME@VERSION (NAME alone: the latest version).
    pub model: String,
    /// The registry directory.
    #[arg(long, value_name = "DIR")]
    pub registry: PathBuf,
    /// Rows to score: CSV or Parquet.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write inputs + prediction, probability and model_version (Parquet).
    #[arg(long, value_name = "FILE.parquet")]
    pub output: PathBuf,
    /// Skip rows that fail validation (reported with their row number) instead of failing.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `mlops score`.
pub fn score(args: ScoreArgs) -> Res<ExitCode> {
    use mlops::serve::batch::{BadRowPolicy, BatchOptions, score_file};
    let r = open_registry(&args.registry, false)?;
    let (name, which) = parse_ref(&args.model);
    let predictor = mlops::serve::deployment::load_predictor(&r, name, which)?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let options = BatchOptions {
        bad_rows: if args.skip_bad_rows {
            BadRowPolicy::Skip
        } else {
            BadRowPolicy::Fail
        },
        progress: if tty && !args.json {
            Some(Box::new(|rows| {
                let _ = write!(std::io::stderr(), "\r  scored {rows} rows");
            }))
        } else {
            None
        },
        ..BatchOptions::default()
    };
    let summary = score_file(&predictor, &args.input, &args.output, options)?;
    if tty && !args.json {
        let _ = writeln!(std::io::stderr());
    }
    if args.json {
        print_json(&serde_json::json!({
            "model": summary.model,
            "version": summary.version,
            "rows_in": summary.rows_in,
            "rows_scored": summary.rows_scored,
            "bad_row_count": summary.bad_row_count,
            "bad_rows": summary.bad_rows.iter().map(|b| serde_json::json!({"row": b.row, "reason": b.reason})).collect::<Vec<_>>(),
            "output": args.output,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "scored {} of {} rows with {}@{} -> {}",
            summary.rows_scored,
            summary.rows_in,
            summary.model,
            summary.version,
            args.output.display()
        )?;
        for b in &summary.bad_rows {
            writeln!(out, "  bad row {}: {}", b.row, b.reason)?;
        }
    }
    Ok(if summary.bad_row_count > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Arguments of `mlops serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// NAME@ALIAS to serve and follow (NAME@VERSION serves a fixed version).
    pub model: String,
    /// The registry directory.
    #[arg(long, value_name = "DIR")]
    pub registry: PathBuf,
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// How often to check whether the alias moved, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub poll_ms: u64,
    /// Require `Authorization: Bearer TOKEN` (also read from MLOPS_SERVE_TOKEN).
    #[arg(long, env = "MLOPS_SERVE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Largest request body in bytes; larger ones get 413 [default: 1048576].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_body_bytes: Option<u64>,
    /// Most rows in one request; more get 400 [default: 10000].
    #[arg(long, value_name = "ROWS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows: Option<u64>,
    /// Time from a request's head to its response, in milliseconds [default: 10000].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: Option<u64>,
    /// Most requests handled at once; more get 503 with Retry-After at once (health checks and
    /// /metrics excepted) [default: 1024].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_in_flight: Option<u64>,
    /// Most open connections; at the limit new ones wait until one closes [default: 4096].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
}

impl ServeArgs {
    /// The server limits: the library's defaults with the flags given applied.
    #[cfg(feature = "http")]
    pub fn limits(&self) -> mlops::serve::http::Limits {
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        let mut limits = mlops::serve::http::Limits::default();
        if let Some(v) = self.max_body_bytes {
            limits.max_body_bytes = size(v);
        }
        if let Some(v) = self.max_rows {
            limits.max_rows = size(v);
        }
        if let Some(v) = self.request_timeout_ms {
            limits.request_timeout = std::time::Duration::from_millis(v);
        }
        if let Some(v) = self.max_in_flight {
            limits.max_in_flight = size(v);
        }
        if let Some(v) = self.max_connections {
            limits.max_connections = size(v);
        }
        limits
    }
}

/// `mlops serve`: the OIP v2 server for a registered model, following its alias.
#[cfg(feature = "http")]
pub fn serve(args: ServeArgs) -> Res<ExitCode> {
    use mlops::serve::Deployment;
    use mlops::serve::http::{Server, ServerState, wait_for_shutdown_signal};
    use std::sync::Arc;
    let registry = Arc::new(open_registry(&args.registry, false)?);
    let (name, which) = parse_ref(&args.model);
    let deployment = Arc::new(Deployment::from_registry(&registry, name, which)?);
    let _follow = match which {
        VersionRef::Alias(alias) => Some(deployment.follow_alias(
            Arc::clone(&registry),
            name,
            alias,
            std::time::Duration::from_millis(args.poll_ms.max(10)),
        )?),
        _ => None,
    };
    let mut state = ServerState::new()
        .with_deployment(Arc::clone(&deployment))
        .with_limits(args.limits());
    if let Some(token) = args.token {
        state = state.with_bearer_token(token);
    }
    let server = Server::start(args.addr.as_str(), Arc::new(state))
        .map_err(|e| format!("--addr {:?}: {e}", args.addr))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "listening on http://{} serving {}@{} (Ctrl-C to stop)",
            server.local_addr(),
            name,
            deployment.current().version()
        )?;
        out.flush()?;
    }
    wait_for_shutdown_signal()?;
    server.shutdown()?;
    Ok(ExitCode::SUCCESS)
}

/// Splits `NAME`, `NAME@3` or `NAME@champion`.
pub fn parse_ref(s: &str) -> (&str, VersionRef<'_>) {
    match s.split_once('@') {
        None => (s, VersionRef::Latest),
        Some((name, r)) => match r.parse::<u64>() {
            Ok(n) => (name, VersionRef::Number(n)),
            Err(_) => (name, VersionRef::Alias(r)),
        },
    }
}

fn alias_target(r: &Registry, model: &str, alias: &str) -> Res<Option<u64>> {
    Ok(r.aliases(model)?
        .iter()
        .find(|(a, _)| a.as_str() == alias)
        .map(|(_, v)| *v))
}

fn open_registry(dir: &Path, create: bool) -> Res<Registry> {
    if !create && !dir.is_dir() {
        return Err(format!("no registry at {}", dir.display()).into());
    }
    Ok(Registry::open(dir)?)
}

fn less_frequent_value(data: &Path, column: &str) -> Res<String> {
    let values = mlops::data::split::label_values_from_stream(
        read_path(data, &ReadOptions::default())?,
        column,
    )?;
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for v in &values {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    counts
        .iter()
        .min_by_key(|(v, n)| (**n, *v))
        .map(|(v, _)| (*v).to_string())
        .ok_or_else(|| format!("{}: the target column {column:?} is empty", data.display()).into())
}

/// `mlops train`.
pub fn train(args: TrainArgs) -> Res<ExitCode> {
    // Names first: a bad name must not leave a trained-but-unaliased version (or a new
    // registry directory) behind.
    let checked = |what: &'static str, text: &str| {
        mlops::core::Name::new(text)
            .map(|_| ())
            .map_err(|source| mlops::registry::Error::InvalidName { what, source })
    };
    checked("model", &args.name)?;
    if let Some(alias) = &args.alias {
        checked("alias", alias)?;
    }
    let schema = TableSchema::infer(
        read_path(&args.data, &ReadOptions::default())?,
        &InferOptions::default(),
    )?;
    if schema.column(&args.target).is_none() {
        return Err(format!(
            "{}: no target column {:?}; columns are {}",
            args.data.display(),
            args.target,
            schema.names().join(", ")
        )
        .into());
    }
    let positive = match args.positive {
        Some(p) => p,
        None => less_frequent_value(&args.data, &args.target)?,
    };
    let pipeline = lifecycle::auto_pipeline(&schema, &args.target);
    let mut config = TrainConfig::new(args.target.clone(), positive, pipeline).seed(args.seed);
    config.metric = SelectionMetric::RocAuc;
    config.code = std::env::current_dir()
        .ok()
        .and_then(|d| CodeVersion::detect(&d));
    let mut estimators = Vec::new();
    if matches!(args.model, ModelChoice::Logistic | ModelChoice::Auto) {
        for l2 in [0.1, 1.0, 10.0] {
            estimators.push(EstimatorSpec::Logistic(LogisticRegression::new().l2(l2)));
        }
    }
    if matches!(args.model, ModelChoice::Tree | ModelChoice::Auto) {
        for depth in [4, 6, 8] {
            estimators.push(EstimatorSpec::Tree(
                DecisionTree::new().max_depth(Some(depth)),
            ));
        }
    }
    let spec = TrainSpec { config, estimators };
    let registry = open_registry(&args.registry, true)?;
    let reg = lifecycle::train_and_register(
        &registry,
        &args.name,
        &spec,
        &args.data,
        "trained with `mlops train`",
    )?;
    if let Some(alias) = &args.alias {
        let current = alias_target(&registry, &args.name, alias)?;
        registry.set_alias(
            &args.name,
            alias,
            reg.version.version,
            current,
            "set by `mlops train --alias`",
        )?;
    }
    let b = &reg.outcome.bundle;
    if args.json {
        print_json(&serde_json::json!({
            "model": args.name,
            "version": reg.version.version,
            "blob": reg.version.blob,
            "run": reg.run,
            "estimator": b.training.estimator,
            "params": b.training.params,
            "selection": b.training.selection,
            "metrics": b.metrics,
            "rows": b.training.rows,
            "converged": b.training.diagnostics.converged,
            "warnings": b.training.diagnostics.warnings,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "registered {}@{} ({}), run {}",
            args.name, reg.version.version, b.training.estimator, reg.run
        )?;
        if let Some(sel) = &b.training.selection {
            writeln!(out, "selection: {}", sel.reason)?;
        }
        writeln!(
            out,
            "rows: train {} / validation {} / test {}",
            b.training.rows.train, b.training.rows.validation, b.training.rows.test
        )?;
        for (k, v) in &b.metrics {
            writeln!(out, "  {k:<20} {v:.4}")?;
        }
        for w in &b.training.diagnostics.warnings {
            writeln!(out, "warning: {w}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `mlops registry ...`.
pub fn registry(cmd: RegistryCommand) -> Res<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        RegistryCommand::List { reg, name } => {
            let r = open_registry(&reg.registry, false)?;
            match name {
                None => {
                    let models = r.models()?;
                    if reg.json {
                        print_json(&models)?;
                    } else {
                        for m in models {
                            let versions = r.versions(m.as_str())?;
                            writeln!(out, "{m}\t{} version(s)", versions.len())?;
                        }
                    }
                }
                Some(name) => {
                    let versions = r.versions(&name)?;
                    if reg.json {
                        print_json(&versions)?;
                    } else {
                        for v in versions {
                            let aliases: Vec<&str> = v.aliases.iter().map(|a| a.as_str()).collect();
                            writeln!(
                                out,
                                "{}@{}\t{}\tauc={}\t{}{}",
                                v.model,
                                v.version,
                                v.blob,
                                v.metadata
                                    .metrics
                                    .get("roc_auc")
                                    .map_or("-".to_string(), |a| format!("{a:.4}")),
                                aliases.join(","),
                                if v.archived { " (archived)" } else { "" }
                            )?;
                        }
                    }
                }
            }
        }
        RegistryCommand::Show { reg, model } => {
            let r = open_registry(&reg.registry, false)?;
            let (name, which) = parse_ref(&model);
            let v = r.version(name, which)?;
            if reg.json {
                print_json(&v)?;
            } else {
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            }
        }
        RegistryCommand::Promote {
            reg,
            model,
            alias,
            reason,
        } => {
            let r = open_registry(&reg.registry, false)?;
            let (name, which) = parse_ref(&model);
            let VersionRef::Number(version) = which else {
                return Err("promote takes NAME@VERSION (a number)".into());
            };
            // Decoding proves the bundle is intact and loadable before it goes live.
            lifecycle::load_bundle(&r, name, which)?;
            let current = alias_target(&r, name, &alias)?;
            r.set_alias(name, &alias, version, current, &reason)?;
            writeln!(out, "{name}@{alias} -> {version} (was {current:?})")?;
        }
        RegistryCommand::Rollback {
            reg,
            name,
            alias,
            reason,
        } => {
            let r = open_registry(&reg.registry, false)?;
            let current = alias_target(&r, &name, &alias)?
                .ok_or_else(|| format!("{name} has no alias {alias:?}"))?;
            let back = r.rollback(&name, &alias, current, &reason)?;
            writeln!(out, "{name}@{alias} -> {back} (was {current})")?;
        }
        RegistryCommand::Verify { reg } => {
            let r = open_registry(&reg.registry, false)?;
            let report = r.verify()?;
            if reg.json {
                print_json(&report)?;
            } else {
                writeln!(out, "{report:#?}")?;
            }
            if !report.is_ok() {
                return Ok(ExitCode::from(1));
            }
        }
        RegistryCommand::Audit { reg } => {
            let r = open_registry(&reg.registry, false)?;
            r.export_jsonl(&mut out)?;
        }
        RegistryCommand::Card { reg, model } => {
            let r = open_registry(&reg.registry, false)?;
            let (name, which) = parse_ref(&model);
            writeln!(out, "{}", r.model_card(name, which)?)?;
        }
        RegistryCommand::Gc { reg, grace_secs } => {
            let r = open_registry(&reg.registry, false)?;
            let report = r.gc(std::time::Duration::from_secs(grace_secs))?;
            if reg.json {
                print_json(&report)?;
            } else {
                writeln!(out, "{report:?}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `mlops reproduce`.
pub fn reproduce(args: ReproduceArgs) -> Res<ExitCode> {
    let r = open_registry(&args.registry, false)?;
    let (name, which) = parse_ref(&args.model);
    let scratch = tempdir_path()?;
    let current = std::env::current_dir()
        .ok()
        .and_then(|d| CodeVersion::detect(&d));
    let result = lifecycle::reproduce(&r, name, which, current, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let result = result?;
    if args.json {
        print_json(&result)?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}@{}", result.model, result.version)?;
        writeln!(out, "  stored bundle    {}", result.stored)?;
        writeln!(out, "  retrained bundle {}", result.retrained)?;
        writeln!(
            out,
            "  {}",
            if result.identical {
                "identical: bit-for-bit reproduced"
            } else {
                "DIFFERENT"
            }
        )?;
    }
    Ok(if result.identical {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn tempdir_path() -> Res<PathBuf> {
    let dir = std::env::temp_dir().join(format!("mlops-reproduce-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `mlops drift`.
pub fn drift(args: DriftArgs) -> Res<ExitCode> {
    let options = DatasetDriftOptions::default();
    let config = DriftConfig {
        dataset_drift_share: args.share,
        ..DriftConfig::default()
    };
    let current = read_path(&args.current, &ReadOptions::default())?;
    let result = match &args.registry {
        Some(dir) => {
            let r = open_registry(dir, false)?;
            let (name, which) = parse_ref(&args.reference);
            let (_, bundle) = lifecycle::load_bundle(&r, name, which)?;
            mlops::monitor::drift_against_profile(
                &bundle.reference_profile,
                current,
                &config,
                &options,
            )?
        }
        None => {
            let reference = read_path(Path::new(&args.reference), &ReadOptions::default())?;
            mlops::monitor::drift_between_streams(reference, current, &config, &options)?
        }
    };
    let report = DriftReport::from_stream_drift(&result, "mlops drift");
    if let Some(path) = &args.json {
        std::fs::write(path, report.to_json()?)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, report.to_html())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    let d = &result.drift;
    writeln!(
        out,
        "{} of {} column(s) drifted ({:.0}%, threshold {:.0}%): dataset {}",
        d.n_drifted,
        d.columns.len(),
        100.0 * d.share_drifted,
        100.0 * d.threshold,
        if d.drifted { "DRIFTED" } else { "stable" }
    )?;
    for c in d.columns.iter().filter(|c| c.drifted()) {
        writeln!(out, "  {}", c.column)?;
    }
    Ok(if d.drifted {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
