//! Soak: an HTTP server on loopback answers a steady stream of requests while the retraining
//! loop joins the served predictions with their outcomes, checks drift, retrains, promotes and
//! the deployment hot-swaps by itself — round after round, for a bounded time. No request may
//! fail, every round must leave the registry verifiable, and resident memory must stay flat.
//!
//! `MLOPS_SOAK_SECS` sets the duration (default 60 s; the test stops by itself);
//! `MLOPS_SOAK_TRACE=1` prints the memory of every round.
#![cfg(all(feature = "http", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlops::core::event::{OutcomeEvent, now_ms};
use mlops::data::arrow::RecordBatch;
use mlops::data::synth::{
    self, ChurnConfig, ChurnGenerator, ConceptDrift, CovariateShift, DriftSpec,
};
use mlops::data::transform::ImputeStrategy;
use mlops::lifecycle;
use mlops::monitor::performance::{Metric, Window};
use mlops::monitor::{DatasetDriftOptions, RetrainPolicy};
use mlops::registry::{Registry, VersionRef};
use mlops::retrain::{LoopConfig, RetrainLoop};
use mlops::serve::events::{ChannelSink, LabelJoiner};
use mlops::serve::http::{Limits, Server, ServerState};
use mlops::serve::{Deployment, records_from_batch};
use mlops::train::{EstimatorSpec, LogisticRegression, TrainConfig, TrainSpec};

/// Default duration of the soak.
const DEFAULT_SECS: u64 = 60;
/// Allowed growth of the live heap from the end of the warm-up to any later round: a fixed
/// slack plus the registry's in-memory index of each version registered meanwhile (its
/// metadata, the training and decision runs and their events: about 20 KiB a round measured).
const HEAP_GROWTH_SLACK_MIB: f64 = 1.0;
/// Per version registered after the warm-up.
const HEAP_GROWTH_PER_VERSION_KIB: f64 = 32.0;
/// Allowed growth of the resident set from the end of the warm-up: freed memory the allocator
/// keeps in its per-thread arenas shows here, not in the live heap (about 0.1 MiB a round
/// measured).
const RSS_GROWTH_BOUND_MIB: f64 = 40.0;
/// HTTP client threads.
const CLIENTS: usize = 2;

fn soak_secs() -> u64 {
    std::env::var("MLOPS_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&s| s > 0)
        .unwrap_or(DEFAULT_SECS)
}

/// Counts the live heap bytes of this test process (allocated minus freed), which, unlike the
/// resident set size, does not depend on how the allocator keeps freed pages.
#[global_allocator]
static HEAP: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// Live heap in MiB.
fn heap_mib() -> f64 {
    HEAP.allocated() as f64 / f64::from(1 << 20)
}

/// Resident set size of this process in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024.0
}

fn world(rows: u64, seed: u64, changed: bool) -> RecordBatch {
    let drift = if changed {
        DriftSpec {
            covariate_shift: vec![CovariateShift {
                column: "monthly_charges".into(),
                shift_std: 1.0,
                scale: 1.0,
            }],
            category_mix: vec![],
            concept: Some(ConceptDrift {
                column: "region".into(),
                value: "north".into(),
                strength: 3.0,
            }),
        }
    } else {
        DriftSpec::default()
    };
    ChurnGenerator::new(ChurnConfig {
        rows,
        seed,
        null_rate: 0.02,
        drift,
    })
    .unwrap()
    .to_batch()
    .unwrap()
}

fn spec(seed: u64) -> TrainSpec {
    TrainSpec {
        config: TrainConfig::new(
            synth::LABEL_COLUMN,
            synth::POSITIVE_LABEL,
            synth::churn_pipeline(ImputeStrategy::Median),
        )
        .seed(seed),
        estimators: vec![EstimatorSpec::Logistic(LogisticRegression::new())],
    }
}

/// What the clients send in one world: one JSON body per row and the row's true label.
struct Traffic {
    batch: RecordBatch,
    bodies: Vec<String>,
    labels: Vec<bool>,
}

fn traffic(batch: RecordBatch) -> Traffic {
    let records = records_from_batch(&batch).unwrap();
    let bodies = records
        .iter()
        .map(|r| serde_json::to_string(&[r]).unwrap())
        .collect();
    let (labels, _) =
        mlops::train::trainer::binary_labels(&batch, synth::LABEL_COLUMN, synth::POSITIVE_LABEL)
            .unwrap();
    Traffic {
        batch,
        bodies,
        labels,
    }
}

/// A minimal keep-alive HTTP/1.1 client (Content-Length responses, which is all the server
/// sends for predictions).
struct Client {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Client {
    fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(Self {
            reader: BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    fn post(&mut self, path: &str, request_id: &str, body: &str) -> io::Result<(u16, Vec<u8>)> {
        let msg = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nx-request-id: {request_id}\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.reader.get_mut().write_all(msg.as_bytes())?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, line.clone()))?;
        let mut len = None;
        loop {
            let mut h = String::new();
            if self.reader.read_line(&mut h)? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in head"));
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.trim().eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse::<usize>().ok();
            }
        }
        let len = len.ok_or_else(|| io::Error::other("no content-length"))?;
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok((status, body))
    }
}

/// What the clients saw.
#[derive(Default)]
struct Seen {
    ok: AtomicU64,
    failures: Mutex<Vec<String>>,
    versions: Mutex<BTreeSet<u64>>,
    max_latency_us: AtomicU64,
}

fn client_loop(
    addr: SocketAddr,
    worlds: Arc<[Traffic; 2]>,
    phase: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    seen: Arc<Seen>,
    me: usize,
) {
    let mut client = Client::connect(addr).unwrap();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let world = phase.load(Ordering::Relaxed);
        let t = &worlds[world];
        let row = (seq as usize * 7 + me * 13) % t.bodies.len();
        let id = format!("{world}-{row}-{me}-{seq}");
        seq += 1;
        let start = Instant::now();
        match client.post("/v1/models/churn/predict", &id, &t.bodies[row]) {
            Ok((200, body)) => {
                let us = start.elapsed().as_micros() as u64;
                seen.max_latency_us.fetch_max(us, Ordering::Relaxed);
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let version = v["predictions"][0]["version"].as_u64().unwrap();
                seen.versions.lock().unwrap().insert(version);
                seen.ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok((status, body)) => seen.failures.lock().unwrap().push(format!(
                "{id}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )),
            Err(e) => {
                seen.failures.lock().unwrap().push(format!("{id}: {e}"));
                client = Client::connect(addr).unwrap();
            }
        }
        // A steady, not saturating, load: the loop's training shares the two cores.
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[test]
fn serve_monitor_retrain_and_hot_swap_in_a_loop_with_flat_memory() {
    let secs = soak_secs();
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::open(dir.path().join("reg")).unwrap());

    // The first champion, trained on the calm world.
    let v1 = spec(1).train(&world(3000, 1, false)).unwrap();
    let reg = lifecycle::register_outcome(&registry, "churn", v1, None, "first").unwrap();
    registry
        .set_alias("churn", "champion", reg.version.version, None, "first")
        .unwrap();

    // Serving: a deployment that follows the alias, an event channel, an HTTP server.
    let deployment = Arc::new(
        Deployment::from_registry(&registry, "churn", VersionRef::Alias("champion")).unwrap(),
    );
    let (sink, events) = ChannelSink::new(50_000);
    deployment.add_sink(Arc::new(sink));
    let follow = deployment
        .follow_alias(
            Arc::clone(&registry),
            "churn",
            "champion",
            Duration::from_millis(50),
        )
        .unwrap();
    let state = Arc::new(
        ServerState::new()
            .with_deployment(Arc::clone(&deployment))
            .with_limits(Limits::default()),
    );
    let server = Server::start_with_workers("127.0.0.1:0", state, 1).unwrap();
    let addr = server.local_addr();

    // Two worlds the traffic alternates between, round by round.
    let worlds: Arc<[Traffic; 2]> = Arc::new([
        traffic(world(1500, 101, false)),
        traffic(world(1500, 102, true)),
    ]);
    let phase = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Seen::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|me| {
            let (w, p, s, seen) = (
                Arc::clone(&worlds),
                Arc::clone(&phase),
                Arc::clone(&stop),
                Arc::clone(&seen),
            );
            std::thread::spawn(move || client_loop(addr, w, p, s, seen, me))
        })
        .collect();

    // The loop: drift against the champion's profile or a falling AUC retrains.
    let mut config = LoopConfig::new("churn");
    config.policy = RetrainPolicy::any([
        RetrainPolicy::drifted_share(0.03),
        RetrainPolicy::metric_below(Metric::RocAuc, 0.70, 200),
    ]);
    config.drift_options = DatasetDriftOptions {
        exclude: vec![synth::ID_COLUMN.into(), synth::LABEL_COLUMN.into()],
        ..DatasetDriftOptions::default()
    };
    config.window = Window::Count(1_000);
    config.max_live_rows = 3_000;
    let mut lp = RetrainLoop::new(&registry, config).unwrap();
    let mut joiner = LabelJoiner::new(10_000);

    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let warmup = Duration::from_secs(secs / 4);
    // (rss, heap, versions) at the end of the warm-up, and (seconds, rss, heap) every round.
    let mut after_warmup: Option<(f64, f64, usize)> = None;
    let mut rss: Vec<(f64, f64, f64)> = Vec::new();
    let mut heap_overshoot: Option<String> = None;
    let (mut rounds, mut retrains, mut promotions, mut joined) = (0u64, 0u64, 0u64, 0u64);
    while Instant::now() < deadline {
        rounds += 1;
        let world_now = (rounds % 2) as usize;
        phase.store(world_now, Ordering::Relaxed);

        // Serve this world for a while; join what was served with its outcome.
        let serve_until = Instant::now() + Duration::from_millis(1_500);
        while Instant::now() < serve_until {
            let Ok(event) = events.recv_timeout(Duration::from_millis(20)) else {
                continue;
            };
            if joiner.add_prediction(&event).is_some() {
                panic!("outcome before prediction for {}", event.request_id);
            }
            let mut parts = event.request_id.split('-');
            let w: usize = parts.next().unwrap().parse().unwrap();
            let row: usize = parts.next().unwrap().parse().unwrap();
            let outcome = OutcomeEvent {
                request_id: event.request_id.clone(),
                time_ms: now_ms(),
                positive: worlds[w].labels[row],
            };
            let j = joiner.add_outcome(&outcome).unwrap();
            if j.version == lp.champion().0 {
                let (p, y) = j.pair();
                lp.observe_outcome(outcome.time_ms, p, y).unwrap();
                joined += 1;
            }
        }
        lp.observe_inputs(worlds[world_now].batch.clone());

        // Decide; retrain on fresh rows of the current world when the policy fires.
        let (decision, run) = lp.decide().unwrap();
        if decision.retrain {
            retrains += 1;
            let seed = 1_000 + rounds * 10;
            let round = lp
                .retrain(
                    &spec(seed),
                    &world(3000, seed + 1, world_now == 1),
                    &world(2000, seed + 2, world_now == 1),
                    &run,
                )
                .unwrap();
            if round.promoted {
                promotions += 1;
                // The deployment picks the new champion up by itself.
                let swapped_by = Instant::now() + Duration::from_secs(10);
                while deployment.current().version() != round.challenger {
                    assert!(
                        Instant::now() < swapped_by,
                        "no hot swap to v{}",
                        round.challenger
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        assert!(registry.verify().unwrap().is_ok(), "round {rounds}");

        let elapsed = start.elapsed();
        let (now_rss, now_heap) = (rss_mib(), heap_mib());
        let versions = registry.versions("churn").unwrap().len();
        rss.push((elapsed.as_secs_f64(), now_rss, now_heap));
        if std::env::var_os("MLOPS_SOAK_TRACE").is_some() {
            eprintln!(
                "round {rounds} t={:.1}s rss={now_rss:.1} MiB heap={now_heap:.2} MiB versions={versions}",
                elapsed.as_secs_f64()
            );
        }
        match after_warmup {
            None if elapsed >= warmup && rounds >= 3 => {
                after_warmup = Some((now_rss, now_heap, versions));
            }
            Some((_, heap0, versions0)) if heap_overshoot.is_none() => {
                let allowed = HEAP_GROWTH_SLACK_MIB
                    + HEAP_GROWTH_PER_VERSION_KIB * (versions - versions0) as f64 / 1024.0;
                if now_heap - heap0 > allowed {
                    heap_overshoot = Some(format!(
                        "round {rounds}: live heap {now_heap:.2} MiB, {:.2} MiB above the \
                         warm-up's {heap0:.2} MiB (allowed {allowed:.2} MiB for {} new versions)",
                        now_heap - heap0,
                        versions - versions0
                    ));
                }
            }
            _ => {}
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    follow.stop();
    server.shutdown().unwrap();

    let ok = seen.ok.load(Ordering::Relaxed);
    let failures = seen.failures.lock().unwrap().clone();
    let versions = seen.versions.lock().unwrap().clone();
    let (baseline, heap0, _) = after_warmup.expect("the soak ended before its warm-up");
    let (end, heap_end) = rss.last().map_or((baseline, heap0), |r| (r.1, r.2));
    let peak_after = rss
        .iter()
        .filter(|r| r.0 >= warmup.as_secs_f64())
        .map(|r| r.1)
        .fold(baseline, f64::max);
    eprintln!(
        "soak {secs}s: {rounds} rounds, {retrains} retrains, {promotions} promotions, \
         {ok} requests ok, {} failed, versions served {versions:?}, {joined} outcomes joined, \
         max latency {} us, rss after warm-up {baseline:.1} MiB, end {end:.1} MiB, \
         peak {peak_after:.1} MiB, live heap {heap0:.2} -> {heap_end:.2} MiB, \
         {} evicted by the joiner",
        failures.len(),
        seen.max_latency_us.load(Ordering::Relaxed),
        joiner.evicted(),
    );
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert!(ok >= 100 * secs / 10, "too few requests served: {ok}");
    assert!(rounds >= 4, "too few rounds: {rounds}");
    assert!(
        promotions >= 2,
        "the world flipped but no promotions: {promotions}"
    );
    assert!(
        versions.len() >= 3,
        "hot swaps not seen by clients: {versions:?}"
    );
    assert!(joined > 0);
    assert!(heap_overshoot.is_none(), "{heap_overshoot:?}");
    assert!(
        peak_after - baseline <= RSS_GROWTH_BOUND_MIB,
        "resident memory grew {:.1} MiB after warm-up (bound {RSS_GROWTH_BOUND_MIB} MiB): {rss:?}",
        peak_after - baseline
    );
    assert!(registry.verify().unwrap().is_ok());
}
